"""Rehearsal: a local stand-in for the EBS CSI driver's provisioner (external-provisioner + CreateVolume).

It provisions exactly the claims the driver would, as the driver's sidecar
does: a PersistentVolumeClaim, still unbound, whose StorageClass's provisioner
is `ebs.csi.aws.com` and which the PV controller has handed to that provisioner
(annotation `volume.kubernetes.io/storage-provisioner`; with
`WaitForFirstConsumer` it does so only once the scheduler picked a node,
`volume.kubernetes.io/selected-node`). A claim of any other class is left to
its own provisioner: it stays Pending here.

The class's parameters are checked as the driver's CreateVolume checks them
(known keys, volume type, booleans): a bad one is a `ProvisioningFailed` Warning
event on the claim, which stays Pending. Otherwise a PersistentVolume
`pvc-<claim uid>` is created as the sidecar creates it (claimRef with the
claim's uid, `csi` source with a `vol-...` handle, the zone of the selected
node as node affinity, the class's reclaim policy and mount options, the size
rounded up to GiB); the PV controller of kube-controller-manager then binds
it. A Released volume with reclaim policy Delete is deleted. The EBS volume
itself is modelled in the PV's annotation ANNOTATION (no EC2 call).
"""
from __future__ import annotations

import json
import math
import re
import secrets
import sys
import time

from ..kube import client
from . import controller_proc

NAME = "storage-controller"
WHO = "storage-controller"
DRIVER = "ebs.csi.aws.com"
PROVISIONER_ANNOTATIONS = ("volume.kubernetes.io/storage-provisioner", "volume.beta.kubernetes.io/storage-provisioner")
SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
ANNOTATION = "rehearsal.local/ebs-volume"
ZONE_LABEL = "topology.kubernetes.io/zone"
# The driver's CreateVolume parameter keys (case-insensitive) and key prefixes; any other key is refused.
KNOWN_KEYS = {k.lower() for k in (
    "type", "iopsPerGB", "allowAutoIOPSPerGBIncrease", "iops", "throughput", "encrypted", "kmsKeyId",
    "blockExpress", "blockSize", "inodeSize", "bytesPerInode", "numberOfInodes", "ext4BigAlloc",
    "ext4ClusterSize", "outpostArn", "volumeInitializationRate")}
KNOWN_PREFIXES = ("tagspecification", "csi.storage.k8s.io/")
VOLUME_TYPES = ("standard", "io1", "io2", "gp2", "gp3", "sc1", "st1")
BOOLEANS = ("encrypted", "allowautoiopspergbincrease", "blockexpress", "ext4bigalloc")
BAD_KEY = "invalid parameter key {key} for CreateVolume"
BAD_TYPE = "invalid parameter value {value} for type: expected one of " + ", ".join(VOLUME_TYPES)
BAD_BOOL = "invalid parameter value {value} for {key}: expected true or false"
_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_reported: set[tuple[str, str]] = set()


def parameter_errors(params: dict) -> list[str]:
    """What the driver's CreateVolume refuses in a class's parameters (pure; empty: valid)."""
    out = []
    for key, value in (params or {}).items():
        k = key.lower()
        if k not in KNOWN_KEYS and not k.startswith(KNOWN_PREFIXES):
            out.append(BAD_KEY.format(key=key))
        elif k == "type" and value.lower() not in VOLUME_TYPES:
            out.append(BAD_TYPE.format(value=value))
        elif k in BOOLEANS and value.lower() not in ("true", "false"):
            out.append(BAD_BOOL.format(value=value, key=key))
    return out


def size_gib(quantity: str) -> int:
    """A storage request in whole GiB, rounded up as EBS sizes are (pure)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kMGT]i?)?", quantity.strip())
    if not m:
        raise ValueError(f"unreadable storage quantity {quantity!r}")
    return max(1, math.ceil(float(m.group(1)) * _UNITS[m.group(2) or ""] / 2**30))


def wants_volume(claim: dict, classes: dict[str, dict]) -> bool:
    """True when this claim is the driver's to provision now (pure)."""
    md, spec = claim["metadata"], claim.get("spec") or {}
    if md.get("deletionTimestamp") or spec.get("volumeName") or (claim.get("status") or {}).get("phase") == "Bound":
        return False
    sc = classes.get(spec.get("storageClassName") or "")
    if not sc or sc.get("provisioner") != DRIVER:
        return False
    ann = md.get("annotations") or {}
    if not any(ann.get(a) == DRIVER for a in PROVISIONER_ANNOTATIONS):
        return False  # the PV controller has not handed it over (yet)
    return sc.get("volumeBindingMode") != "WaitForFirstConsumer" or bool(ann.get(SELECTED_NODE))


