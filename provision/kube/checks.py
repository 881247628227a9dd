"""Static checks of rendered manifests: pure functions of the objects, one
Finding each (grade "static"), unit-tested in tests/test_manifest_predicates.py.
The schema check is kube/schema.py, the secret scan kube/secret_scan.py."""
from __future__ import annotations

import dataclasses
import re
from decimal import Decimal

from .. import config, findings
from ..findings import Finding, combine, failed, passed
from .objects import (
    containers,
    image_is_pinned,
    image_repository,
    pod_labels,
    pod_spec,
    quantity,
    ref,
    same_namespace,
    selector_matches,
    workloads,
)
from .schema import check_schema

# API groups of Kubernetes itself; anything else is a CRD kind (R4.1: AWS-only
# kinds such as TargetGroupBinding, ENIConfig or SecurityGroupPolicy).
STANDARD_GROUPS = {
    "", "apps", "batch", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io",
    "storage.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "discovery.k8s.io", "node.k8s.io",
    "admissionregistration.k8s.io", "apiextensions.k8s.io", "certificates.k8s.io",
}
STATIC = findings.graded("static")


def missing_resources(container: dict) -> list[str]:
    """Which of requests/limits x cpu/memory the container lacks."""
    res = container.get("resources") or {}
    return [f"{kind}.{r}" for kind in ("requests", "limits") for r in ("cpu", "memory")
            if r not in (res.get(kind) or {})]


def has_limits(container: dict) -> bool:
    return not missing_resources(container)


def is_serving(container: dict) -> bool:
    return bool(container.get("ports"))


def missing_probes(container: dict) -> list[str]:
    return [p for p in ("readinessProbe", "livenessProbe") if not container.get(p)]


def runs_as_non_root(pod: dict, container: dict) -> bool:
    """runAsNonRoot true (container overrides pod) and no runAsUser 0."""
    psc, csc = pod.get("securityContext") or {}, container.get("securityContext") or {}
    non_root = csc.get("runAsNonRoot", psc.get("runAsNonRoot"))
    uid = csc.get("runAsUser", psc.get("runAsUser"))
    return non_root is True and uid != 0


