"""Render an overlay into the exact objects a deploy applies.

`render` runs kustomize (built into kubectl); every other function here is
pure: it takes objects and returns new ones, so the image, namespace and
config-checksum rewrites are unit-tested without a cluster.
"""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import yaml

from .. import config, errors
from ..config import Environment
from ..constants import CHECKSUM_ANNOTATION
from . import kubectl
from .objects import CLUSTER_SCOPED, containers, key, pod_spec, pod_template, spec_containers, split_image

# The one render error: bad input (exit 2), nothing changed.
MISSING_OVERLAY = "overlay {path} of environment {env!r} does not exist"
RENDER_FAILED = "overlay {path} does not render: {detail}"
# libyaml's safe loader when PyYAML has it: the same objects, ~5x faster than the pure-Python one
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _environment(env: Environment | str) -> Environment:
    return env if isinstance(env, Environment) else Environment.named(env)


def overlay_dir(env: Environment | str) -> Path:
    """The environment's app overlay; BadInput when it has no kustomization."""
    e = _environment(env)
    path = e.overlay
    if not (path / "kustomization.yaml").exists() and not (path / "kustomization.yml").exists():
        raise errors.BadInput(MISSING_OVERLAY.format(path=e["overlay"], env=e.name))
    return path


def render_dir(path: Path) -> list[dict]:
    """Objects of one kustomization directory, in kustomize's order (the venv's kubectl,
    same minor as the cluster). BadInput (exit 2, nothing changed) when it does not render."""
    try:
        out = kubectl.run(None, ["kustomize", str(path)]).stdout
    except kubectl.KubectlError as exc:
        raise errors.BadInput(RENDER_FAILED.format(path=path, detail=str(exc).split(": ", 1)[-1]),
                              evidence=exc.evidence) from None
    return [d for d in yaml.load_all(out, Loader=_LOADER) if d]


def render(env: Environment | str) -> list[dict]:
    """The environment's app overlay, rendered."""
    return render_dir(overlay_dir(env))


def render_cluster(env: Environment | str) -> list[dict]:
    """The environment's cluster overlay (autoscaler, storage class, ingress controller), rendered."""
    return render_dir(_environment(env).cluster_overlay)


def set_images(objs: list[dict], sha: str, repos: list[str]) -> list[dict]:
    """Every container whose repository is one of ours runs `<repo>:<sha>`."""
    out = copy.deepcopy(objs)
    for obj in out:
        for c in containers(obj):
            repo, _ = split_image(c.get("image", ""))
            if repo in repos:
                c["image"] = f"{repo}:{sha}"
    return out


def images_of(objs: list[dict], repos: list[str]) -> dict[str, str]:
    """container key -> image, for our repositories only."""
    found = {}
    for obj in objs:
        for c in containers(obj):
            if split_image(c.get("image", ""))[0] in repos:
                found[f"{key(obj)}:{c['name']}"] = c["image"]
    return found


def set_namespace(objs: list[dict], namespace: str) -> list[dict]:
    """Move the whole set into `namespace` (tests deploy into a fresh one).

    Namespace objects are renamed, namespaced objects moved, and references
    to the old namespace inside (RoleBinding subjects) follow them.
    """
    out = copy.deepcopy(objs)
    old = {o["metadata"]["name"] for o in out if o["kind"] == "Namespace"}
    old |= {o["metadata"].get("namespace") for o in out if o["kind"] not in CLUSTER_SCOPED} - {None}
    for obj in out:
        md = obj["metadata"]
        if obj["kind"] == "Namespace":
            md["name"] = namespace
            labels = md.get("labels") or {}
            if "kubernetes.io/metadata.name" in labels:
                labels["kubernetes.io/metadata.name"] = namespace
        elif obj["kind"] not in CLUSTER_SCOPED:
            md["namespace"] = namespace
        for s in obj.get("subjects", []) or []:
            if s.get("namespace") in old:
                s["namespace"] = namespace
    return out


def uses_configmap(spec: dict, name: str) -> bool:
    """Does a pod spec read ConfigMap `name` (env, envFrom, volumes, projected)?"""
    for c in spec_containers(spec):
        for ef in c.get("envFrom", []) or []:
            if (ef.get("configMapRef") or {}).get("name") == name:
                return True
        for e in c.get("env", []) or []:
            if ((e.get("valueFrom") or {}).get("configMapKeyRef") or {}).get("name") == name:
                return True
    for v in spec.get("volumes", []) or []:
        if (v.get("configMap") or {}).get("name") == name:
            return True
        for src in (v.get("projected") or {}).get("sources", []) or []:
            if (src.get("configMap") or {}).get("name") == name:
                return True
    return False


def checksum(obj: dict) -> str:
    body = {"data": obj.get("data") or {}, "binaryData": obj.get("binaryData") or {}}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def annotate_config_checksums(objs: list[dict], configmaps: list[str]) -> list[dict]:
    """Pod templates of the consumers of each ConfigMap carry its checksum.

    A data change then changes only those templates, so only the workloads
    that read the ConfigMap roll; the others keep their pods.
    """
    out = copy.deepcopy(objs)
    sums = {o["metadata"]["name"]: checksum(o) for o in out
            if o["kind"] == "ConfigMap" and o["metadata"]["name"] in configmaps}
    for obj in out:
        spec, template = pod_spec(obj), pod_template(obj)
        if not spec or template is None:
            continue
        used = sorted(n for n in sums if uses_configmap(spec, n))
        if not used:
            continue
        tmpl_md = template.setdefault("metadata", {})
        tmpl_md.setdefault("annotations", {})[CHECKSUM_ANNOTATION] = ",".join(f"{n}={sums[n]}" for n in used)
    return out


def app_repos() -> list[str]:
    """The app's own images (the SHA-tagged ones); postgres keeps its pinned tag."""
    imgs = config.settings()["images"]
    return [imgs["web"], imgs["api"]]


def prepare(objs: list[dict], sha: str, namespace: str) -> list[dict]:
    """The full rewrite a deploy applies: namespace, images, config checksums."""
    s = config.settings()
    objs = set_namespace(objs, namespace)
    objs = set_images(objs, sha, app_repos())
    return annotate_config_checksums(objs, [s["kubernetes"]["configmap"]])
