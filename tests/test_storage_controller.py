"""The local EBS CSI provisioner stand-in (rehearsal): it binds the claims of the
manifests' StorageClass as the driver would (after the scheduler picked a node,
in that node's zone, with the class's parameters) and no claim of another class."""
from __future__ import annotations

import copy
import json
import uuid

import pytest
import yaml

from provision import config
from provision.config import Target
from provision.findings import failed, passed, wait_until
from provision.kube import client, volumes
from provision.local import storage_controller as sc
from provision.local.controller_rbac import kubeconfig_of

pytestmark = [pytest.mark.offline]


def _manifest_class() -> dict:
    return yaml.safe_load((config.ROOT / "manifests" / "cluster" / "base" / "storageclass.yaml").read_text())


def test_the_manifests_class_is_the_drivers_and_its_parameters_are_valid():
    klass = _manifest_class()
    assert klass["provisioner"] == sc.DRIVER
    assert sc.parameter_errors(klass["parameters"]) == []
    assert sc.parameter_errors({"type": "gp4"}) == [sc.BAD_TYPE.format(value="gp4")]
    assert sc.parameter_errors({"encrypted": "yes"}) == [sc.BAD_BOOL.format(value="yes", key="encrypted")]
    assert sc.parameter_errors({"fsType": "xfs"}) == [sc.BAD_KEY.format(key="fsType")]
    assert sc.parameter_errors({"csi.storage.k8s.io/fstype": "xfs", "tagSpecification_1": "a=b"}) == []


@pytest.mark.parametrize("q,gib", [("10Gi", 10), ("1", 1), ("1.5Gi", 2), ("10G", 10), ("500Mi", 1), ("1Ti", 1024)])
def test_sizes_round_up_to_whole_gib(q, gib):
    assert sc.size_gib(q) == gib


