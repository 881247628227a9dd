"""Which objects a deploy owns, in Kubernetes' own format: an ApplySet (KEP-3659).

A parent object (here a ConfigMap, which the read-only verify identity may read,
unlike a Secret) carries the label `applyset.kubernetes.io/id` and the annotations
`applyset.kubernetes.io/tooling`, `.../contains-group-kinds` (and
`.../additional-namespaces` when members live in other namespaces); every member
carries the label `applyset.kubernetes.io/part-of=<id>`. The id is
`applyset-<base64url(sha256(<name>.<namespace>.<Kind>.<group>))>-v1`, exactly as
kubectl computes it, so `kubectl get ... -l applyset.kubernetes.io/part-of=<id>`
or any ApplySet-aware tool sees what belongs to a deploy.

Sets: the app's (parent `deploy-applyset` in the app namespace, written by the
deploy) and the cluster-wide parts' (parent `cluster-applyset` in kube-system,
written by the operator: `apply_cluster`). A Namespace is never a member (the
operator creates it; nothing ever prunes it).
"""
from __future__ import annotations

import base64
import copy
import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..config import Target
from ..constants import FIELD_MANAGER, MANAGED_BY_LABEL
from . import client

PART_OF = "applyset.kubernetes.io/part-of"
ID_LABEL = "applyset.kubernetes.io/id"
TOOLING = "applyset.kubernetes.io/tooling"
GROUP_KINDS = "applyset.kubernetes.io/contains-group-kinds"
ADDITIONAL_NAMESPACES = "applyset.kubernetes.io/additional-namespaces"
TOOLING_VALUE = f"{FIELD_MANAGER}/v1"
APP_PARENT = "deploy-applyset"
CLUSTER_PARENT, CLUSTER_PARENT_NAMESPACE = "cluster-applyset", "kube-system"
NEVER_MEMBERS = frozenset({"Namespace"})


def set_id(name: str, namespace: str, kind: str = "ConfigMap", group: str = "") -> str:
    """The ApplySet id of a parent, as KEP-3659 and kubectl define it."""
    digest = hashlib.sha256(f"{name}.{namespace}.{kind}.{group}".encode()).digest()
    return f"applyset-{base64.urlsafe_b64encode(digest).decode().rstrip('=')}-v1"


def group_kind(obj: dict) -> str:
    """`Kind.group` (`Kind` for the core group): the spec's contains-group-kinds entry."""
    av = obj.get("apiVersion", "v1")
    return f"{obj['kind']}.{av.split('/')[0]}" if "/" in av else obj["kind"]


def group_kinds(objs) -> set[str]:
    return {group_kind(o) for o in objs if o.get("kind") not in NEVER_MEMBERS}


def split_gk(gk: str) -> tuple[str, str]:
    kind, _, group = gk.partition(".")
    return kind, group


@dataclass(frozen=True)
class Parent:
    name: str
    namespace: str

    @property
    def id(self) -> str:
        return set_id(self.name, self.namespace)

    @property
    def selector(self) -> str:
        return f"{PART_OF}={self.id}"


def app_parent(namespace: str) -> Parent:
    return Parent(APP_PARENT, namespace)


def cluster_parent() -> Parent:
    return Parent(CLUSTER_PARENT, CLUSTER_PARENT_NAMESPACE)


def label(objs, parent: Parent) -> list[dict]:
    """Copies of `objs`, each member labelled part-of the set (Namespaces left as they are). Pure."""
    out = []
    for o in objs:
        o = copy.deepcopy(o)
        if o.get("kind") not in NEVER_MEMBERS:
            o.setdefault("metadata", {}).setdefault("labels", {})[PART_OF] = parent.id
        out.append(o)
    return out


def parent_object(parent: Parent, gks, namespaces=()) -> dict:
    ann = {TOOLING: TOOLING_VALUE, GROUP_KINDS: ",".join(sorted(gks))}
    extra = sorted(set(namespaces) - {parent.namespace})
    if extra:
        ann[ADDITIONAL_NAMESPACES] = ",".join(extra)
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": parent.name, "namespace": parent.namespace,
                         "labels": {ID_LABEL: parent.id, MANAGED_BY_LABEL: FIELD_MANAGER}, "annotations": ann}}


