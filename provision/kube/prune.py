"""Prune: delete the members of an ApplySet that the new render no longer has.

Called only once the new version is healthy (deploy.py), or once the restored
version is healthy after a failed deploy (so a rollback removes what the failed
deploy added). Never deleted: a Namespace (never a member), and data-bearing
kinds (PersistentVolumeClaim, PersistentVolume) unless the deploy was given
`--prune-data`; those are kept, stay members and are reported.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..config import Target
from . import applyset, client
from .objects import key

DATA_KINDS = frozenset({"PersistentVolumeClaim", "PersistentVolume"})
KEPT_DATA = "kept {key}: data-bearing, pruned only with --prune-data"


@dataclass
class Plan:
    delete: list[dict] = field(default_factory=list)
    kept: list[tuple[dict, str]] = field(default_factory=list)   # (object, why)


@dataclass
class Done:
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)             # lines: what stayed and why
    kept_gks: set = field(default_factory=set)
    kept_namespaces: set = field(default_factory=set)


def plan(live_members, keep_keys, prune_data: bool, data_kinds=None) -> Plan:
    """Which live members to delete (pure): those not in `keep_keys`, but never a Namespace and
    never a data-bearing kind without `prune_data`."""
    out, keep = Plan(), set(keep_keys)
    data_kinds = DATA_KINDS if data_kinds is None else data_kinds
    for o in sorted(live_members, key=key):
        if key(o) in keep or o["metadata"].get("deletionTimestamp"):
            continue
        if o.get("kind") in applyset.NEVER_MEMBERS:
            out.kept.append((o, f"kept {key(o)}: a Namespace is never pruned"))
        elif o.get("kind") in data_kinds and not prune_data:
            out.kept.append((o, KEPT_DATA.format(key=key(o))))
        else:
            out.delete.append(o)
    return out


def scope(have: applyset.Recorded | None, keep_objs, parent: applyset.Parent) -> tuple[set, set]:
    """(group-kinds, namespaces) to look in: what the parent recorded and what the new render has."""
    gks = applyset.group_kinds(keep_objs) | (set(have.gks) if have else set())
    nss = applyset.namespaces_of(keep_objs, parent) | (set(have.namespaces) if have else set())
    return gks, nss


def pending(target: Target, parent: applyset.Parent, keep_objs, prune_data: bool,
            have: applyset.Recorded | None, data_kinds=None, keep_keys=()) -> Plan:
    """The prune a deploy of `keep_objs` (and `keep_keys`) would do now (reads only: one list per group-kind
    and namespace)."""
    if have is None:
        return Plan()   # no parent, no set yet: nothing is known to be ours
    gks, nss = scope(have, keep_objs, parent)
    return plan(applyset.members(target, parent, gks, nss), {key(o) for o in keep_objs} | set(keep_keys),
                prune_data, data_kinds)


def after_health(target: Target, parent: applyset.Parent, keep_objs, prune_data: bool,
                 progress=lambda m: None, data_kinds=None, keep_keys=()) -> Done:
    """Delete the members `keep_objs` (and `keep_keys`) no longer has; what was kept, and the group-kinds and
    namespaces the parent must still record for it."""
    p = pending(target, parent, keep_objs, prune_data, applyset.read(target, parent), data_kinds, keep_keys)
    done = Done()
    for o in p.delete:
        md = o["metadata"]
        progress(f"pruning {key(o)}: no longer in the repository's render")
        if client.delete(target, o["apiVersion"], o["kind"], md["name"], md.get("namespace")):
            done.deleted.append(key(o))
    for o, why in p.kept:
        done.kept.append(why)
        done.kept_gks.add(applyset.group_kind(o))
        if o["metadata"].get("namespace"):
            done.kept_namespaces.add(o["metadata"]["namespace"])
    return done


def finish(target: Target, parent: applyset.Parent, keep_objs, prune_data: bool, progress=lambda m: None,
           keep_keys=()) -> tuple[Done, int]:
    """Prune after health, then narrow the parent to what the set now holds; (what was done, writes)."""
    done = after_health(target, parent, keep_objs, prune_data, progress, keep_keys=keep_keys)
    wrote = applyset.write(target, parent, applyset.group_kinds(keep_objs) | done.kept_gks,
                           applyset.namespaces_of(keep_objs, parent) | done.kept_namespaces,
                           applyset.read(target, parent))
    return done, len(done.deleted) + int(wrote)