def volume_for(claim: dict, sc: dict, zone: str, handle: str) -> dict:
    """The PersistentVolume the provisioner creates for `claim` (pure)."""
    md, spec = claim["metadata"], claim["spec"]
    gib = size_gib(spec["resources"]["requests"]["storage"])
    params = sc.get("parameters") or {}
    fs = next((v for k, v in params.items() if k.lower() == "csi.storage.k8s.io/fstype"), "ext4")
    ebs = {"VolumeId": handle, "AvailabilityZone": zone, "Size": gib,
           "VolumeType": params.get("type", "gp3"), "Encrypted": params.get("encrypted", "false").lower() == "true"}
    pv = {"apiVersion": "v1", "kind": "PersistentVolume",
          "metadata": {"name": f"pvc-{md['uid']}",
                       "annotations": {PROVISIONED_BY: DRIVER, ANNOTATION: json.dumps(ebs, sort_keys=True)}},
          "spec": {"accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                   "capacity": {"storage": f"{gib}Gi"},
                   "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": md["namespace"],
                                "name": md["name"], "uid": md["uid"], "resourceVersion": md.get("resourceVersion")},
                   "csi": {"driver": DRIVER, "volumeHandle": handle, "fsType": fs},
                   "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                       {"key": ZONE_LABEL, "operator": "In", "values": [zone]}]}]}},
                   "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
                   "storageClassName": sc["metadata"]["name"],
                   "volumeMode": spec.get("volumeMode") or "Filesystem"}}
    if sc.get("mountOptions"):
        pv["spec"]["mountOptions"] = sc["mountOptions"]
    return pv


def _zone(kubeconfig, claim: dict) -> str | None:
    node_name = (claim["metadata"].get("annotations") or {}).get(SELECTED_NODE)
    nodes = [client.get(kubeconfig, "v1", "Node", node_name)] if node_name else client.list_objects(
        kubeconfig, "v1", "Node")
    zones = [((n or {}).get("metadata", {}).get("labels") or {}).get(ZONE_LABEL) for n in nodes]
    return next((z for z in zones if z), None)


def _event(kubeconfig, claim: dict, message: str) -> None:
    md = claim["metadata"]
    if (md["uid"], message) in _reported:
        return
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    client.create(kubeconfig, {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"generateName": f"{md['name']}.", "namespace": md["namespace"]},
        "involvedObject": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": md["namespace"],
                           "name": md["name"], "uid": md["uid"]},
        "reason": "ProvisioningFailed", "type": "Warning", "message": message,
        "source": {"component": f"{DRIVER}_local"}, "firstTimestamp": now, "lastTimestamp": now, "count": 1})
    _reported.add((md["uid"], message))


def reconcile(kubeconfig, namespace: str | None = None) -> list[str]:
    """One pass: provision the claims handed to the driver (in `namespace`, or all); delete Released volumes."""
    classes = {c["metadata"]["name"]: c for c in client.list_objects(kubeconfig, "storage.k8s.io/v1",
                                                                      "StorageClass")}
    out = []
    for claim in client.list_objects(kubeconfig, "v1", "PersistentVolumeClaim", namespace):
        if not wants_volume(claim, classes):
            continue
        sc = classes[claim["spec"]["storageClassName"]]
        errs = parameter_errors(sc.get("parameters") or {})
        zone = _zone(kubeconfig, claim)
        if not errs and not zone:
            errs = [f"no zone: no node with label {ZONE_LABEL}"]
        if errs:
            _event(kubeconfig, claim, "failed to provision volume with StorageClass "
                   f"\"{sc['metadata']['name']}\": rpc error: code = InvalidArgument desc = {'; '.join(errs)}")
            continue
        pv = volume_for(claim, sc, zone, f"vol-{secrets.token_hex(9)[:17]}")
        if client.create(kubeconfig, pv, exist_ok=True) is not None:
            out.append(f"PersistentVolume {pv['metadata']['name']} for claim {client.ref(claim)} ({zone})")
    for pv in client.list_objects(kubeconfig, "v1", "PersistentVolume"):
        ann, spec = pv["metadata"].get("annotations") or {}, pv.get("spec") or {}
        if (ann.get(PROVISIONED_BY) == DRIVER and (pv.get("status") or {}).get("phase") == "Released"
                and spec.get("persistentVolumeReclaimPolicy") == "Delete"
                and namespace in (None, (spec.get("claimRef") or {}).get("namespace"))):
            if client.delete(kubeconfig, "v1", "PersistentVolume", pv["metadata"]["name"]):
                out.append(f"deleted Released PersistentVolume {pv['metadata']['name']}")
    return out


start, stop = controller_proc.component(__name__)


if __name__ == "__main__":
    sys.exit(controller_proc.main(sys.modules[__name__]))
