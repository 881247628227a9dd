"""The AWS Load Balancer Controller: which objects it reconciles, and static checks of its install.

Pure predicates (what the real controller handles, from its source: pkg/service/utils.go IsServiceSupported
and the Ingress class loader) used by the rehearsal's stand-in (provision/local/lb_controller.py) and by
the checks below, which read the rendered cluster overlay and the irsa template:

- `check_controller_installed`: the overlay runs the controller, pinned to settings' version (no `latest`),
  with `--cluster-name` = the environment's cluster and its ServiceAccount naming its IRSA role;
- `check_services_handled`: every LoadBalancer Service of the overlay is one the controller takes as written,
  so nothing relies on the Service mutator webhook we do not install (docs/manifests.md);
- `check_role_policy`: the irsa template's LoadBalancerControllerRole policy equals the vendored policy
  document, statement for statement.
"""
from __future__ import annotations

import json
from pathlib import Path

from .. import config, findings
from ..findings import Finding, failed, passed
from .irsa import irsa_role_arn
from .objects import containers, split_image

LB_TYPE = "service.beta.kubernetes.io/aws-load-balancer-type"
NLB_TARGET_TYPE = "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"
NLB_CLASS = "service.k8s.aws/nlb"
ALB_CONTROLLER = "ingress.k8s.aws/alb"
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
ALB_CLASS_ANNOTATION_VALUE = "alb"

NAME = "aws-load-balancer-controller"          # Deployment and ServiceAccount, as the chart names them
NAMESPACE = "kube-system"
IMAGE_REPO = "public.ecr.aws/eks/aws-load-balancer-controller"
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
CRDS = ("ingressclassparams.elbv2.k8s.aws", "targetgroupbindings.elbv2.k8s.aws")
ROLE = "LoadBalancerControllerRole"             # provision/cloudformation/irsa.yaml
POLICY = config.ROOT / "provision" / "cloudformation" / "policies" / "aws-load-balancer-controller-iam-policy.json"


# ---------------------------------------------------------------- what the controller handles (pure)

def _annotations(obj: dict) -> dict:
    return obj.get("metadata", {}).get("annotations") or {}


def handles_service(svc: dict) -> bool:
    """True when the AWS Load Balancer Controller reconciles this Service into an NLB (without any webhook)."""
    if svc.get("metadata", {}).get("deletionTimestamp"):
        return False
    spec = svc.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return False
    if spec.get("loadBalancerClass") is not None:
        return spec["loadBalancerClass"] == NLB_CLASS
    ann = _annotations(svc)
    lb_type = ann.get(LB_TYPE, "")
    return lb_type == "nlb-ip" or (lb_type == "external" and ann.get(NLB_TARGET_TYPE) in ("ip", "instance"))


def handles_ingress(ing: dict, classes: dict[str, dict]) -> bool:
    """True when the controller reconciles this Ingress into an ALB; `classes`: IngressClass name -> object."""
    if ing.get("metadata", {}).get("deletionTimestamp"):
        return False
    name = (ing.get("spec") or {}).get("ingressClassName")
    if name is not None:
        return (classes.get(name, {}).get("spec") or {}).get("controller") == ALB_CONTROLLER
    return _annotations(ing).get(INGRESS_CLASS_ANNOTATION) == ALB_CLASS_ANNOTATION_VALUE


# ---------------------------------------------------------------- the controller's Deployment (pure)

def _flag(dep: dict, flag: str) -> str | None:
    for c in containers(dep):
        for a in (c.get("command") or []) + (c.get("args") or []):
            if str(a).startswith(f"--{flag}="):
                return str(a).split("=", 1)[1]
    return None


def cluster_name_of(dep: dict) -> str | None:
    """The cluster a controller Deployment manages (its --cluster-name)."""
    return _flag(dep, "cluster-name")


def is_controller(obj: dict) -> bool:
    """A Deployment or Pod in kube-system running the controller's image."""
    return (obj.get("metadata", {}).get("namespace") == NAMESPACE
            and any(split_image(c.get("image", ""))[0] == IMAGE_REPO for c in containers(obj, init=False)))


def _ready(obj: dict) -> bool:
    status = obj.get("status") or {}
    if obj.get("kind") == "Pod":
        return not obj["metadata"].get("deletionTimestamp") and any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    return bool(status.get("availableReplicas"))


