"""Offline only: volumes for StatefulSet claims where no storage driver runs.

EKS provisions the postgres claim through the EBS CSI driver (StorageClass
gp3). The offline control plane has no driver (its target declares
`cannot["volume_provisioning"]`), so for each claim a deploy will create we
pre-create a PersistentVolume already bound to it (claimRef): the PV
controller binds it, the scheduler places the pod, kwok runs it.

A target that provisions volumes itself (live: the EBS CSI driver; rehearsal:
provision/local/storage_controller.py, its stand-in) gets nothing from
`prebind`: the claims must be bound by the provisioner, as in production.
"""
from __future__ import annotations

from ..config import Target
from ..constants import OFFLINE_VOLUME_LABEL
from . import client


def claims(objs) -> list[tuple[str, str, str, str]]:
    """(namespace, claim name, storage class, size) of every claim the StatefulSets will make (pure)."""
    out = []
    for o in objs:
        if o.get("kind") != "StatefulSet":
            continue
        ns, name = o["metadata"].get("namespace", "default"), o["metadata"]["name"]
        for t in o["spec"].get("volumeClaimTemplates", []) or []:
            size = t["spec"].get("resources", {}).get("requests", {}).get("storage", "1Gi")
            for i in range(o["spec"].get("replicas", 1)):
                out.append((ns, f"{t['metadata']['name']}-{name}-{i}", t["spec"].get("storageClassName", ""), size))
    return out


def prebind(target: Target, objs) -> list[str]:
    """Pre-bound volumes for the claims of `objs`, only on a target that cannot provision them."""
    if "volume_provisioning" not in target.cannot:
        return []
    made = []
    for ns, claim, sc, size in claims(objs):
        pv = f"local-{ns}-{claim}"[:253]
        body = {"apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": pv, "labels": {OFFLINE_VOLUME_LABEL: "true"}},
                "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "storageClassName": sc,
                         "persistentVolumeReclaimPolicy": "Delete", "hostPath": {"path": f"/tmp/{pv}"},
                         "claimRef": {"namespace": ns, "name": claim}}}
        if client.create(target, body, exist_ok=True) is not None:
            made.append(pv)
    return made


def release(target: Target, namespace: str) -> None:
    for pv in client.list_objects(target, "v1", "PersistentVolume", label_selector=f"{OFFLINE_VOLUME_LABEL}=true"):
        if ((pv.get("spec") or {}).get("claimRef") or {}).get("namespace") == namespace:
            try:
                client.delete(target, "v1", "PersistentVolume", pv["metadata"]["name"])
            except client.ApiError:
                pass
