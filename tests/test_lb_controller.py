"""The local AWS Load Balancer Controller stand-in (rehearsal): it sets the load
balancer status of exactly the Services and Ingresses the real controller
reconciles, with ELB-shaped names, and leaves every other object alone."""
from __future__ import annotations

import copy
import re
import uuid

import pytest
import yaml

from provision import config
from provision.findings import failed, passed, wait_until
from provision.kube import client
from provision.local import lb_controller as lbc
from provision.local.controller_rbac import kubeconfig_of

pytestmark = [pytest.mark.offline]

NLB_HOST = re.compile(r"^k8s-[a-z0-9]{1,8}-[a-z0-9]{1,8}-[0-9a-f]{10}-[0-9a-f]{16}\.elb\.[a-z0-9-]+\.amazonaws\.com$")
ALB_HOST = re.compile(r"^(internal-)?k8s-[a-z0-9]{1,8}-[a-z0-9]{1,8}-[0-9a-f]{10}-\d{10}"
                      r"\.[a-z0-9-]+\.elb\.amazonaws\.com$")


def _svc(name="s", ns="n", ann=None, type_="LoadBalancer", klass=None, uid="u1"):
    spec = {"type": type_, "ports": [{"name": "http", "port": 80}]}
    if klass is not None:
        spec["loadBalancerClass"] = klass
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns, "uid": uid,
                                                                "annotations": ann or {}}, "spec": spec}


def _manifest_nlb_service() -> dict:
    path = config.ROOT / "manifests" / "cluster" / "base" / "ingress-nlb.yaml"
    return next(d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == "Service")


@pytest.mark.parametrize("ann,type_,klass,handled", [
    ({lbc.LB_TYPE: "external", lbc.NLB_TARGET_TYPE: "ip"}, "LoadBalancer", None, True),
    ({lbc.LB_TYPE: "external", lbc.NLB_TARGET_TYPE: "instance"}, "LoadBalancer", None, True),
    ({lbc.LB_TYPE: "nlb-ip"}, "LoadBalancer", None, True),
    ({}, "LoadBalancer", lbc.NLB_CLASS, True),
    # the controller needs a target type with "external"; "nlb" is the in-tree controller's
    ({lbc.LB_TYPE: "external"}, "LoadBalancer", None, False),
    ({lbc.LB_TYPE: "nlb"}, "LoadBalancer", None, False),
    ({}, "LoadBalancer", None, False),
    # a class of another controller wins over the annotations
    ({lbc.LB_TYPE: "nlb-ip"}, "LoadBalancer", "example.com/other", False),
    ({lbc.LB_TYPE: "nlb-ip"}, "ClusterIP", None, False),
])
def test_which_services_the_controller_handles(ann, type_, klass, handled):
    assert lbc.handles_service(_svc(ann=ann, type_=type_, klass=klass)) is handled


def test_the_manifests_ingress_nginx_service_is_handled_and_the_apps_ingress_is_not():
    assert lbc.handles_service(_manifest_nlb_service())
    ing = yaml.safe_load((config.ROOT / "manifests" / "base" / "ingress.yaml").read_text())
    nginx = {"nginx": {"spec": {"controller": lbc.NGINX_CONTROLLER}}}
    assert not lbc.handles_ingress(ing, nginx)   # class nginx: ingress-nginx's, not the ALB controller's
    assert lbc.handles_ingress(ing, {"nginx": {"spec": {"controller": lbc.ALB_CONTROLLER}}})
    legacy = {"metadata": {"annotations": {lbc.INGRESS_CLASS_ANNOTATION: "alb"}}, "spec": {}}
    assert lbc.handles_ingress(legacy, {}) and not lbc.handles_ingress({"metadata": {}, "spec": {}}, {})
    # a class name whose IngressClass does not exist is not reconciled
    assert not lbc.handles_ingress({"metadata": {}, "spec": {"ingressClassName": "alb"}}, {})


