"""Pure helpers on Kubernetes objects as plain JSON: kinds, names, pod specs,
images, quantities and label selectors, with Kubernetes' own semantics.

Every other kube module reads objects through these; none restates them.
"""
from __future__ import annotations

import re
from decimal import Decimal

from .. import errors

# Kinds that live outside any namespace (the ones a manifest set may carry).
CLUSTER_SCOPED = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "StorageClass", "PersistentVolume",
    "IngressClass", "CustomResourceDefinition", "PriorityClass", "RuntimeClass",
    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "CSIDriver", "APIService",
})
# Kinds that carry a pod template (CronJob: inside its job template).
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")


def key(obj: dict) -> str:
    """Kind/namespace/name (Kind/name when cluster-scoped): how objects are told apart."""
    md = obj.get("metadata") or {}
    ns = f"{md['namespace']}/" if md.get("namespace") else ""
    return f"{obj.get('kind')}/{ns}{md.get('name')}"


def ref(obj: dict) -> str:
    """Kind/name: how a manifest check names an object in its evidence."""
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


def same_namespace(a: dict, b: dict) -> bool:
    return (a.get("metadata") or {}).get("namespace") == (b.get("metadata") or {}).get("namespace")


def pod_template(obj: dict) -> dict | None:
    """The pod template of a workload ({} when it has none); None for every other kind."""
    if obj.get("kind") not in WORKLOAD_KINDS:
        return None
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return spec.get("template") or {}


def pod_spec(obj: dict) -> dict | None:
    """The pod spec of a workload or a Pod ({} when missing); None for every other kind."""
    if obj.get("kind") == "Pod":
        return obj.get("spec") or {}
    template = pod_template(obj)
    return None if template is None else (template.get("spec") or {})


def workloads(objects: list[dict]) -> list[dict]:
    return [o for o in objects if pod_spec(o) is not None]


def spec_containers(spec: dict, init: bool = True) -> list[dict]:
    """Containers of a pod spec, then (with init) its init containers."""
    return list(spec.get("containers") or []) + (list(spec.get("initContainers") or []) if init else [])


def containers(obj: dict, init: bool = True) -> list[dict]:
    return spec_containers(pod_spec(obj) or {}, init)


def pod_labels(obj: dict) -> dict:
    """Labels a workload's pods get (from its pod template)."""
    return ((pod_template(obj) or {}).get("metadata") or {}).get("labels") or {}


# ------------------------------------------------------------------ images

def split_image(image: str) -> tuple[str, str]:
    """(repository, tag or @digest) of an image reference; the tag is "" when there is none."""
    if "@" in image:
        repo, digest = image.split("@", 1)
        return repo, "@" + digest
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = image.rsplit(":", 1)
        return repo, tag
    return image, ""


def image_is_pinned(image: str) -> bool:
    """A tag that is not `latest`, or a sha256 digest."""
    tag = split_image(image)[1]
    if tag.startswith("@"):
        return tag.startswith("@sha256:")
    return tag not in ("", "latest")


def image_repository(image: str) -> str:
    """Docker Hub repository of an image reference, normalised (docker.io/library/x -> x)."""
    repo = split_image(image)[0]
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"):
        if repo.startswith(prefix):
            return repo[len(prefix):]
    return repo


# -------------------------------------------------------------- quantities

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


# --------------------------------------------------------------- selectors

def selector_matches(selector: dict | None, labels: dict) -> bool:
    """A LabelSelector as Kubernetes defines it: an empty selector ({}) matches every
    object; an absent one (None) matches none. matchLabels and matchExpressions are ANDed."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key_, op, values = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(key_) not in values:
            return False
        if op == "NotIn" and key_ in labels and labels[key_] in values:
            return False
        if op == "Exists" and key_ not in labels:
            return False
        if op == "DoesNotExist" and key_ in labels:
            return False
    return True
