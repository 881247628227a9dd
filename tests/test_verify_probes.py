"""`provision verify`: each of its checks turned red by a seeded fault, and what a target cannot show reported
as not verifiable with the reason (never passed). Pure judges on saved data first, then the offline target."""
from __future__ import annotations

import json
import os

import pytest

from harness import kube as testing
from harness.faults import verify as faults
from provision import config, findings, verify
from provision.cli import main
from provision.findings import Finding, passed, unverifiable
from provision.kube.checks import combine_detailed
from provision.probes import controlplane, pods, requests

pytestmark = [pytest.mark.offline]

APISERVER = ["kube-apiserver", "--secure-port=6443", "--authorization-mode=Node,RBAC",
             "--enable-admission-plugins=NodeRestriction", "--encryption-provider-config=/x/encryption.yaml"]
SECRETBOX = "resources:\n- resources: [secrets]\n  providers:\n  - secretbox: {keys: [{name: k, secret: c2VjcmV0}]}\n"
TCP = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
       "   0: 00000000:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000    70        0 1 1\n"
       "   1: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000    70        0 2 1\n")
POSTGRES_POD = {"metadata": {"name": "postgres-0", "namespace": "app",
                             "labels": {"app.kubernetes.io/name": "postgres"}},
                "spec": {"containers": [{"name": "postgres", "ports": [{"name": "postgres", "containerPort": 5432}]}]}}


def _policy(ports) -> dict:
    return {"metadata": {"name": "db", "namespace": "app"},
            "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "postgres"}}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": p} for p in ports]}]}}


# ---------------------------------------------------------------- control plane flags (fake process lists)

def test_apiserver_flags_pass_as_the_local_stack_starts_it():
    f = controlplane.judge_apiserver(APISERVER, SECRETBOX)
    assert f.ok and "secretbox" in "\n".join(f.evidence), f.evidence


@pytest.mark.parametrize("args, text, naming", [
    ([a for a in APISERVER if "encryption" not in a], None, "no --encryption-provider-config"),
    (APISERVER, "resources:\n- resources: [secrets]\n  providers:\n  - identity: {}\n", "written with identity"),
    ([a.replace("Node,RBAC", "AlwaysAllow") for a in APISERVER], SECRETBOX, "lacks Node, RBAC"),
    ([a.replace("Node,RBAC", "RBAC") for a in APISERVER], SECRETBOX, "lacks Node"),
    ([a for a in APISERVER if "admission" not in a], SECRETBOX, "lacks NodeRestriction"),
    (APISERVER + ["--disable-admission-plugins=PodSecurity"], SECRETBOX, "disables PodSecurity"),
])
def test_a_missing_apiserver_flag_turns_the_process_check_red(args, text, naming):
    f = controlplane.judge_apiserver(args, text)
    assert findings.caught(f, naming), f.evidence


class _Proc:
    def __init__(self, pid, args):
        self.pid, self.args = pid, args


class _Files:
    def __init__(self, files):
        self.files = files

    def __call__(self, path):
        class F:
            exists = path in self.files
            content_string = self.files.get(path, "")
        return F()


class _LocalHost:
    """A fake process list: what testinfra's local backend would show."""

    def __init__(self, procs, files):
        self.process = type("P", (), {"filter": staticmethod(lambda **kw: procs)})()
        self.file = _Files(files)


def test_the_apiserver_of_the_target_is_found_by_its_port_in_a_process_list(tmp_path):
    kc = tmp_path / "kubeconfig"
    kc.write_text("clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443'}}]\n"
                  "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n")
    t = config.Target(name="t", region="r", account_id="1", kubeconfig=str(kc))
    other = _Proc(1, " ".join(a.replace("6443", "7000") for a in APISERVER))
    bare = _Proc(2, " ".join(a for a in APISERVER if "encryption" not in a))
    f = controlplane.check_apiserver(t, _LocalHost([other, bare], {}))
    assert findings.caught(f, "--encryption-provider-config") and "pid 2" in f.evidence
    assert controlplane.check_apiserver(t, _LocalHost([other], {})).unverifiable
    live = config.Target(name="t", region="r", account_id="1", kubeconfig=str(tmp_path / "eks"))
    (tmp_path / "eks").write_text("clusters: [{name: c, cluster: {server: 'https://ABC.gr7.us-east-1.eks.amazonaws.com'}}]\n")
    f = controlplane.check_apiserver(live, _LocalHost([], {}))
    assert f.unverifiable and "EKS runs it" in f.evidence[0]


def test_the_offline_control_plane_process_has_its_flags(target):
    f = controlplane.check_apiserver(target)
    assert f.ok, (f.line(), f.evidence)


