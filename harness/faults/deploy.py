"""Seeded faults for the deploy checks, applied behind the engine's back in a
test's own namespace (never the app's): each must turn one check red, naming
what it changed. `seed(fault, target, ns)` returns that name."""
from __future__ import annotations

import contextlib
import secrets

from provision import config, errors
from provision.config import Target
from provision.kube import client

UNKNOWN_FAULT = "unknown seeded fault {fault!r}: expected one of {known}"
OTHER_MANAGER = "kubectl-client-side-apply"   # what a hand-run `kubectl apply` records


def _k() -> dict:
    return config.settings()["kubernetes"]


def owned_object_deleted(target: Target, ns: str) -> str:
    svc = _k()["services"][0]
    assert client.delete(target, "v1", "Service", svc, ns), f"no Service {svc} to delete in {ns}"
    return f"Service/{ns}/{svc}"


def applied_by_another_manager(target: Target, ns: str) -> str:
    """The ConfigMap deleted and applied again, same content, by another field manager (a hand-run apply)."""
    name = _k()["configmap"]
    cm = client.get(target, "v1", "ConfigMap", name, ns)
    client.delete(target, "v1", "ConfigMap", name, ns)
    md = {k: v for k, v in cm["metadata"].items() if k in ("name", "namespace", "labels", "annotations")}
    client.apply(target, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": cm.get("data") or {}},
                 field_manager=OTHER_MANAGER)
    return f"ConfigMap/{ns}/{name}"


def pod_runs_another_image(target: Target, ns: str) -> str:
    """One pod of the first Deployment gets another tag of the same image (a pod's image is mutable)."""
    dep = client.get(target, "apps/v1", "Deployment", _k()["deployments"][0], ns)
    labels = dep["spec"]["selector"]["matchLabels"]
    pods = client.list_objects(target, "v1", "Pod", ns, label_selector=",".join(f"{k}={v}" for k, v in labels.items()))
    name = next(p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp"))
    pod = client.get(target, "v1", "Pod", name, ns)   # a list's items carry no apiVersion/kind
    c = pod["spec"]["containers"][0]
    c["image"] = c["image"].rsplit(":", 1)[0] + ":" + secrets.token_hex(20)
    client.replace(target, pod)
    return f"pod/{pod['metadata']['name']}"


FAULTS = {"owned object deleted": owned_object_deleted,
          "object applied by another field manager": applied_by_another_manager,
          "pod running another image": pod_runs_another_image}


def seed(fault: str, target: Target, ns: str) -> str:
    if fault not in FAULTS:
        raise errors.BadInput(UNKNOWN_FAULT.format(fault=fault, known=", ".join(FAULTS)))
    return FAULTS[fault](target, ns)


def change_configmap_behind_the_engine(target: Target, ns: str) -> None:
    """app-config's data changed by a direct apply (no deploy, so no config checksum moves)."""
    name = _k()["configmap"]
    cm = client.get(target, "v1", "ConfigMap", name, ns)
    data = {**(cm.get("data") or {}), "SEEDED_CHANGE": secrets.token_hex(4)}
    client.apply(target, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns},
                          "data": data}, field_manager=OTHER_MANAGER)


def scale_to_zero_and_back(target: Target, ns: str, sampler, timeout: float = 20.0) -> str:
    """The first Deployment scaled to 0 while `sampler` watches, until it saw the drop; then scaled back."""
    import time

    name = _k()["deployments"][0]
    dep = client.get(target, "apps/v1", "Deployment", name, ns)
    want = dep["spec"].get("replicas", 1)

    def scale(n: int) -> None:
        client.apply(target, {"apiVersion": "apps/v1", "kind": "Deployment",
                              "metadata": {"name": name, "namespace": ns}, "spec": {"replicas": n}},
                     field_manager=OTHER_MANAGER)
    scale(0)
    deadline = time.monotonic() + timeout
    while sampler.low.get(f"deployment/{name}", [want])[0] >= want and time.monotonic() < deadline:
        time.sleep(0.1)
    scale(want)
    return f"deployment/{name}"


# ---- ownership, prune and drift: versions with extra objects, hand edits, a prune without its guards ----

EXTRA, CLAIM, HAND_BINDING = "seeded-extra", "seeded-claim", "hand-made-admin"


def extra_objects(ns: str, what: str) -> list[dict]:
    """What a test version adds to the dev render: `extra` (a ConfigMap and a NetworkPolicy) or `claim` (a PVC)."""
    md = {"name": EXTRA if what == "extra" else CLAIM, "namespace": ns}
    if what == "claim":
        return [{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": md,
                 "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "seeded-none",
                          "resources": {"requests": {"storage": "1Gi"}}}}]
    return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": {"seeded": "yes"}},
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": md,
             "spec": {"podSelector": {"matchLabels": {"app": EXTRA}}, "policyTypes": ["Ingress"]}}]


def version_objects(word: str, ns: str, sha: str) -> list[dict] | None:
    """`<base>-with-extra` / `<base>-with-claim`: the dev render at `sha` plus the extra objects; else None."""
    from harness import kube as testing

    if "-with-" not in word:
        return None
    return [*testing.dev_objects(ns, sha, namespaces=False), *extra_objects(ns, word.split("-with-")[1])]


def _by_hand(target: Target, ns: str, spec: dict) -> str:
    name = _k()["deployments"][0]
    client.apply(target, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
                          "spec": spec}, field_manager=OTHER_MANAGER)
    return f"Deployment/{ns}/{name}"


def replicas_edited_by_hand(target: Target, ns: str) -> str:
    """`kubectl scale`: the first Deployment's replica count changed in the cluster, not in the repository."""
    dep = client.get(target, "apps/v1", "Deployment", _k()["deployments"][0], ns)
    return _by_hand(target, ns, {"replicas": dep["spec"].get("replicas", 1) + 2})


def image_edited_by_hand(target: Target, ns: str) -> str:
    """`kubectl set image`: the first Deployment's first container runs another tag."""
    dep = client.get(target, "apps/v1", "Deployment", _k()["deployments"][0], ns)
    c = dep["spec"]["template"]["spec"]["containers"][0]
    image = c["image"].rsplit(":", 1)[0] + ":" + secrets.token_hex(20)
    return _by_hand(target, ns, {"template": {"spec": {"containers": [{"name": c["name"], "image": image}]}}})


def rolebinding_added_by_hand(target: Target, ns: str) -> str:
    """An extra RoleBinding made with kubectl in the app namespace: admin for someone."""
    client.create(target, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                           "metadata": {"name": HAND_BINDING, "namespace": ns},
                           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
                           "subjects": [{"kind": "User", "name": "someone@example.invalid"}]})
    return f"RoleBinding/{ns}/{HAND_BINDING}"


FAULTS.update({"replica count edited by hand": replicas_edited_by_hand,
               "image edited by hand": image_edited_by_hand,
               "RoleBinding added by hand": rolebinding_added_by_hand})


@contextlib.contextmanager
def without_prune():
    """An engine that never prunes (what it was before ApplySets): removed and failed-deploy objects stay."""
    from provision.kube import prune

    real = prune.finish
    prune.finish = lambda *a, **k: (prune.Done(), 0)
    try:
        yield
    finally:
        prune.finish = real


@contextlib.contextmanager
def without_data_guard():
    """An engine whose prune forgot that claims hold data: it deletes them like any other member."""
    from provision.kube import prune

    real = prune.DATA_KINDS
    prune.DATA_KINDS = frozenset()
    try:
        yield
    finally:
        prune.DATA_KINDS = real
