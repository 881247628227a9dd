"""The deploy's writes: server-side dry run and apply of a whole set of objects,
and the diff of a dry run against the live objects (a no-op deploy writes nothing).

The set goes through `kubectl apply --server-side` in one call: kubectl's own
multi-object apply (one List in, every result out, its validation errors as
the server words them) is what the deploy promises; single objects go
through client.apply.
"""
from __future__ import annotations

import json

from .. import errors
from ..config import Target
from ..constants import FIELD_MANAGER
from . import client, kubectl
from .objects import key

INVALID_MANIFESTS = "the rendered manifests fail server-side validation; nothing was applied: {detail}"


def _as_list(objs) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)})


def _items(result: kubectl.Result) -> list[dict]:
    if not result.stdout.strip():
        return []
    data = result.json()
    return data.get("items", []) if data.get("kind", "").endswith("List") else [data]


def apply_set(target: Target, objs, dry: bool = False) -> list[dict]:
    """Server-side apply of every object as FIELD_MANAGER; the objects as stored (or as they would be).
    An empty set applies nothing (kubectl refuses an empty List): a render may have dropped everything."""
    if not objs:
        return []
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
    except kubectl.KubectlError as exc:
        detail = next((line for line in exc.result.stderr.splitlines() if line.strip()), "rejected")
        raise errors.BadInput(INVALID_MANIFESTS.format(detail=detail.strip()), evidence=exc.evidence) from None


def live_objects(target: Target, objs) -> dict[str, dict]:
    """key -> the live object (with its managedFields), for those of `objs` that exist."""
    out = {}
    for o in objs:
        md = o["metadata"]
        live = client.get(target, o["apiVersion"], o["kind"], md["name"], md.get("namespace"))
        if live is not None:
            out[key(live)] = live
    return out


def _strip(obj: dict) -> dict:
    """What a change is judged on: the object without status and server bookkeeping."""
    o = {k: v for k, v in obj.items() if k != "status"}
    md = {k: v for k, v in (o.get("metadata") or {}).items() if k not in ("managedFields", "resourceVersion")}
    return {**o, "metadata": md}


def diff(live: dict[str, dict], dry: list[dict]) -> list[str]:
    """Keys of objects the dry-run result shows would be created or changed (pure)."""
    return [key(d) for d in dry if key(d) not in live or _strip(live[key(d)]) != _strip(d)]
