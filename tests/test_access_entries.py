"""The Kubernetes rights of the IAM principals, derived from the eks template's access entries and the
EKS access-policy tables (provision/kube/eks_access_policies.yaml); pure, no cluster."""
from __future__ import annotations

import shutil

import pytest
import yaml

from provision import config, errors
from provision.aws.cfn import load
from provision.findings import caught
from provision.kube import access_entries as ae

pytestmark = [pytest.mark.offline, pytest.mark.static]

APP_NS = config.settings()["kubernetes"]["namespace"]
DEPLOYMENT_CREATE = (APP_NS, "apps", "deployments", "create")


def _entries(tmp_path=None, edit=None):
    """The dev environment's access entries; `edit` (old, new) changes a copy of the template first."""
    env = config.Environment.named("dev")
    if edit is not None:
        shutil.copytree(load.path("eks").parent, tmp_path / "cfn")
        p = tmp_path / "cfn" / "eks.yaml"
        text = p.read_text()
        assert text.count(edit[0]) == 1, f"the seeded fault's anchor {edit[0]!r} is not in eks.yaml once"
        p.write_text(text.replace(edit[0], edit[1]))
        env = config.Environment.named("dev", template_dir=tmp_path / "cfn")
    return {e.logical_id: e for e in ae.for_environment(env)}


def test_the_policy_table_names_its_source_and_holds_the_documented_policies():
    doc = yaml.safe_load(ae.POLICIES_FILE.read_text())
    assert doc["source"].startswith("https://docs.aws.amazon.com/eks/")
    table = ae.policy_table()
    assert {"AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSEditPolicy",
            "AmazonEKSViewPolicy"} <= set(table)
    assert {"nonResourceURLs": ["*"], "verbs": ["*"]} in table["AmazonEKSClusterAdminPolicy"]["rules"]
    # what the published tables do NOT grant: edit no RBAC objects, view no secrets
    edit_groups = {g for r in table["AmazonEKSEditPolicy"]["rules"] for g in r["apiGroups"]}
    assert "rbac.authorization.k8s.io" not in edit_groups
    assert not any("secrets" in r["resources"] for r in table["AmazonEKSViewPolicy"]["rules"])


def test_deploy_entry_is_admin_in_the_app_namespace_and_verify_entry_is_view_cluster_wide():
    e = _entries()
    # Admin, not Edit, in the app namespace: the overlay's Roles and RoleBindings; View in kube-public: the identity
    assert e["DeployAccessEntry"].policies == (ae.Association("AmazonEKSAdminPolicy", "namespace", (APP_NS,)),
                                               ae.Association("AmazonEKSViewPolicy", "namespace", ("kube-public",)))
    assert e["VerifyAccessEntry"].policies == (ae.Association("AmazonEKSViewPolicy", "cluster"),)
    account = config.settings()["aws"]["account_id"]
    assert e["DeployAccessEntry"].username.startswith(f"arn:aws:sts::{account}:assumed-role/")
    assert e["DeployAccessEntry"].username.endswith("/{{SessionName}}")


def test_a_namespace_scoped_edit_policy_becomes_a_rolebinding_in_that_namespace_only(tmp_path):
    policy = "        - PolicyArn: !Sub arn:${AWS::Partition}:eks::aws:cluster-access-policy/"
    scope = "\n          AccessScope:\n            Type: namespace\n            Namespaces: "
    committed = (f"{policy}AmazonEKSAdminPolicy{scope}[!Ref AppNamespace]\n"
                 f"{policy}AmazonEKSViewPolicy{scope}[kube-public]\n")
    e = _entries(tmp_path, (committed, f"{policy}AmazonEKSEditPolicy{scope}[!Ref AppNamespace]\n"))
    objs = ae.rbac_objects([e["DeployAccessEntry"]])
    kinds = [(o["kind"], o["metadata"].get("namespace")) for o in objs]
    assert kinds == [("ClusterRole", None), ("RoleBinding", APP_NS)]
    role, binding = objs
    assert role["metadata"]["name"] == "eks:access-policy:AmazonEKSEditPolicy"
    assert role["rules"] == ae.policy_table()["AmazonEKSEditPolicy"]["rules"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"apiGroup": ae.RBAC, "kind": "Group", "name": e["DeployAccessEntry"].group}]
    assert ae.allows(e["DeployAccessEntry"], DEPLOYMENT_CREATE)
    assert not ae.allows(e["DeployAccessEntry"], ("kube-system", "apps", "deployments", "create"))
    assert not ae.allows(e["DeployAccessEntry"], (None, "rbac.authorization.k8s.io", "clusterrolebindings", "create"))