def running_for(objs: list[dict], cluster: str) -> list[str]:
    """Why no controller serves `cluster` among Deployments or Pods `objs` (empty: one does, ready or with an
    available replica, with --cluster-name = `cluster`), as the real controller needs to make anything."""
    mine = [o for o in objs if is_controller(o)]
    if not mine:
        return [f"no controller ({IMAGE_REPO}) in {NAMESPACE}"]
    why = []
    for o in mine:
        ref, got = f"{o.get('kind')} {NAMESPACE}/{o['metadata']['name']}", cluster_name_of(o)
        if got != cluster:
            why.append(f"{ref}: --cluster-name={got}, not {cluster}")
        elif not _ready(o):
            why.append(f"{ref}: not ready" if o.get("kind") == "Pod" else f"{ref}: no available replica")
        else:
            return []
    return why


# ---------------------------------------------------------------- static checks of the cluster overlay

def _ref(o: dict) -> str:
    md = o.get("metadata", {})
    return f"{o.get('kind')} {md.get('namespace') + '/' if md.get('namespace') else ''}{md.get('name')}"


def _result(subject: str, expected: str, bad: list[str], ok_actual: str, evidence: list[str]) -> Finding:
    if bad:
        return failed(subject, expected, f"{len(bad)} problem(s)", [f"FAIL {b}" for b in bad] + evidence)
    return passed(subject, expected, ok_actual, evidence)


@findings.graded("static")
def check_controller_installed(cluster: list[dict], env: str, settings: dict | None = None) -> Finding:
    """The cluster overlay installs the controller: pinned image, its CRDs, --cluster-name = the env's cluster,
    --ingress-class=alb, its serving-certificate volume, and a ServiceAccount naming its IRSA role."""
    s = settings or config.settings()
    want_cluster = s["environments"][env]["cluster_name"]
    version = f"v{s['versions'].get('aws_load_balancer_controller')}"
    subject = f"the {env} cluster overlay installs the AWS Load Balancer Controller"
    expected = f"{IMAGE_REPO}:{version} in {NAMESPACE}, --cluster-name={want_cluster}, its CRDs, its IRSA role"
    deps = [o for o in cluster if o.get("kind") == "Deployment" and o["metadata"].get("name") == NAME
            and o["metadata"].get("namespace") == NAMESPACE]
    if not deps:
        return failed(subject, expected, "absent", [f"FAIL no Deployment {NAMESPACE}/{NAME} in the cluster overlay"])
    dep, bad, evidence = deps[0], [], []
    images = [c.get("image", "") for c in containers(dep)]
    if not any(i == f"{IMAGE_REPO}:{version}" for i in images):
        bad.append(f"{_ref(dep)} runs {', '.join(images)}, not {IMAGE_REPO}:{version} (settings versions)")
    got = cluster_name_of(dep)
    (bad if got != want_cluster else evidence).append(f"{_ref(dep)}: --cluster-name={got}"
                                                      + ("" if got == want_cluster else f", not {want_cluster}"))
    if _flag(dep, "ingress-class") != ALB_CLASS_ANNOTATION_VALUE:
        bad.append(f"{_ref(dep)}: --ingress-class={_flag(dep, 'ingress-class')}, not alb")
    spec = dep["spec"]["template"]["spec"]
    secrets = {(v.get("secret") or {}).get("secretName") for v in spec.get("volumes") or []}
    if "aws-load-balancer-tls" not in secrets:
        bad.append(f"{_ref(dep)} mounts no serving certificate Secret aws-load-balancer-tls")
    sa_name = spec.get("serviceAccountName")
    sas = [o for o in cluster if o.get("kind") == "ServiceAccount" and o["metadata"].get("name") == sa_name
           and o["metadata"].get("namespace") == NAMESPACE]
    want_role = irsa_role_arn(env, NAME, s)
    role = _annotations(sas[0]).get(ROLE_ANNOTATION) if sas else None
    if sa_name != NAME or role != want_role:
        bad.append(f"ServiceAccount {NAMESPACE}/{sa_name}: role-arn {role}, expected {want_role} "
                   f"(irsa stack's {ROLE})")
    else:
        evidence.append(f"ServiceAccount {NAMESPACE}/{sa_name}: {role}")
    crds = {o["metadata"]["name"] for o in cluster if o.get("kind") == "CustomResourceDefinition"}
    bad += [f"no CustomResourceDefinition {c}" for c in CRDS if c not in crds]
    return _result(subject, expected, bad, f"{IMAGE_REPO}:{version} for {want_cluster}", evidence)


