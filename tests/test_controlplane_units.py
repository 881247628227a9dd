"""Unit tests (no cluster) of the control plane's pure parts and the at-rest predicate."""
from __future__ import annotations

import pytest
import yaml

from provision import config, errors
from provision.constants import CRASHLOOP_TAG, NEVER_READY_TAG
from provision.kube import encryption
from provision.local import controlplane, kubeconfig, kwok_nodes, kwok_stages, pki

pytestmark = [pytest.mark.offline, pytest.mark.unit]

CIPHER = b"k8s:enc:secretbox:v1:key1:" + bytes(range(256))
PLAIN = b"k8s\x00\n\x0c\n\x02v1\x12\x06Secret" + b"hunter2hunter2"


def test_ciphertext_passes():
    f = encryption.judge_at_rest("s", CIPHER, (b"hunter2hunter2",))
    assert f.ok and "secretbox" in f.actual


@pytest.mark.parametrize("raw, word", [
    (PLAIN, "plaintext"),                                   # no EncryptionConfiguration
    (b"{\"kind\":\"Secret\"}", "plaintext"),                # JSON storage
    (None, "no value"),                                     # nothing stored
    (b"k8s:enc:identity:v1:x:" + b"hunter2hunter2", "visible"),  # a "cipher" that leaks
])
def test_seeded_faults_are_red(raw, word):
    f = encryption.judge_at_rest("s", raw, (b"hunter2hunter2",))
    assert not f.ok and word in f.actual


def test_the_header_is_not_mistaken_for_a_leak():
    # a secret whose value is a piece of the envelope header is not visible plaintext
    assert encryption.judge_at_rest("s", CIPHER, (b"k8s:enc:secretbox",)).ok


def test_short_plaintexts_are_not_searched():
    assert encryption.judge_at_rest("s", b"k8s:enc:secretbox:v1:key1:abc", (b"abc",)).ok


def test_other_prefix_is_respected():
    assert not encryption.judge_at_rest("s", CIPHER, prefix=b"k8s:enc:kms:").ok


def test_no_raw_etcd_on_a_target_without_the_local_control_plane():
    t = config.Target(name="x", region="us-east-1", account_id="1")
    with pytest.raises(errors.TargetUnavailable) as exc:
        encryption.raw_etcd_value(t, "/registry/secrets/a/b")
    assert str(exc.value) == encryption.NO_RAW_ETCD


def test_etcd_key():
    assert encryption.etcd_key("secrets", "ns", "n") == "/registry/secrets/ns/n"


def test_nodes_follow_the_dev_node_group():
    env = config.Environment.named("dev")
    specs = kwok_nodes.node_specs(env)
    assert len(specs) == env["node_desired"]
    assert {s["zone"] for s in specs} == set(config.settings()["aws"]["availability_zones"])
    m = kwok_nodes.node_manifest(specs[0])
    labels = m["metadata"]["labels"]
    assert labels["node.kubernetes.io/instance-type"] == env["node_instance_type"]
    assert labels["eks.amazonaws.com/nodegroup"] == env.node_group
    assert m["metadata"]["annotations"][kwok_nodes.KWOK_MANAGED[0]] == kwok_nodes.KWOK_MANAGED[1]
    assert m["status"]["allocatable"]["pods"] == "17"
    assert kwok_nodes.node_manifest(specs[0]) == m  # stable (providerID does not depend on hash seeds)


def test_kwok_stages_cover_node_and_pod_lifecycle():
    stages = kwok_stages.kwok_stages()
    kinds = {(s["spec"]["resourceRef"]["kind"], s["metadata"]["name"]) for s in stages}
    for want in [("Node", "node-initialize"), ("Node", "node-heartbeat-with-lease"), ("Pod", "pod-ready"),
                 ("Pod", "pod-faulty-start"), ("Pod", "pod-crashloop"), ("Pod", "pod-complete"), ("Pod", "pod-delete")]:
        assert want in kinds
    # templates are valid YAML documents once dumped and reloaded, and start at column 0
    for s in yaml.safe_load_all(yaml.safe_dump_all(stages)):
        tpl = s["spec"]["next"].get("statusTemplate")
        if tpl:
            assert not tpl.startswith(" ")
    ready = next(s for s in stages if s["metadata"]["name"] == "pod-ready")
    keys = [e["key"] for e in ready["spec"]["selector"]["matchExpressions"]]
    assert any(NEVER_READY_TAG in k and CRASHLOOP_TAG in k for k in keys)


def test_pki_identities(tmp_path):
    from cryptography import x509
    pki.make_pki(tmp_path, controlplane.SERVICE_CIDR)
    admin = x509.load_pem_x509_certificate((tmp_path / "admin.crt").read_bytes())
    assert "O=system:masters" in admin.subject.rfc4514_string()
    server = x509.load_pem_x509_certificate((tmp_path / "apiserver.crt").read_bytes())
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubernetes.default.svc" in sans.get_values_for_type(x509.DNSName)
    for key in ("ca.key", "apiserver.key", "admin.key", "sa.key"):
        assert (tmp_path / key).stat().st_mode & 0o077 == 0


def test_encryption_config_is_private_and_fresh(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    kubeconfig.write_encryption_config(a)
    kubeconfig.write_encryption_config(b)
    assert a.stat().st_mode & 0o077 == 0
    doc = yaml.safe_load(a.read_text())
    providers = doc["resources"][0]["providers"]
    assert list(providers[0]) == [kubeconfig.ENCRYPTION_PROVIDER] and "identity" in providers[-1]
    assert a.read_text() != b.read_text()  # a key generated at each start


def test_judge_names_the_provider_and_key_that_wrote_when_another_must():
    want = encryption.provider_prefix("aesgcm", "k2")
    assert encryption.judge_at_rest("s", b"k8s:enc:aesgcm:v1:k2:" + bytes(64), prefix=want).ok
    f = encryption.judge_at_rest("s", CIPHER, prefix=want)
    assert not f.ok and "k8s:enc:secretbox:v1:key1" in f.actual and "aesgcm" in f.actual


@pytest.mark.parametrize("provider", ["secretbox", "aescbc", "aesgcm"])
def test_encryption_config_for_each_provider_writes_with_the_first_key(tmp_path, provider):
    keys = [("new-key", b"\x01" * kubeconfig.PROVIDERS[provider][0]), ("old-key", b"\x02" * 32)]
    assert kubeconfig.write_encryption_config(tmp_path / "e.yaml", provider, keys) == "new-key"
    doc = yaml.safe_load((tmp_path / "e.yaml").read_text())
    providers = doc["resources"][0]["providers"]
    assert [next(iter(p)) for p in providers] == [provider, "identity"]
    assert [k["name"] for k in providers[0][provider]["keys"]] == ["new-key", "old-key"]
    assert oct((tmp_path / "e.yaml").stat().st_mode & 0o777) == "0o600"


def test_encryption_config_defaults_and_the_identity_fault(tmp_path):
    assert kubeconfig.write_encryption_config(tmp_path / "d.yaml") == "key1"
    doc = yaml.safe_load((tmp_path / "d.yaml").read_text())
    assert next(iter(doc["resources"][0]["providers"][0])) == kubeconfig.ENCRYPTION_PROVIDER == "secretbox"
    assert kubeconfig.write_encryption_config(tmp_path / "i.yaml", "identity") is None
    assert yaml.safe_load((tmp_path / "i.yaml").read_text())["resources"][0]["providers"] == [{"identity": {}}]
    with pytest.raises(ValueError):
        kubeconfig.write_encryption_config(tmp_path / "x.yaml", "rot13")
