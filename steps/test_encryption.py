"""Steps of features/encryption.feature."""
from __future__ import annotations

import base64
import itertools
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_bdd import given as bdd_given
from pytest_bdd import parsers, scenarios, then

from provision.findings import combine, failed, passed, wait_until
from provision.kube import access, encryption, kubectl
from provision.local import controlplane, stack

scenarios("encryption.feature")


@pytest.fixture
def scratch_ns(target):
    name = f"enc-{uuid.uuid4().hex[:8]}"
    kubectl.run(target, ["create", "namespace", name])
    yield name
    kubectl.run(target, ["delete", "namespace", name, "--wait=false"], check=False)


@bdd_given("a secret written through the API server", target_fixture="written")
def _written(target, scratch_ns):
    value = b"s3cr3t-" + uuid.uuid4().hex.encode()
    encryption.write_secret(target, scratch_ns, "app-secrets", {"password": value})
    return {"namespace": scratch_ns, "name": "app-secrets", "plaintexts": (value,)}


@then(parsers.parse('its raw value in etcd starts with "{prefix}"'))
def _starts_with(target, written, prefix, check):
    check(encryption.secret_encrypted_at_rest(target, written["namespace"], written["name"],
                                              written["plaintexts"], prefix=prefix.encode()))


@bdd_given("a raw etcd value written without encryption", target_fixture="raw_value")
def _unencrypted(tmp_path):
    # the seeded fault: a second, short-lived control plane without an EncryptionConfiguration
    with controlplane.temporary(tmp_path / "plain", encrypt=False) as info:
        t = stack.target({"components": {"controlplane": info}})
        value = b"s3cr3t-" + uuid.uuid4().hex.encode()
        encryption.write_secret(t, "default", "app-secrets", {"password": value})
        key = encryption.etcd_key("secrets", "default", "app-secrets")
        return {"subject": f"Secret default/app-secrets at rest in etcd ({key}), control plane without encryption",
                "raw": encryption.raw_etcd_value(t, key), "plaintexts": (value,)}


@then(parsers.parse('the encryption check fails naming "{word}"'))
def _fails_naming(raw_value, word, record, check):
    f = record(encryption.judge_at_rest(raw_value["subject"], raw_value["raw"], raw_value["plaintexts"]))
    check(passed("the encryption check turns red on plaintext", f"red, naming {word!r}", f.line())
          if not f.ok and word in f.actual else
          failed("the encryption check turns red on plaintext", f"red, naming {word!r}", f.line()))


# Secret names are unique per example (hypothesis replays); the data is what varies.
_keys = st.from_regex(r"[A-Za-z0-9_.-]{1,40}", fullmatch=True).filter(lambda k: k not in (".", ".."))
_data = st.dictionaries(_keys, st.binary(min_size=0, max_size=256), min_size=1, max_size=5)


@then("for at least 100 generated secrets the raw etcd value is ciphertext "
      "and only authorised service accounts can read it")
def _property(target, scratch_ns, check):
    reader = access.grant_secret_reader(target, scratch_ns, "app-reader")
    intruder = access.create_service_account(target, scratch_ns, "intruder")
    default = access.service_account_user(scratch_ns, "default")
    encryption.write_secret(target, scratch_ns, "rbac-probe", {"k": b"v"})
    wait_until("RBAC to admit the reader", lambda: access.secret_readable_only_by(
        target, scratch_ns, "rbac-probe", [reader], [intruder]), 15, 0.2)
    counter = itertools.count()
    seen: list = []

    @settings(max_examples=100, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(data=_data)
    def example(data):
        name = f"gen-{next(counter)}"
        encryption.write_secret(target, scratch_ns, name, data)
        f = combine(f"generated Secret {scratch_ns}/{name}", [
            encryption.secret_encrypted_at_rest(target, scratch_ns, name, tuple(data.values())),
            access.secret_readable_only_by(target, scratch_ns, name, [reader], [intruder, default],
                                           expected_data={k: base64.b64encode(v).decode() for k, v in data.items()}),
        ])
        seen.append(f)
        assert f.ok, "\n".join([f.line(), *f.evidence])

    try:
        example()
    except AssertionError as exc:
        check(failed("P8 over generated secrets", "every secret ciphertext at rest and readable only by app-reader",
                     f"counterexample after {len(seen)} examples",
                     evidence=[*getattr(exc, "__notes__", []), *str(exc).splitlines()[:20]]))
    check(passed("P8 over generated secrets", f">= 100 secrets ciphertext, read only by {reader}",
                 f"{len(seen)} secrets: all ciphertext; {intruder} and {default} got 403")
          if len(seen) >= 100 else
          failed("P8 over generated secrets", ">= 100 examples", f"{len(seen)} examples"))