@findings.graded("static")
def check_services_handled(cluster: list[dict]) -> Finding:
    """Every LoadBalancer Service of the cluster overlay is one the controller reconciles as written (its
    explicit annotations or class), so none relies on the Service mutator webhook, which is not installed."""
    services = [o for o in cluster
                if o.get("kind") == "Service" and (o.get("spec") or {}).get("type") == "LoadBalancer"]
    subject = "the LoadBalancer Services of the cluster overlay are handled by the AWS Load Balancer Controller"
    expected = f"{LB_TYPE}: external with an nlb-target-type (or class {NLB_CLASS}) on each"
    if not services:
        return failed(subject, expected, "no LoadBalancer Service", ["FAIL no Service of type LoadBalancer"])
    bad = [f"{_ref(s)} is not reconciled by the controller without its mutator webhook: annotations "
           f"{json.dumps(_annotations(s), sort_keys=True)}" for s in services if not handles_service(s)]
    return _result(subject, expected, bad, ", ".join(_ref(s) for s in services),
                   [f"{_ref(s)}: handled" for s in services if handles_service(s)])


# ---------------------------------------------------------------- the IRSA role's policy (static)

def _statements(doc) -> list:
    st = (doc or {}).get("Statement", [])
    return st if isinstance(st, list) else [st]


def _canon(x):
    """A policy value compared as IAM reads it: a one-element list is its element."""
    if isinstance(x, dict):
        return {k: _canon(v) for k, v in x.items()}
    if isinstance(x, list):
        return _canon(x[0]) if len(x) == 1 else [_canon(v) for v in x]
    return x


def policy_differences(got: dict, want: dict) -> list[str]:
    """Statement-by-statement differences of two policy documents (pure; empty when equal)."""
    g, w = _statements(got), _statements(want)
    out = [] if got.get("Version") == want.get("Version") else [
        f"Version {got.get('Version')} != {want.get('Version')}"]
    if len(g) != len(w):
        out.append(f"{len(g)} statements, the vendored policy has {len(w)}")
    for i, (a, b) in enumerate(zip(g, w, strict=False)):
        a, b = _canon(a), _canon(b)
        if a == b:
            continue
        for k in sorted(set(a) | set(b)):
            if a.get(k) == b.get(k):
                continue
            if k == "Action":
                got_a = set([a.get(k)] if isinstance(a.get(k), str) else a.get(k) or [])
                want_a = set([b.get(k)] if isinstance(b.get(k), str) else b.get(k) or [])
                out += [f"statement {i + 1}: missing action {x}" for x in sorted(want_a - got_a)]
                out += [f"statement {i + 1}: extra action {x}" for x in sorted(got_a - want_a)]
                if got_a == want_a:
                    out.append(f"statement {i + 1}: actions in another order")
            else:
                out.append(f"statement {i + 1}: {k} {json.dumps(a.get(k))} != {json.dumps(b.get(k))}")
    return out


def role_policy(resources: dict, role: str = ROLE) -> dict | None:
    """The (single) inline policy document of `role` among a template's resources (loaded or resolved)."""
    props = ((resources or {}).get(role) or {}).get("Properties") or {}
    docs = [p.get("PolicyDocument") for p in props.get("Policies") or []]
    return docs[0] if len(docs) == 1 else None


@findings.graded("static")
def check_role_policy(resources: dict, vendored: Path = POLICY) -> Finding:
    """The irsa template's LoadBalancerControllerRole carries exactly the vendored upstream policy
    (`resources`: the template's Resources, as loaded or as cfn.resolve.Resolver.resources() gives them)."""
    subject = f"irsa {ROLE} policy equals the vendored upstream policy"
    want = json.loads(Path(vendored).read_text())
    got = role_policy(resources)
    expected = f"{len(_statements(want))} statements of {Path(vendored).name}"
    if got is None:
        return failed(subject, expected, "no single inline policy", [f"FAIL {ROLE} has no single inline policy"])
    diffs = policy_differences(got, want)
    where = Path(vendored).relative_to(config.ROOT) if Path(vendored).is_relative_to(config.ROOT) else vendored
    return _result(subject, expected, diffs, f"{len(_statements(got))} equal statements", [f"vendored: {where}"])