def test_a_cluster_scoped_view_policy_becomes_a_clusterrolebinding_that_reads_but_never_writes():
    v = _entries()["VerifyAccessEntry"]
    objs = ae.rbac_objects([v])
    assert [o["kind"] for o in objs] == ["ClusterRole", "ClusterRoleBinding"]
    assert ae.allows(v, ("kube-system", "apps", "deployments", "list"))
    for verb in ("create", "patch", "update", "delete"):
        assert not ae.allows(v, (APP_NS, "apps", "deployments", verb))


def test_the_caller_arn_maps_to_the_entry_username_with_its_session_name():
    e = _entries()
    role = e["DeployAccessEntry"].principal_arn.split("/")[-1]
    account = config.settings()["aws"]["account_id"]
    user, groups = ae.identity(f"arn:aws:sts::{account}:assumed-role/{role}/GitHubActions", list(e.values()))
    assert user == f"arn:aws:sts::{account}:assumed-role/{role}/GitHubActions"
    # its KubernetesGroups (the deploy lock's Role binds cloudtolocalllm-deployers) and its access-policy group
    assert groups == ["cloudtolocalllm-deployers", e["DeployAccessEntry"].group]
    assert ae.identity(f"arn:aws:sts::{account}:assumed-role/someone-else/x", list(e.values())) is None
    assert ae.identity(f"arn:aws:sts::000000000000:assumed-role/{role}/x", list(e.values())) is None


def test_rights_check_passes_for_what_the_access_entry_grants():
    e = list(_entries().values())
    needs = [DEPLOYMENT_CREATE, (APP_NS, "", "services", "patch"), (APP_NS, "", "secrets", "create")]
    assert ae.check_rights(e, e[0].principal_arn, needs, "deploy")


def test_seeded_fault_an_access_entry_with_too_narrow_a_policy_turns_the_rights_check_red(tmp_path):
    e = list(_entries(tmp_path, ("cluster-access-policy/AmazonEKSAdminPolicy",
                                 "cluster-access-policy/AmazonEKSViewPolicy")).values())
    f = ae.check_rights(e, e[0].principal_arn, [DEPLOYMENT_CREATE], "deploy")
    assert caught(f, "create deployments.apps in " + APP_NS)
    assert f.grade == "static"


def test_seeded_fault_a_scope_on_another_namespace_turns_the_rights_check_red(tmp_path):
    e = list(_entries(tmp_path, ("Namespaces: [!Ref AppNamespace]", "Namespaces: [other-namespace]")).values())
    assert caught(ae.check_rights(e, e[0].principal_arn, [DEPLOYMENT_CREATE], "deploy"), "not granted")


def test_an_unknown_access_policy_is_refused_not_guessed(tmp_path):
    with pytest.raises(errors.BadInput, match="AmazonEKSMadeUpPolicy is not in the EKS access-policy table"):
        cluster_scope = "\n          AccessScope:\n            Type: cluster"
        _entries(tmp_path, (f"cluster-access-policy/AmazonEKSViewPolicy{cluster_scope}",
                            f"cluster-access-policy/AmazonEKSMadeUpPolicy{cluster_scope}"))


def test_apply_needs_get_and_patch_and_a_namespace_is_its_own_scope():
    objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": APP_NS}},
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "n", "namespace": APP_NS}}]
    needs = ae.needs_for_apply(objs, frozenset({"Namespace"}))
    assert needs == [(APP_NS, "", "namespaces", "get"), (APP_NS, "", "namespaces", "patch"),
                     (APP_NS, "networking.k8s.io", "networkpolicies", "get"),
                     (APP_NS, "networking.k8s.io", "networkpolicies", "patch")]
    e = list(_entries().values())
    # the edit policy reads its namespace but may not change it (the table grants get, list, watch)
    assert caught(ae.check_rights(e, e[0].principal_arn, needs, "deploy"), "patch namespaces")