def test_names_follow_the_controllers_scheme_and_change_with_the_uid():
    svc = _svc(name="ingress-nginx-controller", ns="ingress-nginx", uid="1111")
    name = lbc.nlb_name(svc, "cluster-a")
    assert name.startswith("k8s-ingressn-ingressn-") and len(name) == len("k8s-ingressn-ingressn-") + 10
    host = lbc.nlb_hostname(svc, "cluster-a", "us-east-1")
    assert NLB_HOST.match(host), host
    assert lbc.nlb_hostname(_svc(name="ingress-nginx-controller", ns="ingress-nginx", uid="2222"),
                            "cluster-a", "us-east-1") != host
    assert lbc.nlb_hostname(svc, "cluster-b", "us-east-1") != host
    named = _svc(ann={lbc.SVC_LB_NAME: "my-nlb"})
    assert lbc.nlb_name(named, "c") == "my-nlb"
    ing = {"metadata": {"name": "main-ingress", "namespace": "cloudtolocalllm", "uid": "9"}}
    assert ALB_HOST.match(lbc.alb_hostname(ing, "c", "us-east-1")).group(1) == "internal-"
    ing["metadata"]["annotations"] = {lbc.ING_SCHEME: "internet-facing", lbc.ING_GROUP: "shared-group"}
    host = lbc.alb_hostname(ing, "c", "us-east-1")
    assert host.startswith("k8s-sharedgroup-") and not host.startswith("internal-")


