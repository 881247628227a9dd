"""Rehearsal: a local stand-in for the AWS Load Balancer Controller (status only).

It sets `.status.loadBalancer.ingress[].hostname` on exactly the objects the
real controller reconciles (its source, pkg/service/utils.go IsServiceSupported
and the Ingress class loader) and on no others:

- a Service of type LoadBalancer whose `spec.loadBalancerClass` is
  `service.k8s.aws/nlb`; or, without a class, whose annotation
  `service.beta.kubernetes.io/aws-load-balancer-type` is `nlb-ip`, or is
  `external` with `...-nlb-target-type` `ip` or `instance` -> an NLB;
- an Ingress whose `spec.ingressClassName` names an IngressClass with
  controller `ingress.k8s.aws/alb`, or, without a class name, with the
  annotation `kubernetes.io/ingress.class: alb` -> an ALB.

Names as the controller builds them: `k8s-<ns 8>-<name 8>-<sha256(cluster,
uid or group, scheme) 10 hex>` (alphanumerics only; `k8s-<group 17>-<hash>`
for an explicit Ingress group; the `aws-load-balancer-name` annotation wins),
and the DNS names ELB gives them: `<name>-<16 hex>.elb.<region>.amazonaws.com`
for an NLB, `[internal-]<name>-<10 digits>.<region>.elb.amazonaws.com` for an
ALB. A new cluster gives new uids, so new names: the hostname must be read from
the cluster (`service_hostname`), never assumed.

Only while the controller is installed as the real one needs to be: a ready pod of
its image in kube-system whose `--cluster-name` is this cluster's (`controller_missing`;
the manifests install it from the cluster overlay, aws-load-balancer-controller.yaml).
Without it nothing gets a load balancer, as live; what is handled is decided by the
pure predicates of provision/kube/aws_lb.py, which the static checks share.

Not emulated: the AWS side (no ELB in moto is created), finalizers, the
mutating webhook that defaults `loadBalancerClass` (not installed live either:
docs/manifests.md), IngressClassParams.

It also plays the control half of ingress-nginx (`publish_ingress_nginx`): with
`--publish-service`, ingress-nginx copies its LoadBalancer Service's status to
every Ingress of its class, but only while it runs (ready endpoints).
"""
from __future__ import annotations

import hashlib
import re
import sys

from .. import config
from ..kube import aws_lb, client
from ..kube.aws_lb import _annotations, handles_ingress, handles_service
from . import controller_proc

# what the real controller handles: one definition (provision/kube/aws_lb.py), shared with the static checks
LB_TYPE, NLB_TARGET_TYPE, NLB_CLASS = aws_lb.LB_TYPE, aws_lb.NLB_TARGET_TYPE, aws_lb.NLB_CLASS
ALB_CONTROLLER, INGRESS_CLASS_ANNOTATION = aws_lb.ALB_CONTROLLER, aws_lb.INGRESS_CLASS_ANNOTATION
ALB_CLASS_ANNOTATION_VALUE = aws_lb.ALB_CLASS_ANNOTATION_VALUE
NAME = "lb-controller"
WHO = "lb-controller"

SVC_SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme"
SVC_LB_NAME = "service.beta.kubernetes.io/aws-load-balancer-name"
ING_SCHEME = "alb.ingress.kubernetes.io/scheme"
ING_GROUP = "alb.ingress.kubernetes.io/group.name"
DEFAULT_SCHEME = "internal"   # the controller's default since v2.2.0
NGINX_CONTROLLER = "k8s.io/ingress-nginx"
# the Service ingress-nginx's install publishes (its --publish-service), found by the install's labels
NGINX_SERVICE_LABELS = "app.kubernetes.io/name=ingress-nginx,app.kubernetes.io/component=controller"
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


# ---------------------------------------------------------------- names (pure)