def restricted_violations(pod: dict, container: dict) -> list[str]:
    """The Pod Security `restricted` fields this container misses."""
    psc, csc = pod.get("securityContext") or {}, container.get("securityContext") or {}
    out = []
    if not runs_as_non_root(pod, container):
        out.append("runAsNonRoot")
    if csc.get("allowPrivilegeEscalation") is not False:
        out.append("allowPrivilegeEscalation")
    if "ALL" not in ((csc.get("capabilities") or {}).get("drop") or []):
        out.append("capabilities.drop ALL")
    seccomp = (csc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        out.append("seccompProfile")
    return out


# ------------------------------------------------------------------ checks

@STATIC
def check_resources(objects: list[dict]) -> Finding:
    bad = [f"{ref(w)} container {c['name']}: no {', '.join(m)} (requests and limits)"
           for w in workloads(objects) for c in containers(w) if (m := missing_resources(c))]
    n = sum(len(containers(w)) for w in workloads(objects))
    return tally("every container declares cpu and memory requests and limits", bad, n, "containers")


@STATIC
def check_probes(objects: list[dict]) -> Finding:
    bad = [f"{ref(w)} container {c['name']} serves ports but has no {', '.join(m)}"
           for w in workloads(objects) for c in containers(w, init=False) if is_serving(c) and (m := missing_probes(c))]
    n = sum(1 for w in workloads(objects) for c in containers(w, init=False) if is_serving(c))
    return tally("every serving container has readiness and liveness probes", bad, n, "serving containers")


@STATIC
def check_images_pinned(objects: list[dict]) -> Finding:
    bad = [f"{ref(w)} container {c['name']}: image {c.get('image')!r} is untagged or latest"
           for w in workloads(objects) for c in containers(w) if not image_is_pinned(c.get("image", ""))]
    n = sum(len(containers(w)) for w in workloads(objects))
    return tally("no image is untagged or :latest", bad, n, "images")


@STATIC
def check_restricted(objects: list[dict]) -> Finding:
    bad = [f"{ref(w)} container {c['name']}: misses {', '.join(v)} (Pod Security restricted)"
           for w in workloads(objects) for c in containers(w) if (v := restricted_violations(pod_spec(w), c))]
    n = sum(len(containers(w)) for w in workloads(objects))
    return tally("every container runs as non-root and meets Pod Security restricted (runAsNonRoot)",
                    bad, n, "containers")


def _has_pdb(pdbs: list[dict], workload: dict) -> bool:
    # a PDB without a selector covers no pod (policy/v1: null selects nothing, {} selects all)
    return any(same_namespace(p, workload) and selector_matches(p["spec"].get("selector"), pod_labels(workload))
               for p in pdbs)


@STATIC
def check_pdbs(objects: list[dict]) -> Finding:
    pdbs = [o for o in objects if o.get("kind") == "PodDisruptionBudget"]
    bad, n = [], 0
    for w in workloads(objects):
        if (w.get("spec") or {}).get("replicas", 1) > 1:
            n += 1
            if not _has_pdb(pdbs, w):
                bad.append(f"{ref(w)} has {w['spec']['replicas']} replicas but no PodDisruptionBudget")
    return tally("every multi-replica workload has a PodDisruptionBudget", bad, n, "multi-replica workloads")


@STATIC
def check_portable(objects: list[dict]) -> Finding:
    bad = []
    for o in objects:
        group = o.get("apiVersion", "").rpartition("/")[0]
        if group not in STANDARD_GROUPS:
            aws = "AWS-only " if ("aws" in group.split(".") or "amazonaws.com" in group) else "non-standard "
            bad.append(f"{ref(o)}: {aws}kind of API group {group} (R4.1: use the Kubernetes standard kind)")
    return tally("no object uses an AWS-only or non-standard kind", bad, len(objects), "objects")


@STATIC
def check_image_sources(objects: list[dict], settings: dict | None = None) -> Finding:
    """App containers only from the Docker Hub repositories of the settings (R4.2)."""
    s = settings or config.settings()
    allowed = set(s["images"].values())
    app = set(s["kubernetes"]["deployments"]) | set(s["kubernetes"]["statefulsets"])
    app |= {(s.get("backup") or {}).get("cronjob")} - {None}   # the backup CronJob's images too
    seen, bad = set(), []
    for w in workloads(objects):
        if w["metadata"]["name"] not in app:
            continue
        for c in containers(w):
            repo = image_repository(c.get("image", ""))
            seen.add(repo)
            if repo not in allowed or "." in repo.split("/")[0] and "/" in repo:
                bad.append(f"{ref(w)} container {c['name']}: image {c.get('image')!r} is not from the Docker Hub "
                           f"repositories {sorted(allowed)}")
    for key in ("web", "api"):
        if s["images"][key] not in seen:
            bad.append(f"no workload runs the {key} image {s['images'][key]}")
    return tally("every app image comes from the Docker Hub repositories of the settings", bad, len(seen), "images")


SECRETISH = re.compile(r"(PASSWORD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CLIENT_SECRET)", re.I)


@STATIC
def check_secret_refs(objects: list[dict], settings: dict | None = None) -> Finding:
    """Secrets reach pods only by reference to app-secrets; no Secret object carries data."""
    s = settings or config.settings()
    secret = s["kubernetes"]["secret"]
    bad, readers = [], []
    for o in objects:
        if o.get("kind") == "Secret" and (o.get("data") or o.get("stringData")):
            bad.append(f"{ref(o)} carries values in the manifests (the deploy creates {secret})")
    for w in workloads(objects):
        reads = False
        for c in containers(w):
            for e in c.get("env") or []:
                sk = ((e.get("valueFrom") or {}).get("secretKeyRef") or {})
                if sk.get("name") == secret:
                    reads = True
                elif "value" in e and SECRETISH.search(e["name"]):
                    bad.append(f"{ref(w)} container {c['name']}: {e['name']} has a literal value; "
                               f"read it from {secret} via secretKeyRef")
            for ef in c.get("envFrom") or []:
                if (ef.get("secretRef") or {}).get("name") == secret:
                    reads = True
        if reads:
            readers.append(w["metadata"]["name"])
    if not readers:
        bad.append(f"no workload reads {secret} through secretKeyRef or envFrom")
    f = tally(f"workloads read {secret} only through secretKeyRef or envFrom", bad, len(workloads(objects)),
                 "workloads")
    return dataclasses.replace(f, actual=f"{f.actual}; readers: {', '.join(readers) or 'none'}")


@STATIC
def check_workloads_defined(objects: list[dict], settings: dict | None = None) -> Finding:
    s = settings or config.settings()["kubernetes"]
    want = [("Deployment", n) for n in s["deployments"]] + [("StatefulSet", n) for n in s["statefulsets"]]
    want += [("Service", n) for n in s["services"]] + [("Ingress", s["ingress"]), ("ConfigMap", s["configmap"]),
                                                       ("Namespace", s["namespace"])]
    have = {(o.get("kind"), o["metadata"]["name"]) for o in objects}
    missing = [f"{k}/{n} is not defined" for k, n in want if (k, n) not in have]
    wrong_ns = [f"{ref(o)} is in namespace {o['metadata'].get('namespace')}, not {s['namespace']}"
                for o in objects if o["metadata"].get("namespace") not in (None, s["namespace"])]
    return tally("the workloads, services, ingress and config of the settings are defined",
                    missing + wrong_ns, len(want), "objects")


def combine_detailed(subject: str, parts: list[Finding]) -> Finding:
    """Like findings.combine, with each failing finding's own evidence under it."""
    f = combine(subject, parts)
    ordered = []   # failing lines with their evidence first, then the passing ones
    for x in [x for x in parts if not x.ok] + [x for x in parts if x.ok]:
        ordered.append(x.line())
        if not x.ok:
            ordered.extend(f"    {e}" for e in x.evidence)
    return dataclasses.replace(f, evidence=tuple(ordered))


@STATIC
def check_static(objects: list[dict]) -> Finding:
    """The manifest check: every static rule at once."""
    return combine_detailed("the rendered manifests pass the static checks", [
        check_schema(objects), check_resources(objects), check_probes(objects), check_images_pinned(objects),
        check_restricted(objects), check_pdbs(objects), check_portable(objects), check_image_sources(objects),
        check_secret_refs(objects)])


def _container_resources(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(w["metadata"]["name"], c["name"]): c.get("resources") or {}
            for w in workloads(objects) for c in containers(w)}


@STATIC
def check_dev_smaller(dev: list[dict], prod: list[dict]) -> Finding:
    """R9.1/R9.2: dev has fewer serving replicas and no more resources anywhere, less in total."""
    bad, notes = [], []
    dev_w = {ref(w): w for w in workloads(dev)}
    prod_w = {ref(w): w for w in workloads(prod)}
    for r in sorted(set(dev_w) | set(prod_w)):
        if r not in dev_w or r not in prod_w:
            bad.append(f"{r} is only in {'dev' if r in dev_w else 'prod'}")
            continue
        d, p = dev_w[r]["spec"].get("replicas", 1), prod_w[r]["spec"].get("replicas", 1)
        serving = any(is_serving(c) for c in containers(dev_w[r])) and dev_w[r]["kind"] == "Deployment"
        if (serving and not d < p) or d > p:
            bad.append(f"{r}: dev replicas {d}, prod replicas {p}")
        notes.append(f"{r}: replicas dev {d} / prod {p}")
    dres, pres = _container_resources(dev), _container_resources(prod)
    totals = {"dev": Decimal(0), "prod": Decimal(0)}
    for key in sorted(set(dres) & set(pres)):
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                dv = (dres[key].get(kind) or {}).get(r)
                pv = (pres[key].get(kind) or {}).get(r)
                if dv is None or pv is None:
                    continue
                if quantity(dv) > quantity(pv):
                    bad.append(f"{key[0]}/{key[1]} {kind}.{r}: dev {dv} > prod {pv}")
                if kind == "requests":
                    scale = Decimal(1) if r == "cpu" else Decimal(2) ** -20   # memory in Mi
                    totals["dev"] += quantity(dv) * scale
                    totals["prod"] += quantity(pv) * scale
    if not totals["dev"] < totals["prod"]:
        bad.append(f"dev requests total {totals['dev']} not below prod {totals['prod']}")
    subject = "dev has fewer replicas and smaller resources than prod"
    if bad:
        return failed(subject, "dev < prod", f"{len(bad)} violations", [f"FAIL {b}" for b in bad] + notes)
    return passed(subject, "dev < prod", "dev < prod in replicas and resources", notes)


@STATIC
def check_prod_ha(prod: list[dict]) -> Finding:
    """Every serving Deployment of prod: >= 2 replicas, a PDB and an HPA (min >= 2)."""
    pdbs = [o for o in prod if o.get("kind") == "PodDisruptionBudget"]
    hpas = [o for o in prod if o.get("kind") == "HorizontalPodAutoscaler"]
    bad, n = [], 0
    for w in workloads(prod):
        if w["kind"] != "Deployment" or not any(is_serving(c) for c in containers(w)):
            continue
        n += 1
        if w["spec"].get("replicas", 1) < 2:
            bad.append(f"{ref(w)}: only {w['spec'].get('replicas', 1)} replica")
        if not _has_pdb(pdbs, w):
            bad.append(f"{ref(w)}: no PodDisruptionBudget")
        hpa = [h for h in hpas if same_namespace(h, w) and h["spec"]["scaleTargetRef"].get("kind") == w["kind"]
               and h["spec"]["scaleTargetRef"].get("name") == w["metadata"]["name"]]
        if not hpa:
            bad.append(f"{ref(w)}: no HorizontalPodAutoscaler")
        elif hpa[0]["spec"].get("minReplicas", 1) < 2:
            bad.append(f"{ref(w)}: HorizontalPodAutoscaler minReplicas below 2")
    return tally("prod has a PodDisruptionBudget and a HorizontalPodAutoscaler for every serving workload",
                    bad, n, "serving workloads")


def tally(subject: str, bad: list[str], n: int, what: str) -> Finding:
    if bad:
        return failed(subject, f"0 of {n} {what} in violation", f"{len(bad)} in violation", [f"FAIL {b}" for b in bad])
    return passed(subject, f"all {n} {what}", f"all {n} {what} comply")


def _controller_deployments(cluster: list[dict], controller: str) -> list[str]:
    """Deployments of the cluster overlay that serve `controller` (ingress-nginx: --controller-class=)."""
    out = []
    for w in workloads(cluster):
        args = [str(a) for c in containers(w) for a in (c.get("args") or []) + (c.get("command") or [])]
        if f"--controller-class={controller}" in args:
            out.append(f"{ref(w)} ({', '.join(c.get('image', '') for c in containers(w))})")
    return out


@STATIC
def check_ingress_class_installed(app: list[dict], cluster: list[dict]) -> Finding:
    """Each Ingress of the app names an IngressClass of the cluster overlay whose controller a Deployment of
    the cluster overlay runs (nothing else installs one on EKS)."""
    classes = {o["metadata"]["name"]: (o.get("spec") or {}).get("controller", "")
               for o in cluster if o.get("kind") == "IngressClass"}
    bad, evidence = [], []
    ingresses = [o for o in app if o.get("kind") == "Ingress"]
    for ing in ingresses:
        name = (ing.get("spec") or {}).get("ingressClassName")
        if name not in classes:
            bad.append(f"{ref(ing)} names IngressClass {name}, which the cluster overlay does not install")
            continue
        deps = _controller_deployments(cluster, classes[name])
        if not deps:
            bad.append(f"{ref(ing)}: IngressClass {name} ({classes[name]}) has no controller Deployment in the "
                       "cluster overlay")
        else:
            evidence.append(f"{ref(ing)} -> IngressClass {name} ({classes[name]}) -> {', '.join(deps)}")
    f = tally("every Ingress names an IngressClass whose controller the cluster overlay installs", bad,
              len(ingresses), "ingresses")
    return dataclasses.replace(f, evidence=f.evidence + tuple(evidence))


@STATIC
def check_pinned_versions(cluster: list[dict], versions: dict | None = None) -> Finding:
    """Images of the cluster add-ons carry the exact version of settings.yaml `versions:`."""
    v = versions or config.settings()["versions"]
    want = {"ingress-nginx/controller": v.get("ingress_nginx"),
            "eks/aws-load-balancer-controller": v.get("aws_load_balancer_controller")}
    bad, seen = [], []
    for w in workloads(cluster):
        for c in containers(w):
            image = c.get("image", "")
            for repo, version in want.items():
                if f"/{repo}:" in image:
                    seen.append(image)
                    if image.split(":", 1)[1].split("@")[0] != f"v{version}":
                        bad.append(f"{ref(w)} container {c['name']}: {image} is not v{version} (settings versions)")
    return tally("the cluster add-ons run the versions of settings.yaml", bad, len(seen), "add-on images")