def test_a_control_plane_started_without_encryption_turns_the_process_check_red(unencrypted_control_plane):
    """Seeded fault: a second API server (etcd and kube-apiserver alone) started with encrypt=False (conftest.py)."""
    f = controlplane.check_apiserver(unencrypted_control_plane["target"])
    assert findings.caught(f, "no --encryption-provider-config"), f.evidence


# ---------------------------------------------------------------- inside the pods

class _Result:
    def __init__(self, rc=0, stdout="", stderr=""):
        self.rc, self.stdout, self.stderr = rc, stdout, stderr


class _PodHost:
    """What testinfra's kubectl backend answers for one container (canned)."""

    def __init__(self, uid="10001", mounts="overlay / overlay ro,relatime 0 0\n", env=(), refused=False):
        self.uid, self.mounts, self.env, self.refused = uid, mounts, env, refused

    def run(self, command, *args):
        if self.refused:
            return _Result(1, "", 'Error from server (Forbidden): pods "web-0" is forbidden: cannot create pods/exec')
        if command == "id -u":
            return _Result(0, self.uid + "\n")
        if command == "cat /proc/mounts":
            return _Result(0, self.mounts)
        return _Result(0, "\n".join(k for k in args[1:] if k in self.env))


WEB = {"metadata": {"name": "web-0"}, "spec": {"securityContext": {"runAsUser": 10001}, "containers": []}}


def test_in_pod_checks_pass_on_a_container_as_the_manifest_says():
    out = pods.check_container(_PodHost(env=("JWT_SECRET",)), WEB, {"name": "web"}, ["JWT_SECRET"], "real")
    assert all(f.ok for f in out) and len(out) == 3, [f.line() for f in out]


@pytest.mark.parametrize("host, naming", [
    (_PodHost(uid="0", env=("JWT_SECRET",)), "runs as uid 0"),
    (_PodHost(uid="1000", env=("JWT_SECRET",)), "runs as uid 1000"),
    (_PodHost(mounts="overlay / overlay rw,relatime 0 0\n", env=("JWT_SECRET",)), "/ is mounted rw"),
    (_PodHost(env=()), "JWT_SECRET is not set"),
])
def test_a_seeded_in_pod_fault_turns_its_check_red(host, naming):
    out = pods.check_container(host, WEB, {"name": "web"}, ["JWT_SECRET"], "real")
    assert findings.caught(combine_detailed("in pod", out), naming), [f.line() for f in out]


def test_a_secret_key_missing_is_red_through_testinfras_local_backend_and_no_value_is_shown(monkeypatch):
    """The real testinfra host API (its local backend), environment variables as a container would have them."""
    import testinfra

    monkeypatch.setenv("VERIFY_PRESENT_KEY", "s3cr3t-value-never-shown")
    monkeypatch.delenv("VERIFY_MISSING_KEY", raising=False)
    host = testinfra.get_host("local://")
    out = pods.check_container(host, WEB, {"name": "app"}, ["VERIFY_PRESENT_KEY", "VERIFY_MISSING_KEY"], "real")
    secret = out[-1]
    assert findings.caught(secret, "VERIFY_MISSING_KEY") and "VERIFY_PRESENT_KEY" not in " ".join(secret.evidence)
    assert "s3cr3t" not in json.dumps([f.as_dict() for f in out])
    uid = out[0]
    assert uid.ok == (os.getuid() == 10001)  # this machine's uid is not the manifest's


def test_exec_refused_by_the_cluster_is_unverifiable_not_failed():
    out = pods.one(_PodHost(refused=True), WEB, {"name": "web"}, ["JWT_SECRET"], "real")
    assert [f.status for f in out] == ["unverifiable"] and "Forbidden" in out[0].evidence[0]


def test_exec_forbidden_for_the_identity_is_unverifiable_naming_the_reason(target):
    """The API server's own answer (a SelfSubjectAccessReview) for an identity without pods/exec."""
    ns = config.settings()["kubernetes"]["namespace"]
    f = pods.in_pods(target, ns, True, impersonate=f"system:serviceaccount:{ns}:default")
    assert f.unverifiable and "forbidden" in f.evidence[0] and not f.gaps, (f.line(), f.evidence)
    assert pods.in_pods(target, ns, False).unverifiable  # not asked: nothing attempted


def test_on_kwok_the_in_pod_checks_are_unverifiable_with_kwoks_gap(target):
    f = pods.in_pods(target, config.settings()["kubernetes"]["namespace"], True)
    assert f.unverifiable and f.gaps == (target.gap("kwok-pods"),), (f.line(), f.evidence)


