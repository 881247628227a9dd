"""Seeded faults for the deploy checks, applied behind the engine's back in a
test's own namespace (never the app's): each must turn one check red, naming
what it changed. `seed(fault, target, ns)` returns that name."""
from __future__ import annotations

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
