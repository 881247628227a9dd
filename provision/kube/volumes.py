"""Offline only: volumes for StatefulSet claims where no storage driver runs.

EKS provisions the postgres claim through the EBS CSI driver (StorageClass
gp3). The local control plane has no driver, so for each claim a deploy will
create we pre-create a PersistentVolume already bound to it (claimRef): the
PV controller binds it, the scheduler places the pod, kwok runs it.
"""
from __future__ import annotations

from kubernetes import client as k8s

from ..config import Target
from . import client
from .client import ApiException


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
    api = client.core(target)
    made = []
    for ns, claim, sc, size in claims(objs):
        pv = f"local-{ns}-{claim}"[:253]
        body = k8s.V1PersistentVolume(
            metadata=k8s.V1ObjectMeta(name=pv, labels={"cloudtolocalllm.online/offline-volume": "true"}),
            spec=k8s.V1PersistentVolumeSpec(
                capacity={"storage": size}, access_modes=["ReadWriteOnce"], storage_class_name=sc,
                persistent_volume_reclaim_policy="Delete", host_path=k8s.V1HostPathVolumeSource(path=f"/tmp/{pv}"),
                claim_ref=k8s.V1ObjectReference(namespace=ns, name=claim)))
        try:
            api.create_persistent_volume(body)
            made.append(pv)
        except ApiException as exc:
            if exc.status != 409:
                raise
    return made


def release(target: Target, namespace: str) -> None:
    api = client.core(target)
    for pv in api.list_persistent_volume(label_selector="cloudtolocalllm.online/offline-volume=true").items:
        if pv.spec.claim_ref and pv.spec.claim_ref.namespace == namespace:
            try:
                api.delete_persistent_volume(pv.metadata.name)
            except ApiException:
                pass