def _sha(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
    return h.hexdigest()


def _clean(s: str) -> str:
    return _NOT_ALNUM.sub("", s)


def nlb_name(svc: dict, cluster: str) -> str:
    md = svc["metadata"]
    if _annotations(svc).get(SVC_LB_NAME):
        return _annotations(svc)[SVC_LB_NAME]
    scheme = _annotations(svc).get(SVC_SCHEME, DEFAULT_SCHEME)
    uid = _sha(cluster, md.get("uid", ""), scheme)
    return f"k8s-{_clean(md.get('namespace', 'default'))[:8]}-{_clean(md['name'])[:8]}-{uid[:10]}"


def alb_name(ing: dict, cluster: str) -> str:
    md, ann = ing["metadata"], _annotations(ing)
    scheme = ann.get(ING_SCHEME, DEFAULT_SCHEME)
    group = ann.get(ING_GROUP)
    if group:
        return f"k8s-{_clean(group)[:17]}-{_sha(cluster, group, scheme)[:10]}"
    ns = md.get("namespace", "default")
    uid = _sha(cluster, f"{ns}/{md['name']}", scheme)
    return f"k8s-{_clean(ns)[:8]}-{_clean(md['name'])[:8]}-{uid[:10]}"


def nlb_hostname(svc: dict, cluster: str, region: str) -> str:
    name = nlb_name(svc, cluster)
    return f"{name}-{_sha(name, svc['metadata'].get('uid', ''))[:16]}.elb.{region}.amazonaws.com".lower()


def alb_hostname(ing: dict, cluster: str, region: str) -> str:
    name = alb_name(ing, cluster)
    digits = str(int(_sha(name, ing["metadata"].get("uid", ""))[:12], 16))[:10].rjust(10, "0")
    internal = "" if _annotations(ing).get(ING_SCHEME) == "internet-facing" else "internal-"
    return f"{internal}{name}-{digits}.{region}.elb.amazonaws.com".lower()


# ---------------------------------------------------------------- against the API server

def _hostnames(obj: dict) -> list[str]:
    return [i.get("hostname") for i in ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []]


SERVICE, INGRESS = ("v1", "Service"), ("networking.k8s.io/v1", "Ingress")


def _set_status(kubeconfig, kind: tuple[str, str], obj: dict, ingress: list[dict]) -> None:
    md = obj["metadata"]
    plural, _ = client.resource(kubeconfig, *kind)
    base = "/api/v1" if kind[0] == "v1" else f"/apis/{kind[0]}"
    path = f"{base}/namespaces/{md['namespace']}/{plural}/{md['name']}/status"
    client.request(kubeconfig, "PATCH", path, body={"status": {"loadBalancer": {"ingress": ingress}}},
                   content_type="application/merge-patch+json")


def _sync(kubeconfig, kind: tuple[str, str], obj: dict, host: str | None) -> list[str]:
    want = [host] if host else []
    if _hostnames(obj) == want:
        return []
    _set_status(kubeconfig, kind, obj, [{"hostname": host}] if host else [])
    md = obj["metadata"]
    return [f"{kind[1]} {md['namespace']}/{md['name']}: load balancer {host or '(none)'}"]


def reconcile(kubeconfig, cluster: str | None = None, namespace: str | None = None) -> list[str]:
    """One pass over Services and Ingresses (in `namespace`, or all): the lines say what changed."""
    cluster = cluster or config.Environment.named("dev")["cluster_name"]
    region = config.settings()["aws"]["region"]
    if controller_missing(kubeconfig, cluster):
        return publish_ingress_nginx(kubeconfig, namespace)
    out = []
    for svc in client.list_objects(kubeconfig, *SERVICE, namespace):
        if handles_service(svc):
            out += _sync(kubeconfig, SERVICE, svc, nlb_hostname(svc, cluster, region))
    classes = {c["metadata"]["name"]: c for c in client.list_objects(kubeconfig, "networking.k8s.io/v1",
                                                                      "IngressClass")}
    for ing in client.list_objects(kubeconfig, *INGRESS, namespace):
        if handles_ingress(ing, classes):
            out += _sync(kubeconfig, INGRESS, ing, alb_hostname(ing, cluster, region))
    return out + publish_ingress_nginx(kubeconfig, namespace, classes)


def controller_missing(kubeconfig, cluster: str) -> list[str]:
    """Why the real controller could not act for `cluster` (empty: a ready pod of it runs with that
    --cluster-name). Read through the pods, which its own ClusterRole may list."""
    pods = client.list_objects(kubeconfig, "v1", "Pod", aws_lb.NAMESPACE)
    return aws_lb.running_for([{**p, "kind": "Pod"} for p in pods], cluster)   # a list's items carry no kind


def _ready_endpoints(kubeconfig, svc: dict) -> int:
    md = svc["metadata"]
    slices = client.list_objects(kubeconfig, "discovery.k8s.io/v1", "EndpointSlice", md["namespace"],
                                 label_selector=f"kubernetes.io/service-name={md['name']}")
    return sum(1 for s in slices for e in s.get("endpoints") or []
               if (e.get("conditions") or {}).get("ready") is not False)


def publish_ingress_nginx(kubeconfig, namespace: str | None = None, classes: dict | None = None) -> list[str]:
    """ingress-nginx's --publish-service: its Service's load balancer on every Ingress of its class,
    while its pods are ready; nothing when it is not installed (no IngressClass of its controller)."""
    if classes is None:
        classes = {c["metadata"]["name"]: c for c in client.list_objects(kubeconfig, "networking.k8s.io/v1",
                                                                          "IngressClass")}
    mine = {n for n, c in classes.items() if (c.get("spec") or {}).get("controller") == NGINX_CONTROLLER}
    if not mine:
        return []
    services = [s for s in client.list_objects(kubeconfig, "v1", "Service", label_selector=NGINX_SERVICE_LABELS)
                if _hostnames(s) and _ready_endpoints(kubeconfig, s)]
    host = _hostnames(services[0])[0] if len(services) == 1 else None
    out = []
    for ing in client.list_objects(kubeconfig, *INGRESS, namespace):
        if (ing.get("spec") or {}).get("ingressClassName") in mine:
            out += _sync(kubeconfig, INGRESS, ing, host)
    return out


def service_hostname(where, namespace: str, name: str) -> str | None:
    """The load balancer hostname the cluster shows for a Service (None while it has none)."""
    svc = client.get(where, "v1", "Service", name, namespace)
    hosts = _hostnames(svc or {})
    return hosts[0] if hosts else None


# ---------------------------------------------------------------- stack component (rehearsal only)

start, stop = controller_proc.component(__name__)


if __name__ == "__main__":
    sys.exit(controller_proc.main(sys.modules[__name__]))
