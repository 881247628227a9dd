"""The AWS Load Balancer Controller's install: static checks of the cluster overlay and the irsa role's policy,
each with a seeded fault that turns it red, and the webhook serving certificate made at provisioning time."""
from __future__ import annotations

import base64
import copy
import datetime as dt
import json

import pytest

from provision import config
from provision.aws.cfn import load
from provision.findings import caught
from provision.kube import aws_lb, irsa, render, webhook_cert

pytestmark = [pytest.mark.offline]

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _cluster(env: str) -> list[dict]:
    return copy.deepcopy(render.render_cluster(env))


def _one(objs: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_each_cluster_overlay_installs_the_controller_for_its_own_cluster(env):
    cluster = _cluster(env)
    f = aws_lb.check_controller_installed(cluster, env)
    assert f.ok, f.evidence
    assert f.grade == "static"
    dep = _one(cluster, "Deployment", aws_lb.NAME)
    assert aws_lb.cluster_name_of(dep) == config.environment(env)["cluster_name"]
    assert dep["spec"]["replicas"] == 2
    assert aws_lb.check_services_handled(cluster).ok
    # the SA's role is the irsa stack's role for this env (the generic IRSA check sees it too)
    assert irsa.check_irsa_annotations(cluster, env).ok


def test_a_controller_of_the_wrong_version_cluster_or_role_is_caught():
    cluster = _cluster("prod")
    dep = _one(cluster, "Deployment", aws_lb.NAME)
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = f"{aws_lb.IMAGE_REPO}:latest"
    assert caught(aws_lb.check_controller_installed(cluster, "prod"), f"{aws_lb.IMAGE_REPO}:latest").ok

    cluster = _cluster("prod")   # the dev overlay's --cluster-name in prod
    _one(cluster, "Deployment", aws_lb.NAME)["spec"]["template"]["spec"]["containers"][0]["args"][0] = (
        f"--cluster-name={config.environment('dev')['cluster_name']}")
    assert caught(aws_lb.check_controller_installed(cluster, "prod"),
                  f"--cluster-name={config.environment('dev')['cluster_name']}, not").ok

    cluster = _cluster("prod")   # the SA names the dev cluster's role
    _one(cluster, "ServiceAccount", aws_lb.NAME)["metadata"]["annotations"][aws_lb.ROLE_ANNOTATION] = (
        irsa.irsa_role_arn("dev", aws_lb.NAME))
    assert caught(aws_lb.check_controller_installed(cluster, "prod"), "irsa stack's LoadBalancerControllerRole").ok

    cluster = [o for o in _cluster("dev") if o["kind"] != "Deployment" or o["metadata"]["name"] != aws_lb.NAME]
    assert caught(aws_lb.check_controller_installed(cluster, "dev"), "no Deployment kube-system/").ok

    cluster = [o for o in _cluster("dev") if o["kind"] != "CustomResourceDefinition"]
    assert caught(aws_lb.check_controller_installed(cluster, "dev"), "targetgroupbindings.elbv2.k8s.aws").ok


def test_a_typod_annotation_leaves_the_nlb_service_to_nobody():
    """Seeded fault: without the mutator webhook, a Service the controller does not take as written gets no NLB."""
    cluster = _cluster("dev")
    svc = _one(cluster, "Service", "ingress-nginx-controller")
    ann = svc["metadata"]["annotations"]
    ann[aws_lb.LB_TYPE[:-1]] = ann.pop(aws_lb.LB_TYPE)   # ...aws-load-balancer-typ
    assert not aws_lb.handles_service(svc)
    assert caught(aws_lb.check_services_handled(cluster), "ingress-nginx/ingress-nginx-controller is not reconciled").ok


def _template() -> dict:
    return load.load(load.path("irsa"))


def test_the_role_policy_is_the_vendored_upstream_policy():
    f = aws_lb.check_role_policy(_template()["Resources"])
    assert f.ok, f.evidence
    want = json.loads(aws_lb.POLICY.read_text())
    assert len(want["Statement"]) == 16 and want["Version"] == "2012-10-17"


def test_one_dropped_action_is_caught():
    t = _template()
    stmts = aws_lb.role_policy(t["Resources"])["Statement"]
    dropped = stmts[12]["Action"].pop()          # elasticloadbalancing:ModifyIpPools
    f = aws_lb.check_role_policy(t["Resources"])
    assert caught(f, f"missing action {dropped}").ok
    assert not caught(f, "extra action").ok
    # and a statement dropped whole, or a condition changed
    t = _template()
    del aws_lb.role_policy(t["Resources"])["Statement"][0]
    assert caught(aws_lb.check_role_policy(t["Resources"]), "15 statements").ok
    t = _template()
    aws_lb.role_policy(t["Resources"])["Statement"][0]["Condition"] = {}
    assert caught(aws_lb.check_role_policy(t["Resources"]), "statement 1: Condition").ok


def test_policy_differences_read_a_one_element_list_as_its_element():
    a = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]}
    b = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": ["*"]}}
    assert aws_lb.policy_differences(a, b) == []


