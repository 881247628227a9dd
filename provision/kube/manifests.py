"""The Kubernetes manifests: render them, seed faults into copies, judge them.

Rendering runs `kubectl kustomize` (the venv's kubectl, same minor as the
cluster). Everything else here is a pure function of the rendered objects,
unit-tested in tests/test_manifests_predicates.py.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from decimal import Decimal
from functools import cache
from pathlib import Path

import yaml

from .. import config, errors, findings
from ..findings import Finding, combine, failed, passed
from ..local import build

MANIFESTS = "manifests"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
# API groups of Kubernetes itself; anything else is a CRD kind (R4.1: AWS-only
# kinds such as TargetGroupBinding, ENIConfig or SecurityGroupPolicy).
STANDARD_GROUPS = {
    "", "apps", "batch", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io",
    "storage.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "discovery.k8s.io", "node.k8s.io",
    "admissionregistration.k8s.io", "apiextensions.k8s.io", "certificates.k8s.io",
}

UNKNOWN_FAULT = "unknown seeded fault {fault!r}: expected one of {known}"
RENDER_FAILED = "kustomize could not render {path}: {reason}"


# ---------------------------------------------------------------- rendering

def overlay_path(env: str, root: Path = config.ROOT) -> Path:
    return Path(root) / config.environment(env)["overlay"]


def render_dir(path: Path) -> list[dict]:
    """Objects of one kustomization directory, in kustomize's order."""
    argv = [str(build.kubectl()), "kustomize", str(path)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        reason = (p.stderr.strip().splitlines() or ["(no stderr)"])[0]
        raise errors.ProvisionError(RENDER_FAILED.format(path=path, reason=reason),
                                    evidence=tuple(p.stderr.strip().splitlines()[:20]))
    return [d for d in yaml.safe_load_all(p.stdout) if d]


def render(env: str, root: Path = config.ROOT) -> list[dict]:
    return render_dir(overlay_path(env, root))


def render_cluster(env: str, root: Path = config.ROOT) -> list[dict]:
    return render_dir(Path(root) / config.environment(env)["cluster_overlay"])


# ----------------------------------------------------------- seeded faults

def _patch(kind: str, name: str, ops: list[dict]) -> dict:
    return {"target": {"kind": kind, "name": name}, "patch": yaml.safe_dump(ops)}


def _first_deployment() -> str:
    return config.settings()["kubernetes"]["deployments"][0]


def _faults() -> dict[str, dict]:
    """fault -> what to add to the overlay's kustomization (patches/resources)."""
    web = _first_deployment()
    c0 = "/spec/template/spec/containers/0"
    allow_all = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                 "metadata": {"name": "seeded-allow-all-ingress"},
                 "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]}}
    aws_kind = {"apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
                "metadata": {"name": "seeded-aws-only"},
                "spec": {"serviceRef": {"name": "web-service", "port": 80}, "targetGroupARN": "arn:aws:x"}}
    return {
        "container-without-limits": {"patches": [_patch("Deployment", web, [
            {"op": "remove", "path": f"{c0}/resources/limits"}])]},
        "latest-image-tag": {"patches": [_patch("Deployment", web, [
            {"op": "replace", "path": f"{c0}/image", "value": f"{config.settings()['images']['web']}:latest"}])]},
        "runs-as-root": {"patches": [_patch("Deployment", web, [
            {"op": "replace", "path": "/spec/template/spec/securityContext/runAsNonRoot", "value": False},
            {"op": "replace", "path": "/spec/template/spec/securityContext/runAsUser", "value": 0},
            {"op": "remove", "path": f"{c0}/securityContext/runAsNonRoot"}])]},
        "serving-without-probe": {"patches": [_patch("Deployment", web, [
            {"op": "remove", "path": f"{c0}/readinessProbe"}])]},
        "invalid-schema": {"patches": [_patch("Deployment", web, [
            {"op": "add", "path": "/spec/replica", "value": 2}])]},
        "foreign-image": {"patches": [_patch("Deployment", web, [
            {"op": "replace", "path": f"{c0}/image", "value": "ghcr.io/someone/web:1.0.0"}])]},
        "aws-only-kind": {"objects": [aws_kind]},
        "multi-replica-without-pdb": {"patches": [_patch("Deployment", web, [
            {"op": "replace", "path": "/spec/replicas", "value": 2}])]},
        "secret-value-inline": {"patches": [_patch("Deployment", web, [
            {"op": "add", "path": f"{c0}/env",
             "value": [{"name": "AUTH0_CLIENT_SECRET", "value": "seeded-inline-value"}]}])]},
        "allow-all-ingress": {"objects": [allow_all]},
    }


def fault_names() -> list[str]:
    return list(_faults())


def seed_fault(fault: str, env: str, workdir: Path) -> Path:
    """Copy manifests/ into `workdir`, seed `fault` into the env overlay; return the overlay path.

    The committed files are never touched.
    """
    faults = _faults()
    if fault not in faults:
        raise errors.BadInput(UNKNOWN_FAULT.format(fault=fault, known=", ".join(faults)))
    workdir = Path(workdir)
    shutil.copytree(config.ROOT / MANIFESTS, workdir / MANIFESTS, dirs_exist_ok=True)
    overlay = overlay_path(env, workdir)
    kfile = overlay / "kustomization.yaml"
    k = yaml.safe_load(kfile.read_text())
    spec = faults[fault]
    k.setdefault("patches", []).extend(spec.get("patches", []))
    for i, obj in enumerate(spec.get("objects", [])):
        (overlay / f"seeded-{i}.yaml").write_text(yaml.safe_dump(obj))
        k.setdefault("resources", []).append(f"seeded-{i}.yaml")
    kfile.write_text(yaml.safe_dump(k, sort_keys=False))
    return overlay


# ------------------------------------------------------- pure predicates

def ref(obj: dict) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def pod_spec(obj: dict) -> dict | None:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    if obj.get("kind") in WORKLOAD_KINDS:
        return ((spec.get("template") or {}).get("spec")) or {}
    if obj.get("kind") == "Pod":
        return spec
    return None


def workloads(objects: list[dict]) -> list[dict]:
    return [o for o in objects if pod_spec(o) is not None]


def containers(obj: dict, init: bool = True) -> list[dict]:
    ps = pod_spec(obj) or {}
    return list(ps.get("containers") or []) + (list(ps.get("initContainers") or []) if init else [])


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


def image_is_pinned(image: str) -> bool:
    """A tag that is not `latest`, or a digest."""
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    return last.rsplit(":", 1)[1] not in ("", "latest")


def image_repository(image: str) -> str:
    """Docker Hub repository of an image reference, normalised (docker.io/library/x -> x)."""
    repo = image.split("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo = repo[: len(repo) - len(last)] + last.split(":", 1)[0]
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"):
        if repo.startswith(prefix):
            return repo[len(prefix):]
    return repo


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


def selector_matches(selector: dict | None, labels: dict) -> bool:
    """Kubernetes label selector semantics; an empty selector matches everything."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def pod_labels(obj: dict) -> dict:
    spec = obj.get("spec") or {}
    return ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}


_SUFFIX = {"m": Decimal("0.001"), "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
           "T": Decimal(10) ** 12, "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
           "Ti": Decimal(2) ** 40}
_QTY = re.compile(r"^([0-9.]+(?:[eE][0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")


def quantity(value) -> Decimal:
    """A Kubernetes resource quantity ("100m", "1", "128Mi") as a number."""
    m = _QTY.match(str(value).strip())
    if not m:
        raise errors.BadInput(f"not a Kubernetes quantity: {value!r}")
    return Decimal(m.group(1)) * _SUFFIX.get(m.group(2) or "", Decimal(1))


# ------------------------------------------------------------------ checks

@cache
def _validator(minor: str, api_version: str, kind: str):
    """A cached strict validator from kubernetes-validate's offline schemas (loading
    its definitions file per object would dominate the time). None: no schema."""
    import jsonschema
    from kubernetes_validate import utils as kvu
    from referencing import Registry, Resource

    schema_dir = f"v{minor}-local-strict"
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kvu.schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group_version}.json", minor)
    except FileNotFoundError:
        return None
    defs = kvu.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", minor)
    registry = Resource.from_contents(defs) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def schema_errors(obj: dict, minor: str) -> list[str]:
    """Schema violations of one object against Kubernetes `minor` (e.g. "1.36.0")."""
    v = _validator(minor, obj.get("apiVersion", ""), obj.get("kind", ""))
    if v is None:
        return [f"{ref(obj)}: schema: no schema for {obj.get('apiVersion')} {obj.get('kind')} in Kubernetes {minor}"]
    return [f"{ref(obj)}: schema: {e.message} at /{'/'.join(str(p) for p in e.absolute_path)}"
            for e in v.iter_errors(obj)]


def check_schema(objects: list[dict], version: str | None = None) -> Finding:
    """Every object against the OpenAPI schema of the pinned Kubernetes minor (offline)."""
    k8s = version or config.versions()["kubernetes"]
    minor = ".".join(k8s.split(".")[:2]) + ".0"   # schemas ship per minor
    bad = [e for o in objects for e in schema_errors(o, minor)]
    subject = f"every object validates against the Kubernetes {minor} schema"
    if bad:
        return failed(subject, "0 invalid objects", f"{len(bad)} schema errors", bad)
    return passed(subject, f"{len(objects)} valid", f"{len(objects)} valid")


def check_resources(objects: list[dict]) -> Finding:
    bad = [f"{ref(w)} container {c['name']}: no {', '.join(m)} (requests and limits)"
           for w in workloads(objects) for c in containers(w) if (m := missing_resources(c))]
    n = sum(len(containers(w)) for w in workloads(objects))
    return _finding("every container declares cpu and memory requests and limits", bad, n, "containers")


def check_probes(objects: list[dict]) -> Finding:
    bad = [f"{ref(w)} container {c['name']} serves ports but has no {', '.join(m)}"
           for w in workloads(objects) for c in containers(w, init=False) if is_serving(c) and (m := missing_probes(c))]
    n = sum(1 for w in workloads(objects) for c in containers(w, init=False) if is_serving(c))
    return _finding("every serving container has readiness and liveness probes", bad, n, "serving containers")


def check_images_pinned(objects: list[dict]) -> Finding:
    bad = [f"{ref(w)} container {c['name']}: image {c.get('image')!r} is untagged or latest"
           for w in workloads(objects) for c in containers(w) if not image_is_pinned(c.get("image", ""))]
    n = sum(len(containers(w)) for w in workloads(objects))
    return _finding("no image is untagged or :latest", bad, n, "images")


def check_restricted(objects: list[dict]) -> Finding:
    bad = [f"{ref(w)} container {c['name']}: misses {', '.join(v)} (Pod Security restricted)"
           for w in workloads(objects) for c in containers(w) if (v := restricted_violations(pod_spec(w), c))]
    n = sum(len(containers(w)) for w in workloads(objects))
    return _finding("every container runs as non-root and meets Pod Security restricted (runAsNonRoot)",
                    bad, n, "containers")


def check_pdbs(objects: list[dict]) -> Finding:
    pdbs = [o for o in objects if o.get("kind") == "PodDisruptionBudget"]
    bad, n = [], 0
    for w in workloads(objects):
        if (w.get("spec") or {}).get("replicas", 1) > 1:
            n += 1
            if not any(_same_ns(p, w) and selector_matches(p["spec"].get("selector"), pod_labels(w)) for p in pdbs):
                bad.append(f"{ref(w)} has {w['spec']['replicas']} replicas but no PodDisruptionBudget")
    return _finding("every multi-replica workload has a PodDisruptionBudget", bad, n, "multi-replica workloads")


def check_portable(objects: list[dict]) -> Finding:
    bad = []
    for o in objects:
        group = o.get("apiVersion", "").rpartition("/")[0]
        if group not in STANDARD_GROUPS:
            aws = "AWS-only " if ("aws" in group.split(".") or "amazonaws.com" in group) else "non-standard "
            bad.append(f"{ref(o)}: {aws}kind of API group {group} (R4.1: use the Kubernetes standard kind)")
    return _finding("no object uses an AWS-only or non-standard kind", bad, len(objects), "objects")


def check_image_sources(objects: list[dict], settings: dict | None = None) -> Finding:
    """App containers only from the Docker Hub repositories of the settings (R4.2)."""
    s = settings or config.settings()
    allowed = set(s["images"].values())
    app = set(s["kubernetes"]["deployments"]) | set(s["kubernetes"]["statefulsets"])
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
    return _finding("every app image comes from the Docker Hub repositories of the settings", bad, len(seen), "images")


SECRETISH = re.compile(r"(PASSWORD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CLIENT_SECRET)", re.I)


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
    f = _finding(f"workloads read {secret} only through secretKeyRef or envFrom", bad, len(workloads(objects)),
                 "workloads")
    return Finding(f.ok, f.subject, f.expected, f"{f.actual}; readers: {', '.join(readers) or 'none'}", f.evidence)


def check_workloads_defined(objects: list[dict], settings: dict | None = None) -> Finding:
    s = settings or config.settings()["kubernetes"]
    want = [("Deployment", n) for n in s["deployments"]] + [("StatefulSet", n) for n in s["statefulsets"]]
    want += [("Service", n) for n in s["services"]] + [("Ingress", s["ingress"]), ("ConfigMap", s["configmap"]),
                                                       ("Namespace", s["namespace"])]
    have = {(o.get("kind"), o["metadata"]["name"]) for o in objects}
    missing = [f"{k}/{n} is not defined" for k, n in want if (k, n) not in have]
    wrong_ns = [f"{ref(o)} is in namespace {o['metadata'].get('namespace')}, not {s['namespace']}"
                for o in objects if o["metadata"].get("namespace") not in (None, s["namespace"])]
    return _finding("the workloads, services, ingress and config of the settings are defined",
                    missing + wrong_ns, len(want), "objects")


def combine_detailed(subject: str, findings: list[Finding]) -> Finding:
    """Like findings.combine, with each failing finding's own evidence under it."""
    f = combine(subject, findings)
    ordered = []   # failing lines with their evidence first, then the passing ones
    for x in [x for x in findings if not x.ok] + [x for x in findings if x.ok]:
        ordered.append(x.line())
        if not x.ok:
            ordered.extend(f"    {e}" for e in x.evidence)
    return Finding(f.ok, f.subject, f.expected, f.actual, tuple(ordered), f.gaps)


def check_static(objects: list[dict]) -> Finding:
    """The manifest check: every static rule at once."""
    return combine_detailed("the rendered manifests pass the static checks", [
        check_schema(objects), check_resources(objects), check_probes(objects), check_images_pinned(objects),
        check_restricted(objects), check_pdbs(objects), check_portable(objects), check_image_sources(objects),
        check_secret_refs(objects)])


def _container_resources(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(w["metadata"]["name"], c["name"]): c.get("resources") or {}
            for w in workloads(objects) for c in containers(w)}


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
        return failed(subject, "dev < prod", f"{len(bad)} violations", bad + notes)
    return passed(subject, "dev < prod", "dev < prod in replicas and resources", notes)


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
        if not any(_same_ns(p, w) and selector_matches(p["spec"].get("selector"), pod_labels(w)) for p in pdbs):
            bad.append(f"{ref(w)}: no PodDisruptionBudget")
        hpa = [h for h in hpas if _same_ns(h, w) and h["spec"]["scaleTargetRef"].get("kind") == w["kind"]
               and h["spec"]["scaleTargetRef"].get("name") == w["metadata"]["name"]]
        if not hpa:
            bad.append(f"{ref(w)}: no HorizontalPodAutoscaler")
        elif hpa[0]["spec"].get("minReplicas", 1) < 2:
            bad.append(f"{ref(w)}: HorizontalPodAutoscaler minReplicas below 2")
    return _finding("prod has a PodDisruptionBudget and a HorizontalPodAutoscaler for every serving workload",
                    bad, n, "serving workloads")


# ------------------------------------------------------ secrets in git

SECRET_PATTERNS = {
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA |ENCRYPTED )?PRIVATE KEY-----"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}\b"),
    "Docker Hub token": re.compile(r"\bdckr_pat_[A-Za-z0-9_-]{20,}\b"),
    "Auth0/JWT token": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
}
# Documentation placeholders (AWS's own examples) are not secrets.
PLACEHOLDER = re.compile(r"EXAMPLE|XXXX|0000000000000000", re.I)


