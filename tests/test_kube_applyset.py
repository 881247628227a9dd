"""Pure parts of ownership, prune and drift (provision/kube/applyset.py, prune.py, drift.py)."""
import base64
import hashlib

import pytest

from provision.kube import applyset, drift, prune

NS = "app"
PARENT = applyset.app_parent(NS)


def obj(kind, name, api="v1", ns=NS, labels=None, **body):
    md = {"name": name, **({"namespace": ns} if ns else {}), **({"labels": labels} if labels else {})}
    return {"apiVersion": api, "kind": kind, "metadata": md, **body}


def dep(name="web", replicas=2, image="web:1", **md):
    o = obj("Deployment", name, "apps/v1", spec={"replicas": replicas, "template": {"spec": {"containers": [
        {"name": "c", "image": image, "resources": {"requests": {"cpu": "0.5", "memory": "1Gi"}}}]}}})
    o["metadata"].update(md)
    return o


def test_set_id_is_kubectls():
    # the id kubectl 1.36.3 wrote for `kubectl apply --server-side --applyset=configmap/kc-parent -n kc-try`
    assert applyset.set_id("kc-parent", "kc-try") == "applyset-mQVZd7cpX5VjmPJTIxIE2P5oeLlhPA7ggxdPre9goUg-v1"


def test_set_id_is_the_specs():
    # applyset-<base64url(sha256(<name>.<namespace>.<Kind>.<group>)) without padding>-v1, as kubectl computes it
    raw = hashlib.sha256(b"deploy-applyset.app.ConfigMap.").digest()
    want = "applyset-" + base64.urlsafe_b64encode(raw).decode().rstrip("=") + "-v1"
    assert applyset.set_id("deploy-applyset", "app") == want == PARENT.id
    assert "=" not in want and "+" not in want and "/" not in want


def test_group_kinds_and_labels():
    objs = [obj("Namespace", NS, ns=None), obj("ConfigMap", "a"), dep(),
            obj("NetworkPolicy", "n", "networking.k8s.io/v1")]
    assert applyset.group_kinds(objs) == {"ConfigMap", "Deployment.apps", "NetworkPolicy.networking.k8s.io"}
    labelled = applyset.label(objs, PARENT)
    assert "labels" not in labelled[0]["metadata"]                       # a Namespace is never a member
    assert all(o["metadata"]["labels"][applyset.PART_OF] == PARENT.id for o in labelled[1:])
    assert "labels" not in objs[1]["metadata"]                            # pure: the input is untouched


def test_parent_object_carries_the_spec_annotations():
    p = applyset.parent_object(PARENT, {"Deployment.apps", "ConfigMap"}, {NS, "other"})
    assert p["metadata"]["labels"][applyset.ID_LABEL] == PARENT.id
    ann = p["metadata"]["annotations"]
    assert ann[applyset.GROUP_KINDS] == "ConfigMap,Deployment.apps"
    assert ann[applyset.ADDITIONAL_NAMESPACES] == "other"
    assert ann[applyset.TOOLING].count("/") == 1


def test_prune_plan_never_takes_a_namespace_and_keeps_claims_without_the_flag():
    live = [dep("old"), obj("PersistentVolumeClaim", "data"), obj("Namespace", NS, ns=None), dep("web")]
    p = prune.plan(live, {"Deployment/app/web"}, prune_data=False)
    assert [o["metadata"]["name"] for o in p.delete] == ["old"]
    assert sorted(why.split(":")[0] for _, why in p.kept) == ["kept Namespace/app",
                                                              "kept PersistentVolumeClaim/app/data"]
    assert {o["kind"] for o in prune.plan(live, {"Deployment/app/web"}, prune_data=True).delete} == {
        "Deployment", "PersistentVolumeClaim"}


def test_prune_plan_fault_without_the_data_guard_deletes_the_claim():
    # the seeded fault of harness/faults/deploy.py: an engine that forgot its data kinds
    live = [obj("PersistentVolumeClaim", "data")]
    assert prune.plan(live, set(), prune_data=False, data_kinds=frozenset()).delete == live


def test_declared_diffs_sees_hand_edits_only_in_declared_fields():
    declared = dep()
    live = dep(replicas=2, image="web:1")
    live["spec"]["template"]["spec"]["containers"][0].update({"terminationMessagePath": "/dev/x",
                                                             "resources": {"requests": {"cpu": "500m",
                                                                                        "memory": "1Gi"}}})
    live["spec"]["strategy"] = {"type": "RollingUpdate"}        # defaults and controller fields never count
    assert drift.object_diffs(declared, live) == []
    assert drift.object_diffs(declared, dep(replicas=5)) == ["spec.replicas: repository 2, cluster 5"]
    got = drift.object_diffs(declared, dep(image="web:evil"))
    assert got == ["spec.template.spec.containers[c].image: repository web:1, cluster web:evil"]


def test_compare_finds_added_removed_changed():
    recorded = [dep(), obj("ConfigMap", "cfg", data={"a": "1"})]
    members = {"Deployment/app/web", "ConfigMap/app/cfg", "Secret/app/app-secrets"}
    other = applyset.cluster_parent().id
    live = [dep(replicas=3), obj("Secret", "app-secrets", labels={applyset.PART_OF: PARENT.id}),
            obj("RoleBinding", "by-hand", "rbac.authorization.k8s.io/v1"),
            obj("ConfigMap", "leftover", labels={applyset.PART_OF: PARENT.id}),
            obj("Role", "cluster-set", "rbac.authorization.k8s.io/v1", labels={applyset.PART_OF: other}),
            obj("ConfigMap", "kube-root-ca.crt"), obj("ServiceAccount", "default"),
            obj("ConfigMap", "deploy-history"), obj("ConfigMap", applyset.APP_PARENT),
            {**obj("Pod", "web-1"), "metadata": {"name": "web-1", "namespace": NS, "ownerReferences": [{"uid": "1"}]}}]
    got = {(d.what, d.key) for d in drift.compare(recorded, members, live, PARENT.id, NS)}
    assert got == {("changed", "Deployment/app/web"), ("removed", "ConfigMap/app/cfg"),
                   ("added", "RoleBinding/app/by-hand"), ("added", "ConfigMap/app/leftover")}


def test_compare_clean_when_the_cluster_is_as_deployed():
    recorded = [dep(), obj("ConfigMap", "cfg", data={"a": "1"})]
    live = [dep(), obj("ConfigMap", "cfg", data={"a": "1"})]
    assert drift.compare(recorded, set(), live, PARENT.id, NS) == []


def test_corrections_name_what_a_deploy_takes_back():
    got = drift.corrections([dep(), obj("ConfigMap", "gone")], {"Deployment/app/web": dep(replicas=9)},
                            {"Deployment/app/web", "ConfigMap/app/gone"})
    assert got == ["corrected Deployment/app/web: spec.replicas: repository 2, cluster 9",
                   "recreated ConfigMap/app/gone (deleted by hand)"]


@pytest.mark.parametrize("a,b,same", [("0.5", "500m", True), (1, "1", True), ("1Gi", "1024Mi", True),
                                      ("web:1", "web:2", False), (True, "True", False)])
def test_scalars(a, b, same):
    assert drift._same_scalar(a, b) is same