# ---------------------------------------------------------------- the webhook serving certificate

def _secret(pems: dict) -> dict:
    return webhook_cert.secret_object(pems)


def test_a_generated_certificate_is_fit_for_the_webhook_service():
    pems = webhook_cert.generate(webhook_cert.dns_names(), NOW)
    assert webhook_cert.problems(_secret(pems), NOW) == []
    assert webhook_cert.dns_names() == ["aws-load-balancer-webhook-service.kube-system.svc",
                                        "aws-load-balancer-webhook-service.kube-system.svc.cluster.local"]


def test_an_unfit_certificate_is_named():
    """Seeded faults: near expiry, other names, another CA, a foreign key, no Secret."""
    pems = webhook_cert.generate(webhook_cert.dns_names(), NOW, days=40)
    assert any("expires in" in p for p in webhook_cert.problems(_secret(pems), NOW + dt.timedelta(days=15)))
    other = webhook_cert.generate(["other.kube-system.svc"], NOW)
    assert any("does not name aws-load-balancer-webhook-service" in p
               for p in webhook_cert.problems(_secret(other), NOW))
    mixed = {**pems, webhook_cert.CA_CRT: other[webhook_cert.CA_CRT]}
    assert "certificate not signed by the Secret's CA" in webhook_cert.problems(_secret(mixed), NOW)
    foreign = {**pems, webhook_cert.TLS_KEY: other[webhook_cert.TLS_KEY]}
    assert "the private key does not match the certificate" in webhook_cert.problems(_secret(foreign), NOW)
    assert webhook_cert.problems(None, NOW) == ["no Secret"]
    broken = _secret(pems)
    broken["data"][webhook_cert.TLS_CRT] = base64.b64encode(b"junk").decode()
    assert "unreadable" in webhook_cert.problems(broken, NOW)[0]


def test_ensure_writes_once_and_keeps_a_fit_secret(target):
    from provision.kube import client

    ns = "lbc-cert-" + base64.b32encode(NOW.isoformat().encode()).decode()[:6].lower()
    client.create(target, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, exist_ok=True)
    try:
        first = webhook_cert.ensure(target, namespace=ns)
        assert first.ok and first.actual == "written"
        stored = client.get(target, "v1", "Secret", webhook_cert.SECRET, ns)
        assert stored["type"] == "kubernetes.io/tls"
        assert webhook_cert.problems(stored, dt.datetime.now(dt.UTC), webhook_cert.dns_names(namespace=ns)) == []
        again = webhook_cert.ensure(target, namespace=ns)
        assert again.actual == "kept (fit)"
        assert client.get(target, "v1", "Secret", webhook_cert.SECRET, ns)["metadata"]["resourceVersion"] == (
            stored["metadata"]["resourceVersion"])
        # no key material in what it reports
        text = " ".join([first.line(), *first.evidence, again.line(), *again.evidence])
        assert "PRIVATE KEY" not in text and stored["data"][webhook_cert.TLS_KEY][:20] not in text
        # a Secret near expiry is replaced
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=webhook_cert.VALID_DAYS - 10)
        assert webhook_cert.ensure(target, now=later, namespace=ns).actual == "written"
    finally:
        client.delete(target, "v1", "Namespace", ns)