@pytest.fixture
def lb_ns(target):
    ns = f"lbc-{uuid.uuid4().hex[:8]}"
    client.create(target, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    yield ns
    client.delete(target, "v1", "Namespace", ns)


@pytest.fixture
def controller(target):
    """A ready pod of the real controller's image in kube-system, for a cluster of its own (the stand-in acts
    only for the cluster whose --cluster-name a ready controller pod carries); yields that cluster's name."""
    from provision.kube import aws_lb

    cluster = f"lbc-cluster-{uuid.uuid4().hex[:6]}"
    name = f"aws-load-balancer-controller-{cluster[-6:]}"
    client.create(target, {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": aws_lb.NAMESPACE, "labels": {"app.kubernetes.io/name": aws_lb.NAME}},
        "spec": {"containers": [{"name": "c", "image": f"{aws_lb.IMAGE_REPO}:v0.0.0",
                                 "args": [f"--cluster-name={cluster}", "--ingress-class=alb"]}]}})

    def ready():
        why = aws_lb.running_for([{**p, "kind": "Pod"} for p in client.list_objects(
            target, "v1", "Pod", aws_lb.NAMESPACE)], cluster)
        return failed("controller pod", "ready", "; ".join(why)) if why else passed("controller pod ready")

    assert wait_until("the controller pod ready (kwok)", ready, 60, 0.3).ok
    yield cluster
    client.delete(target, "v1", "Pod", name, aws_lb.NAMESPACE)


def _status(target, kind, api, name, ns) -> list[str]:
    obj = client.get(target, api, kind, name, ns) or {}
    return [i.get("hostname") for i in ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []]


def test_the_controller_sets_status_only_on_what_the_real_one_reconciles(target, lb_ns, controller):
    """Seeded fault: an Ingress of another class (the app's, class nginx) gets no load balancer."""
    tag = lb_ns.split("-")[1]
    alb_class, other_class = f"alb-{tag}", f"other-{tag}"
    for name, ctl in ((alb_class, lbc.ALB_CONTROLLER), (other_class, "example.com/other")):
        client.create(target, {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                               "metadata": {"name": name}, "spec": {"controller": ctl}})
    try:
        nlb = copy.deepcopy(_manifest_nlb_service())
        nlb["metadata"]["namespace"] = lb_ns
        ignored = _svc(name="plain-lb", ns=lb_ns)
        other = _svc(name="other-class", ns=lb_ns, ann=nlb["metadata"]["annotations"], klass="example.com/lb")
        for s in (nlb, ignored, other):
            s["metadata"].pop("uid", None)
            client.create(target, s)
        app_ing = yaml.safe_load((config.ROOT / "manifests" / "base" / "ingress.yaml").read_text())
        app_ing["metadata"]["namespace"] = lb_ns
        app_ing["spec"]["ingressClassName"] = other_class
        alb_ing = copy.deepcopy(app_ing)
        alb_ing["metadata"]["name"] = "alb-ingress"
        alb_ing["spec"]["ingressClassName"] = alb_class
        for i in (app_ing, alb_ing):
            client.create(target, i)

        kubeconfig = kubeconfig_of(target.local["controlplane"], lbc.WHO)
        # seeded fault: no controller runs for this cluster (none installed, or one of another cluster) -> no status
        assert lbc.reconcile(kubeconfig, cluster=f"{controller}-other", namespace=lb_ns) == []
        assert _status(target, "Service", "v1", nlb["metadata"]["name"], lb_ns) == []
        assert lbc.controller_missing(kubeconfig, f"{controller}-other")
        changed = lbc.reconcile(kubeconfig, cluster=controller, namespace=lb_ns)
        assert len(changed) == 2, changed
        nlb_host = _status(target, "Service", "v1", nlb["metadata"]["name"], lb_ns)
        assert len(nlb_host) == 1 and NLB_HOST.match(nlb_host[0])
        assert lbc.service_hostname(target, lb_ns, nlb["metadata"]["name"]) == nlb_host[0]
        assert ALB_HOST.match(_status(target, "Ingress", "networking.k8s.io/v1", "alb-ingress", lb_ns)[0])
        assert _status(target, "Service", "v1", "plain-lb", lb_ns) == []
        assert _status(target, "Service", "v1", "other-class", lb_ns) == []
        assert _status(target, "Ingress", "networking.k8s.io/v1", app_ing["metadata"]["name"], lb_ns) == []
        # a second pass changes nothing
        assert lbc.reconcile(kubeconfig, cluster=controller, namespace=lb_ns) == []
        # its identity may write load balancer status, not Secrets
        with pytest.raises(client.ApiError) as denied:
            client.list_objects(kubeconfig, "v1", "Secret", lb_ns)
        assert denied.value.status == 403
    finally:
        for name in (alb_class, other_class):
            client.delete(target, "networking.k8s.io/v1", "IngressClass", name)


def test_as_a_stack_component_it_runs_in_rehearsal_mode_only(target, lb_ns, tmp_path, controller):
    from provision.local import controller_proc, stack

    offline, rehearsal = tmp_path / "offline", tmp_path / "rehearsal"
    for d, mode in ((offline, "offline"), (rehearsal, "rehearsal")):
        d.mkdir()
        stack._write(d, {"mode": mode, "components": {"controlplane": target.local["controlplane"]}})
    assert lbc.start(offline, progress=lambda m: None)["running"] is False
    assert not list(offline.glob("*.pid"))
    svc = copy.deepcopy(_manifest_nlb_service())
    svc["metadata"]["namespace"] = lb_ns
    client.create(target, svc)
    info = controller_proc.start(lbc, rehearsal, lambda m: None, options={"namespace": lb_ns, "cluster": controller})
    try:
        assert info["running"] is True
        f = wait_until("the process to set the NLB status", lambda: passed("status") if _status(
            target, "Service", "v1", svc["metadata"]["name"], lb_ns) else failed("status", "hostname", "none"), 30, 0.2)
        assert f.ok
    finally:
        lbc.stop(rehearsal)
    assert not list(rehearsal.glob("*.pid"))


def _pod(cluster, ready=True, image=None, ns="kube-system"):
    from provision.kube import aws_lb

    return {"kind": "Pod", "metadata": {"name": "p", "namespace": ns},
            "spec": {"containers": [{"name": "c", "image": image or f"{aws_lb.IMAGE_REPO}:v2.17.1",
                                     "args": [f"--cluster-name={cluster}"]}]},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_the_stand_in_acts_only_while_the_real_controller_would_run():
    """Seeded faults: no controller, one not ready, one of another cluster, another image, another namespace."""
    from provision.kube import aws_lb

    assert aws_lb.running_for([_pod("c1")], "c1") == []
    dep = {"kind": "Deployment", "metadata": {"name": "d", "namespace": "kube-system"},
           "spec": {"template": {"spec": {"containers": [{"name": "c", "image": f"{aws_lb.IMAGE_REPO}:v2.17.1",
                                                          "args": ["--cluster-name=c1"]}]}}},
           "status": {"availableReplicas": 2}}
    assert aws_lb.running_for([dep], "c1") == []
    assert "no available replica" in aws_lb.running_for([{**dep, "status": {}}], "c1")[0]
    assert "no controller" in aws_lb.running_for([], "c1")[0]
    assert "not ready" in aws_lb.running_for([_pod("c1", ready=False)], "c1")[0]
    assert "--cluster-name=c2, not c1" in aws_lb.running_for([_pod("c2")], "c1")[0]
    assert aws_lb.running_for([_pod("c1", image="example.com/other:v1")], "c1")
    assert aws_lb.running_for([_pod("c1", ns="default")], "c1")
