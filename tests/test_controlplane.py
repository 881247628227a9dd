"""Prove the local control plane is real: the API server's own validation,
admission, RBAC, scheduling, rollouts and encryption at rest, each with the
case that must be refused beside the one that must pass."""
from __future__ import annotations

import json
import uuid

import pytest

from provision import config
from provision.constants import CRASHLOOP_TAG, NEVER_READY_TAG
from provision.findings import failed, passed, wait_until
from provision.kube import access, encryption, kubectl
from provision.local import kwok_nodes

pytestmark = [pytest.mark.offline]


@pytest.fixture
def ns(target):
    name = f"cp-{uuid.uuid4().hex[:8]}"
    kubectl.run(target, ["create", "namespace", name])
    # the namespace's default ServiceAccount appears when the controller-manager is really running
    wait_until(f"ServiceAccount {name}/default", lambda: passed("sa") if kubectl.run(
        target, ["-n", name, "get", "sa", "default"], check=False).returncode == 0 else failed("sa"), 30, 0.2)
    yield name
    kubectl.run(target, ["delete", "namespace", name, "--wait=false"], check=False)


def _deployment(name: str, image: str, replicas: int = 2, cpu: str = "100m") -> str:
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": image,
                                                       "resources": {"requests": {"cpu": cpu, "memory": "64Mi"},
                                                                     "limits": {"cpu": cpu, "memory": "64Mi"}}}]}}}})


def test_server_side_dry_run_rejects_invalid_manifest_with_the_api_servers_message(target, ns):
    bad = json.loads(_deployment("web", "nginx:1.27"))
    bad["spec"]["replicas"] = -1
    res = kubectl.run(target, ["-n", ns, "apply", "--dry-run=server", "-f", "-"], input=json.dumps(bad), check=False)
    assert res.returncode != 0
    assert "spec.replicas: Invalid value: -1: must be greater than or equal to 0" in res.stderr
    ok = kubectl.run(target, ["-n", ns, "apply", "--dry-run=server", "-f", "-"], input=_deployment("web", "nginx:1.27"))
    assert "(server dry run)" in ok.stdout
    # a dry run persists nothing
    assert kubectl.run(target, ["-n", ns, "get", "deploy", "web"], check=False).returncode != 0


def test_pod_security_restricted_namespace_rejects_a_privileged_pod(target, ns):
    kubectl.run(target, ["label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted"])
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "securityContext": {"privileged": True}}]}}
    res = kubectl.run(target, ["-n", ns, "apply", "-f", "-"], input=json.dumps(pod), check=False)
    assert res.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in res.stderr and "privileged" in res.stderr
    pod["spec"]["securityContext"] = {"runAsNonRoot": True, "runAsUser": 1000,
                                      "seccompProfile": {"type": "RuntimeDefault"}}
    pod["spec"]["containers"][0]["securityContext"] = {"allowPrivilegeEscalation": False,
                                                       "capabilities": {"drop": ["ALL"]}}
    kubectl.run(target, ["-n", ns, "apply", "-f", "-"], input=json.dumps(pod))


def test_service_account_needs_a_binding_and_gets_only_what_its_role_allows(target, ns):
    kubectl.run(target, ["-n", ns, "create", "secret", "generic", "s", "--from-literal=k=v"])
    kubectl.run(target, ["-n", ns, "create", "serviceaccount", "reader"])
    user = access.service_account_user(ns, "reader")
    assert access.read_secret_as(target, user, ns, "s")[0] == 403
    can = kubectl.run(target, ["-n", ns, "auth", "can-i", "get", "secrets", f"--as={user}"], check=False)
    assert can.stdout.strip() == "no"
    kubectl.run(target, ["-n", ns, "create", "role", "get-secrets", "--verb=get", "--resource=secrets"])
    kubectl.run(target, ["-n", ns, "create", "rolebinding", "reader", "--role=get-secrets",
                         f"--serviceaccount={ns}:reader"])
    f = wait_until("RBAC to allow the reader",
                   lambda: access.secret_readable_only_by(target, ns, "s", [user], []), 10, 0.2)
    assert f.ok
    # the Role grants get, not list or delete
    for verb in ("list", "delete"):
        res = kubectl.run(target, ["-n", ns, "auth", "can-i", verb, "secrets", f"--as={user}"], check=False)
        assert res.stdout.strip() == "no", verb


def _rollout(target, ns, name, timeout):
    return kubectl.run(target, ["-n", ns, "rollout", "status", f"deployment/{name}", f"--timeout={timeout}s"],
                       check=False)


