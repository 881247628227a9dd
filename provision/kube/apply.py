"""The deploy's writes: server-side dry run and apply of a whole set of objects,
and the diff of a dry run against the live objects (a no-op deploy writes nothing).

A set goes to the API server as one server-side apply PATCH per object (client.apply: the same request
`kubectl apply --server-side` makes, without a kubectl process, ~100-200 ms each), several at once: a
dry run all together, a real apply in waves so that what an object needs exists first (namespaces and
definitions, then config, accounts, Roles and Services, then RoleBindings, then the workloads whose pods
read them). Refusals are the server's own words. A set that defines kinds (CustomResourceDefinitions:
the operator's cluster set) goes through kubectl's multi-object apply, whose discovery follows them.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from .. import errors
from ..config import Target
from ..constants import FIELD_MANAGER
from . import client, kubectl
from .objects import WORKLOAD_KINDS, key

WORKERS = 4   # requests at once per set: two sets read at once stay within the client's pool of 10 connections
INVALID_MANIFESTS = "the rendered manifests fail server-side validation; nothing was applied: {detail}"


def _as_list(objs) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)})


def _items(result: kubectl.Result) -> list[dict]:
    if not result.stdout.strip():
        return []
    data = result.json()
    return data.get("items", []) if data.get("kind", "").endswith("List") else [data]


class Refusal(errors.ProvisionError):
    """The API server refused one or more objects of a set; one line each in the evidence."""

    def __init__(self, refused: list[tuple[dict, client.ApiError]]):
        lines = [f"{key(o)}: {exc.server_message}" for o, exc in refused]
        super().__init__(f"the API server refused {len(lines)} object(s): {lines[0]}", evidence=tuple(lines))
        self.refused = refused


def wave(obj: dict) -> int:
    """When an object is applied in a set: what it needs exists first (pure)."""
    kind = obj.get("kind")
    if kind in ("Namespace", "CustomResourceDefinition"):
        return 0
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        return 2          # after their Roles: RBAC's escalation check reads the bound Role
    return 3 if kind in WORKLOAD_KINDS else 1   # pods after the config and accounts they read


def _each(fn, items: list, workers: int = WORKERS) -> list:
    """fn over items, several at once; results in order (an exception is returned, not raised)."""
    def safe(x):
        try:
            return fn(x)
        except client.ApiError as exc:
            return exc
    if len(items) <= 1:
        return [safe(x) for x in items]
    with ThreadPoolExecutor(min(workers, len(items))) as pool:
        return list(pool.map(safe, items))


def _discover(target: Target, objs: list[dict]) -> None:
    """Each group-version's discovery once (cached by client), before the requests fan out."""
    for av in sorted({o["apiVersion"] for o in objs}):
        try:
            client.resource(target, av, next(o["kind"] for o in objs if o["apiVersion"] == av))
        except client.ApiError:
            pass          # judged per object


def _through_client(target: Target, objs: list[dict], dry: bool) -> list[dict]:
    _discover(target, objs)
    out: list = [None] * len(objs)
    waves = [list(range(len(objs)))] if dry else [
        [i for i, o in enumerate(objs) if wave(o) == w] for w in sorted({wave(o) for o in objs})]
    for idx in waves:
        got = _each(lambda i: client.apply(target, objs[i], dry_run=dry), idx)
        refused = [(objs[i], g) for i, g in zip(idx, got, strict=True) if isinstance(g, client.ApiError)]
        if refused:
            raise Refusal(refused)
        for i, g in zip(idx, got, strict=True):
            out[i] = g
    return out


def apply_set(target: Target, objs, dry: bool = False) -> list[dict]:
    """Server-side apply of every object as FIELD_MANAGER; the objects as stored (or as they would be).
    An empty set applies nothing (kubectl refuses an empty List): a render may have dropped everything."""
    if not objs:
        return []
    objs = list(objs)
    if not any(o.get("kind") == "CustomResourceDefinition" for o in objs):
        return _through_client(target, objs, dry)
    args = ["apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "--force-conflicts", "-o", "json", "-f", "-"]
    if dry:
        args.insert(1, "--dry-run=server")
    return _items(kubectl.run(target, args, input=_as_list(objs), timeout=300))


def bound_to_new_roles(target: Target, objs) -> list[dict]:
    """RoleBindings to a Role that this same set creates. RBAC's escalation check reads the bound Role, which
    a dry run does not create: for an identity that may not `bind` every Role (any but cluster-admin, e.g. the
    deploy role's EKS access policy) the server refuses them with NotFound. They are validated when applied,
    after their Role."""
    roles = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objs if o.get("kind") == "Role"}
    new = {r for r in roles if client.get(target, "rbac.authorization.k8s.io/v1", "Role", r[1], r[0]) is None}
    return [o for o in objs if o.get("kind") == "RoleBinding" and o.get("roleRef", {}).get("kind") == "Role"
            and (o["metadata"].get("namespace"), o["roleRef"].get("name")) in new]


def dry_run(target: Target, objs) -> list[dict]:
    """The whole set validated by the server (but RoleBindings to Roles it creates: `bound_to_new_roles`);
    BadInput (nothing applied) when it refuses any object."""
    deferred = {id(o) for o in bound_to_new_roles(target, objs)}
    objs = [o for o in objs if id(o) not in deferred]
    try:
        return apply_set(target, objs, dry=True)
    except Refusal as exc:
        raise errors.BadInput(INVALID_MANIFESTS.format(detail=exc.evidence[0]), evidence=exc.evidence) from None
    except kubectl.KubectlError as exc:
        detail = next((line for line in exc.result.stderr.splitlines() if line.strip()), "rejected")
        raise errors.BadInput(INVALID_MANIFESTS.format(detail=detail.strip()), evidence=exc.evidence) from None


def live_objects(target: Target, objs) -> dict[str, dict]:
    """key -> the live object (with its managedFields), for those of `objs` that exist. One list per kind
    and namespace holding several of them, one get for the others; all at once."""
    objs = list(objs)
    groups: dict[tuple, list[dict]] = {}
    for o in objs:
        groups.setdefault((o["apiVersion"], o["kind"], o["metadata"].get("namespace")), []).append(o)

    def read(group):
        (av, kind, ns), members = group
        if len(members) == 1:
            live = client.get(target, av, kind, members[0]["metadata"]["name"], ns)
            return [] if live is None else [live]
        try:
            items = client.list_objects(target, av, kind, ns)
        except client.NotFound:
            return []            # a kind the server does not serve: none of them exist
        names = {m["metadata"]["name"] for m in members}
        return [{**i, "apiVersion": av, "kind": kind} for i in items if i["metadata"]["name"] in names]
    _discover(target, objs)
    out = {}
    for found in _each(read, list(groups.items())):
        if isinstance(found, client.ApiError):
            raise found
        out.update({key(live): live for live in found})
    return out


def _strip(obj: dict) -> dict:
    """What a change is judged on: the object without status and server bookkeeping."""
    o = {k: v for k, v in obj.items() if k != "status"}
    md = {k: v for k, v in (o.get("metadata") or {}).items() if k not in ("managedFields", "resourceVersion")}
    return {**o, "metadata": md}


def diff(live: dict[str, dict], dry: list[dict]) -> list[str]:
    """Keys of objects the dry-run result shows would be created or changed (pure)."""
    return [key(d) for d in dry if key(d) not in live or _strip(live[key(d)]) != _strip(d)]
