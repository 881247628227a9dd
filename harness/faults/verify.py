"""Seeded faults for `provision verify`, made in a test's own namespace (never the app's): each turns one
of its checks red, naming what it broke. `seed(fault, target, ns)` returns that name."""
from __future__ import annotations

from provision import errors
from provision.config import Target
from provision.constants import NEVER_READY_TAG
from provision.kube import client

UNKNOWN_FAULT = "unknown seeded fault {fault!r}: expected one of {known}"
RESOURCES = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "10m", "memory": "16Mi"}}


def _deployment(name: str, image: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": image, "resources": RESOURCES}]}}}}


def workload_not_ready(target: Target, ns: str) -> str:
    """A Deployment whose image tag kwok never makes Ready (provision/local/kwok_stages.py)."""
    obj = _deployment("never-ready", f"nginx:{NEVER_READY_TAG}01")
    client.create(target, {**obj, "metadata": {**obj["metadata"], "namespace": ns}})
    return "deployment/never-ready"


def service_without_endpoints(target: Target, ns: str) -> str:
    """A Service whose selector matches no pod: no EndpointSlice endpoint ever."""
    client.create(target, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "orphan", "namespace": ns},
                           "spec": {"selector": {"app": "nothing-wears-this"}, "ports": [{"port": 80}]}})
    return "service/orphan: 0 ready endpoints"


FAULTS = {"workload-not-ready": workload_not_ready, "service-without-endpoints": service_without_endpoints}


def seed(fault: str, target: Target, ns: str) -> str:
    if fault not in FAULTS:
        raise errors.BadInput(UNKNOWN_FAULT.format(fault=fault, known=", ".join(FAULTS)))
    return FAULTS[fault](target, ns)