def test_deployment_rolls_out_keeps_history_and_a_never_ready_tag_blocks_the_rollout(target, ns):
    kubectl.run(target, ["-n", ns, "apply", "-f", "-"], input=_deployment("web", "nginx:1.27"))
    assert _rollout(target, ns, "web", 60).returncode == 0
    kubectl.run(target, ["-n", ns, "set", "image", "deployment/web", "app=nginx:1.28"])
    assert _rollout(target, ns, "web", 60).returncode == 0
    history = kubectl.run(target, ["-n", ns, "rollout", "history", "deployment/web"]).stdout
    assert [ln.split()[0] for ln in history.splitlines()[2:] if ln.strip()] == ["1", "2"]
    kubectl.run(target, ["-n", ns, "set", "image", "deployment/web", f"app=nginx:{NEVER_READY_TAG}0123"])
    # kwok answers a pod at once (well under a second), so a few seconds is a rollout that is blocked, not slow
    blocked = _rollout(target, ns, "web", 4)
    assert blocked.returncode != 0 and "timed out" in blocked.stderr
    dep = kubectl.get_json(target, ["-n", ns, "deployment", "web"])
    assert dep["status"].get("availableReplicas") == 2  # the old pods keep serving
    pods = kubectl.get_json(target, ["-n", ns, "pods", "-l", "app=web"])["items"]
    new = [p for p in pods if p["spec"]["containers"][0]["image"].endswith(f"{NEVER_READY_TAG}0123")]
    assert new and all(p["status"].get("phase") == "Running" and not p["status"]["containerStatuses"][0]["ready"]
                       for p in new), [(p["metadata"]["name"], p.get("status", {}).get("phase")) for p in new]


def test_crashloop_tag_crash_loops_with_growing_restarts(target, ns):
    kubectl.run(target, ["-n", ns, "apply", "-f", "-"], input=_deployment("api", f"nginx:{CRASHLOOP_TAG}42", 1))

    def restarts():
        pods = kubectl.get_json(target, ["-n", ns, "pods", "-l", "app=api"])["items"]
        st = [c for p in pods for c in (p.get("status", {}).get("containerStatuses") or [])]
        if not st:
            return failed("crash loop", "restartCount >= 2", "no status yet")
        c = st[0]
        reason = (c.get("state", {}).get("waiting") or {}).get("reason")
        ok = reason == "CrashLoopBackOff" and c["restartCount"] >= 2 and not c["ready"]
        return (passed if ok else failed)("crash loop", "CrashLoopBackOff, restartCount >= 2",
                                          f"{reason}, {c['restartCount']}")

    wait_until("the container to crash-loop", restarts, 30, 0.5)


def test_pod_larger_than_a_node_stays_pending_with_failed_scheduling(target, ns):
    kubectl.run(target, ["-n", ns, "apply", "-f", "-"], input=_deployment("huge", "nginx:1.27", 1, cpu="3"))
    kubectl.run(target, ["-n", ns, "apply", "-f", "-"], input=_deployment("small", "nginx:1.27", 1, cpu="500m"))

    def failed_scheduling():
        ev = kubectl.get_json(target, ["-n", ns, "events", "--field-selector", "reason=FailedScheduling"])["items"]
        msgs = [e["message"] for e in ev]
        return passed("FailedScheduling", actual=msgs[0]) if any("Insufficient cpu" in m for m in msgs) else \
            failed("FailedScheduling", "an Insufficient cpu event", str(msgs))

    f = wait_until("a FailedScheduling event", failed_scheduling, 30, 0.5)
    assert "0/2 nodes are available" in f.actual
    pods = kubectl.get_json(target, ["-n", ns, "pods", "-l", "app=huge"])["items"]
    assert [p["status"]["phase"] for p in pods] == ["Pending"]
    assert _rollout(target, ns, "small", 60).returncode == 0  # what fits is scheduled


def test_secret_is_ciphertext_in_etcd(target, ns):
    kubectl.run(target, ["-n", ns, "create", "secret", "generic", "db",
                         "--from-literal=password=correct-horse-battery"])
    f = encryption.secret_encrypted_at_rest(target, ns, "db", (b"correct-horse-battery",))
    assert f.ok, f.line()
    raw = encryption.raw_etcd_value(target, encryption.etcd_key("secrets", ns, "db"))
    assert raw.startswith(b"k8s:enc:secretbox:v1:key1:")


def test_encryption_check_is_red_on_a_control_plane_without_encryption(unencrypted_control_plane):
    """Seeded fault: a second, short-lived API server (etcd and kube-apiserver alone) with encrypt=False, shared by
    the session's tests that need one (conftest.py: it must stop leaving no process behind)."""
    info, d = unencrypted_control_plane["info"], unencrypted_control_plane["dir"]
    assert (info["nodes"], info["encryption_provider"], info["encryption_key"]) == ([], None, None)
    assert not list(d.glob("controlplane-kwok.pid"))
    t, name = unencrypted_control_plane["target"], f"db-{uuid.uuid4().hex[:8]}"
    kubectl.run(t, ["create", "secret", "generic", name, "--from-literal=password=correct-horse-battery"])
    f = encryption.secret_encrypted_at_rest(t, "default", name, (b"correct-horse-battery",))
    assert not f.ok and "plaintext" in f.actual


def test_nodes_look_like_the_eks_node_group(target):
    cp = target.local["controlplane"]
    specs = kwok_nodes.node_specs(config.Environment.named("dev"))
    assert cp["nodes"] == [n["name"] for n in specs]
    nodes = {n["metadata"]["name"]: n for n in kubectl.get_json(target, ["nodes"])["items"]}
    for spec in specs:
        labels = nodes[spec["name"]]["metadata"]["labels"]
        assert labels["topology.kubernetes.io/zone"] == spec["zone"]
        assert labels["node.kubernetes.io/instance-type"] == spec["instance_type"]
        assert labels["eks.amazonaws.com/nodegroup"] == spec["nodegroup"]
        assert nodes[spec["name"]]["status"]["allocatable"]["cpu"] == kwok_nodes.NODE_ALLOCATABLE["cpu"]