def scan_text(path: str, text: str, secret_name: str) -> list[str]:
    """Secret values in one file: common credential patterns, and Secret objects with data."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        for what, rx in SECRET_PATTERNS.items():
            m = rx.search(line)
            if m and not PLACEHOLDER.search(m.group(0)):
                out.append(f"{path}:{n}: looks like a {what}")
    if path.endswith((".yaml", ".yml")) and "Secret" in text:
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            docs = []
        for d in docs:
            if isinstance(d, dict) and d.get("kind") == "Secret" and (d.get("data") or d.get("stringData")):
                name = (d.get("metadata") or {}).get("name")
                tag = f" ({secret_name})" if name == secret_name else ""
                out.append(f"{path}: Secret {name}{tag} holds data/stringData values")
    return out


def repository_files(root: Path = config.ROOT) -> list[str]:
    """Tracked files plus untracked ones git would take (not ignored)."""
    argv = ["git", "-C", str(root), "ls-files", "--cached", "--others", "--exclude-standard", "-z"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise errors.ProvisionError(f"git ls-files failed: {p.stderr.strip()[:200]}")
    return sorted({f for f in p.stdout.split("\0") if f})


def check_no_secrets_in_files(root: Path, files: list[str], secret_name: str | None = None) -> Finding:
    secret_name = secret_name or config.settings()["kubernetes"]["secret"]
    bad, scanned = [], 0
    for rel in files:
        path = Path(root) / rel
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue   # binary
        scanned += 1
        bad.extend(scan_text(rel, text, secret_name))
    # Evidence names file and line, never the value.
    return _finding(f"no tracked file holds a secret value (for {secret_name} or otherwise)", bad, scanned, "files")


# ------------------------------------------------------------------ helpers

def _same_ns(a: dict, b: dict) -> bool:
    return a["metadata"].get("namespace") == b["metadata"].get("namespace")


def _finding(subject: str, bad: list[str], n: int, what: str) -> Finding:
    if bad:
        return failed(subject, f"0 of {n} {what} in violation", f"{len(bad)} in violation", bad)
    return passed(subject, f"all {n} {what}", f"all {n} {what} comply")


def expect_failure(finding: Finding, naming: str) -> Finding:
    """For seeded faults: ok when `finding` failed and its evidence names `naming`."""
    return findings.caught(finding, naming)


def irsa_role_arn(env: str, service_account: str, settings: dict | None = None) -> str:
    """The IRSA role a ServiceAccount must name: provision/cloudformation/irsa.yaml
    names roles <cluster_name>-<workload>."""
    s = settings or config.settings()
    cluster = s["environments"][env]["cluster_name"]
    return f"arn:aws:iam::{s['aws']['account_id']}:role/{cluster}-{service_account}"


def check_irsa_annotations(objects: list[dict], env: str, settings: dict | None = None) -> Finding:
    """Every ServiceAccount that names an IAM role names its own role of this env's cluster (R8.4)."""
    bad, seen = [], []
    for obj in objects:
        if obj.get("kind") != "ServiceAccount":
            continue
        arn = (obj.get("metadata", {}).get("annotations") or {}).get("eks.amazonaws.com/role-arn")
        if arn is None:
            continue
        want = irsa_role_arn(env, obj["metadata"]["name"], settings)
        seen.append(obj["metadata"]["name"])
        if arn != want:
            bad.append(f"ServiceAccount {obj['metadata']['name']}: role-arn {arn}, expected {want}")
    subject = f"IRSA role annotations of the {env} manifests"
    if not seen:
        return failed(subject, "at least one ServiceAccount with an IRSA role", "none")
    if bad:
        return failed(subject, "each ServiceAccount names <cluster>-<workload>", f"{len(bad)} mismatched", bad)
    return passed(subject, "each ServiceAccount names <cluster>-<workload>", ", ".join(seen))
