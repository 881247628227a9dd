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