def test_listeners_are_read_from_proc_net_tcp_and_judged_by_the_network_policies():
    socks = pods.listeners(TCP)
    assert socks == [("0.0.0.0", 5432), ("127.0.0.1", 3306)]
    selected, admitted = pods.admitted_ports([_policy([5432])], POSTGRES_POD, [5432, 3306])
    assert pods.judge_listeners("pod/postgres-0", socks, selected, admitted, [5432]).ok  # loopback is not exposed
    wide = socks + [("0.0.0.0", 8080)]
    sel, adm = pods.admitted_ports([_policy([5432])], POSTGRES_POD, [5432, 8080])
    assert findings.caught(pods.judge_listeners("pod/postgres-0", wide, sel, adm, [5432]), "port 8080")
    sel, adm = pods.admitted_ports([], POSTGRES_POD, [5432])
    assert findings.caught(pods.judge_listeners("pod/postgres-0", socks, sel, adm, [5432]), "no NetworkPolicy")
    assert pods.listeners("  sl local\n   0: 00000000000000000000000000000000:1538 x 0A\n") == [("::", 5432)]


def test_root_mount_is_the_last_mount_on_slash():
    mounts = "rootfs / rootfs rw 0 0\noverlay / overlay ro,relatime 0 0\n"
    assert pods.root_mount(mounts) == ("overlay", ["ro", "relatime"])
    assert pods.root_mount("proc /proc proc rw 0 0\n") is None


# ---------------------------------------------------------------- workloads and endpoints (seeded, offline target)

@pytest.fixture
def ns(target, request):
    name = testing.fresh_namespace(target, "ver")
    request.addfinalizer(lambda: testing.drop_namespace(target, name))
    return name


def test_a_workload_not_ready_turns_the_health_check_red(target, ns):
    name = faults.seed("workload-not-ready", target, ns)
    f = findings.wait_until("the unready pod", lambda: findings.caught(
        verify.run(target, namespace=ns)[0], f"{name}: pods not Running and Ready"), 30, 0.5)
    assert f.ok


def test_a_service_without_endpoints_turns_the_health_check_red(target, ns):
    name = faults.seed("service-without-endpoints", target, ns)
    assert findings.caught(verify.run(target, namespace=ns)[0], name)


# ---------------------------------------------------------------- the request path, the exit rule, the command

def test_the_request_path_is_unverifiable_where_no_app_runs(target):
    f = requests.check_request_path(target)
    assert f.unverifiable and target.gap("kwok-pods") in f.gaps and requests.NO_APP in f.evidence


def test_the_request_path_is_judged_on_the_apps_answers():
    t = config.Target(name="t", region="r", account_id="1", domains=("app.example.org", "api.example.org"))
    good = {"/": (200, {"content-type": "text/html"}, b"<!DOCTYPE html><html></html>")}

    def fetch(target, domain, path, r):
        return good.get(path) or (200, {"content-type": "application/json"}, b'{"status": "healthy"}')

    assert requests.check_request_path(t, fetch).ok
    db = requests.legs(t)[-1][2]
    broken = {db: (503, {"content-type": "application/json"}, b'{"status": "error"}')}
    f = requests.check_request_path(t, lambda target, d, p, r: broken.get(p) or fetch(target, d, p, r))
    assert findings.caught(f, "HTTP 503") and findings.caught(f, "database status error")
    f = requests.check_request_path(t, lambda target, d, p, r: (404, {}, b"") if p == "/" else fetch(target, d, p, r))
    assert findings.caught(f, "not an HTML page")


def test_exit_code_passes_only_with_a_pass_and_reasons_for_what_is_not_verifiable():
    ok, why = passed("a"), unverifiable("b", evidence=("the reason",))
    assert verify.exit_code([ok, why]) == 0
    assert verify.exit_code([ok, Finding("failed", "c")]) == 1
    assert verify.exit_code([why]) == 1                       # nothing verified
    assert verify.exit_code([ok, unverifiable("d")]) == 1     # not verifiable without a reason


def test_the_command_prints_json_findings_and_exits_by_the_rule(target, capsys, monkeypatch):
    monkeypatch.setenv("CTL_STACK_DIR", str(target.local["controlplane"]["kubeconfig"]).rsplit("/controlplane/", 1)[0])
    code = main(["verify", "--env", "dev", "--json"])
    doc = json.loads(capsys.readouterr().out)
    subjects = [f["subject"] for f in doc["findings"]]
    assert code == doc["exit"] and doc["env"] == "dev" and len(subjects) >= 8, subjects
    assert any(s.startswith("inside the pods") for s in subjects) and any("kube-apiserver" in s for s in subjects)
    assert main(["verify", "--env", "nowhere"]) == 2
