"""IRSA annotations in the manifests match the role names of irsa.yaml, per environment."""
import copy

import pytest

from provision.kube import irsa, render

pytestmark = [pytest.mark.offline, pytest.mark.live, pytest.mark.unit]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_committed_overlays_name_their_own_roles(env):
    objects = render.render(env) + render.render_cluster(env)
    assert irsa.check_irsa_annotations(objects, env).ok


def test_a_role_of_the_other_cluster_is_caught():
    objects = copy.deepcopy(render.render("prod"))
    for obj in objects:
        if obj["kind"] == "ServiceAccount" and obj["metadata"]["name"] == "api-backend":
            obj["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] = irsa.irsa_role_arn("dev", "api-backend")
    f = irsa.check_irsa_annotations(objects, "prod")
    assert not f.ok and "cloudtolocalllm-eks-api-backend" in f.evidence[0]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_backup_cronjobs_service_account_names_its_own_role(env):
    f = irsa.check_irsa_annotations(render.render(env), env)
    assert f.ok and "postgres-backup" in f.actual.split(", ")


def test_the_backup_service_account_with_the_other_clusters_role_is_caught():
    objects = copy.deepcopy(render.render("prod"))
    for obj in objects:
        if obj["kind"] == "ServiceAccount" and obj["metadata"]["name"] == "postgres-backup":
            obj["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] = irsa.irsa_role_arn("dev", "postgres-backup")
    f = irsa.check_irsa_annotations(objects, "prod")
    assert not f.ok and any("cloudtolocalllm-eks-postgres-backup" in e for e in f.evidence)