def _claim(klass: str, ann: dict | None = None, volume: str | None = None) -> dict:
    spec = {"storageClassName": klass, "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    if volume:
        spec["volumeName"] = volume
    return {"metadata": {"name": "c", "namespace": "n", "uid": "u", "annotations": ann or {}}, "spec": spec}


def test_which_claims_the_driver_provisions():
    classes = {"gp3": _manifest_class(), "other": {"provisioner": "example.com/other"},
               "now": {**_manifest_class(), "volumeBindingMode": "Immediate"}}
    handed = {sc.PROVISIONER_ANNOTATIONS[0]: sc.DRIVER}
    assert sc.wants_volume(_claim("gp3", {**handed, sc.SELECTED_NODE: "node-a"}), classes)
    assert not sc.wants_volume(_claim("gp3", handed), classes)          # WaitForFirstConsumer: no node yet
    assert sc.wants_volume(_claim("now", handed), classes)
    assert not sc.wants_volume(_claim("now"), classes)                  # not handed over by the PV controller
    assert not sc.wants_volume(_claim("other", {sc.PROVISIONER_ANNOTATIONS[0]: "example.com/other"}), classes)
    assert not sc.wants_volume(_claim("missing", handed), classes)
    assert not sc.wants_volume(_claim("now", handed, volume="pv-1"), classes)


def test_prebind_stands_aside_where_the_target_provisions_volumes():
    objs = [{"kind": "StatefulSet", "metadata": {"name": "db", "namespace": "n"},
             "spec": {"replicas": 1, "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                                               "spec": {"storageClassName": "gp3"}}]}}]
    rehearsal = Target(name="rehearsal", region="us-east-1", account_id="1", cannot={})
    assert volumes.prebind(rehearsal, objs) == []      # no API call: nothing is pre-bound


@pytest.fixture
def storage_ns(target):
    ns = f"sc-{uuid.uuid4().hex[:8]}"
    client.create(target, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    made: list[str] = []
    yield ns, made
    client.delete(target, "v1", "Namespace", ns)
    for name in made:
        client.delete(target, "storage.k8s.io/v1", "StorageClass", name)


def _pvc(name: str, klass: str) -> dict:
    c = _claim(klass)
    c.update(apiVersion="v1", kind="PersistentVolumeClaim")
    c["metadata"] = {"name": name}
    return c


def _phase(target, ns, name) -> str:
    return ((client.get(target, "v1", "PersistentVolumeClaim", name, ns) or {}).get("status") or {}).get("phase", "")


def test_claims_of_the_manifests_class_are_bound_and_others_stay_pending(target, storage_ns):
    """Seeded faults: a claim of another class, and a class with a parameter the driver refuses."""
    ns, made = storage_ns
    tag = ns.split("-")[1]
    gp3, other, broken = (copy.deepcopy(_manifest_class()) for _ in range(3))
    gp3["metadata"]["name"], other["metadata"]["name"], broken["metadata"]["name"] = (
        f"gp3-{tag}", f"other-{tag}", f"broken-{tag}")
    other["provisioner"] = "example.com/other"
    broken["parameters"]["type"] = "gp4"
    for k in (other, broken):
        k["volumeBindingMode"] = "Immediate"
    for k in (gp3, other, broken):
        client.create(target, k)
        made.append(k["metadata"]["name"])
    for name, klass in (("data", gp3), ("elsewhere", other), ("bad-params", broken)):
        client.create(target, {**_pvc(name, klass["metadata"]["name"]), "metadata": {"name": name, "namespace": ns}})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db", "namespace": ns},
           "spec": {"containers": [{"name": "db", "image": "postgres:17", "volumeMounts": [
               {"name": "data", "mountPath": "/var/lib/postgresql/data"}]}],
               "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}}
    client.create(target, pod)
    kubeconfig = kubeconfig_of(target.local["controlplane"], sc.WHO)

    def bound():
        sc.reconcile(kubeconfig, namespace=ns)
        phase = _phase(target, ns, "data")
        return passed("claim data Bound") if phase == "Bound" else failed("claim data", "Bound", phase or "none")

    wait_until("the gp3 claim bound by the provisioner", bound, 60, 0.3)
    claim = client.get(target, "v1", "PersistentVolumeClaim", "data", ns)
    pv = client.get(target, "v1", "PersistentVolume", claim["spec"]["volumeName"])
    node = client.get(target, "v1", "Node", claim["metadata"]["annotations"][sc.SELECTED_NODE])
    zone = node["metadata"]["labels"][sc.ZONE_LABEL]
    assert pv["metadata"]["annotations"][sc.PROVISIONED_BY] == sc.DRIVER
    assert pv["spec"]["csi"]["driver"] == sc.DRIVER and pv["spec"]["csi"]["volumeHandle"].startswith("vol-")
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == gp3["reclaimPolicy"]
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == [zone]
    ebs = json.loads(pv["metadata"]["annotations"][sc.ANNOTATION])
    assert ebs["VolumeType"] == "gp3" and ebs["Encrypted"] is True and ebs["AvailabilityZone"] == zone
    # the pod the claim waited for is scheduled into that zone
    wait_until("pod db scheduled", lambda: passed("db") if (client.get(target, "v1", "Pod", "db", ns) or {}).get(
        "spec", {}).get("nodeName") else failed("pod db", "scheduled", "pending"), 30, 0.3)
    # seeded faults: another class's claim and a refused parameter stay Pending
    sc.reconcile(kubeconfig, namespace=ns)
    assert _phase(target, ns, "elsewhere") == "Pending"
    assert not client.get(target, "v1", "PersistentVolumeClaim", "elsewhere", ns)["spec"].get("volumeName")
    assert _phase(target, ns, "bad-params") == "Pending"
    events = client.list_objects(target, "v1", "Event", ns)
    refused = [e["message"] for e in events if e.get("reason") == "ProvisioningFailed"
               and e["involvedObject"]["name"] == "bad-params"]
    assert refused and sc.BAD_TYPE.format(value="gp4") in refused[0]
    # clean-up: a Retain volume (the manifests' policy) outlives its claim, so it goes by hand
    client.delete(target, "v1", "Pod", "db", ns)
    client.delete(target, "v1", "PersistentVolume", pv["metadata"]["name"])