def _split(value: str | None) -> set[str]:
    return {x for x in (value or "").split(",") if x}


@dataclass(frozen=True)
class Recorded:
    """What a parent declares: its group-kinds and the namespaces its members live in."""
    gks: frozenset
    namespaces: frozenset


def read(target: Target, parent: Parent) -> Recorded | None:
    cm = client.get(target, "v1", "ConfigMap", parent.name, parent.namespace)
    if cm is None:
        return None
    ann = cm["metadata"].get("annotations") or {}
    return Recorded(frozenset(_split(ann.get(GROUP_KINDS))),
                    frozenset({parent.namespace} | _split(ann.get(ADDITIONAL_NAMESPACES))))


def namespaces_of(objs, parent: Parent) -> set[str]:
    return {parent.namespace} | {o["metadata"]["namespace"] for o in objs if o["metadata"].get("namespace")}


def write(target: Target, parent: Parent, gks, namespaces, have: Recorded | None) -> bool:
    """The parent as declared (server-side apply); no write when it already says exactly that."""
    want = Recorded(frozenset(gks), frozenset(set(namespaces) | {parent.namespace}))
    if have == want:
        return False
    client.apply(target, parent_object(parent, want.gks, want.namespaces))
    return True


# ---- the members as the cluster has them -------------------------------------------------------

_versions: dict[tuple[int, str], str] = {}


def api_version(target: Target, group: str) -> str:
    """The server's preferred version of a group (discovery, cached): how a recorded group-kind is listed."""
    if not group:
        return "v1"
    k = (id(client.api(target)), group)
    if k not in _versions:
        found = client.request(target, "GET", f"/apis/{group}")
        _versions[k] = found["preferredVersion"]["groupVersion"]
    return _versions[k]


def members(target: Target, parent: Parent, gks, namespaces) -> list[dict]:
    """Every live object labelled part-of the set, of the given group-kinds, in the given namespaces
    (cluster-scoped kinds once). One list call per (group-kind, namespace), several at once."""
    lists = []
    for gk in sorted(gks):
        kind, group = split_gk(gk)
        av = api_version(target, group)
        try:
            namespaced = client.resource(target, av, kind)[1]
        except client.NotFound:
            continue    # a kind the server no longer serves has no members left
        lists += [(av, kind, ns) for ns in (sorted(namespaces) if namespaced else [None])]

    def one(job):
        av, kind, ns = job
        return [{**o, "apiVersion": av, "kind": kind}
                for o in client.list_objects(target, av, kind, ns, label_selector=parent.selector)]
    if len(lists) <= 1:
        return [o for job in lists for o in one(job)]
    with ThreadPoolExecutor(min(4, len(lists))) as pool:
        return [o for found in pool.map(one, lists) for o in found]


def apply_cluster(target: Target, objs, apply=None, progress=lambda m: None) -> list[str]:
    """The operator's cluster-wide parts as their own set (parent `kube-system/cluster-applyset`), for
    `cluster bootstrap`: label, record the parent (old and new group-kinds), apply (`apply(target, objs)`
    returning the keys it wrote, e.g. bootstrap's write-only-what-differs; default: apply all), then prune
    what the render no longer has (never a Namespace, never data: prune.py) and narrow the parent.
    Returns what it wrote; a second run with the same render writes nothing."""
    from . import prune
    from .apply import apply_set
    from .objects import key

    parent = cluster_parent()
    labelled = label(objs, parent)
    members_ = [o for o in labelled if o["kind"] not in NEVER_MEMBERS]
    have = read(target, parent)
    gks, nss = prune.scope(have, members_, parent)
    ref = f"ConfigMap/{parent.namespace}/{parent.name}"
    written = [ref] if write(target, parent, gks, nss, have) else []
    written += list((apply or (lambda t, o: [key(x) for x in apply_set(t, o)]))(target, labelled))
    done, n = prune.finish(target, parent, members_, prune_data=False, progress=progress)
    written += [f"pruned {k}" for k in done.deleted]
    if n > len(done.deleted) and ref not in written:
        written.append(ref)
    return written
