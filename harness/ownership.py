"""The ownership oracle: the namespace holds exactly a render, nothing left over, nothing twice.

Reads the API itself (list calls per kind) and shares no code with what it judges:
not `provision/kube/applyset.py`, `prune.py` or `drift.py`, not the engine's record
(`last_good`, history). Used by the prune, rollback and P2 sequence scenarios.
"""
from __future__ import annotations

from provision.config import Target
from provision.findings import Finding
from provision.kube import client


def _owned_by(obj: dict, uid: str) -> bool:
    return any(r.get("uid") == uid for r in obj["metadata"].get("ownerReferences") or [])
# Kinds the ownership oracle lists (with the render's own): what a deploy or a person could leave behind.
LEFTOVER_KINDS = (("v1", "ConfigMap"), ("v1", "Service"), ("v1", "ServiceAccount"), ("v1", "PersistentVolumeClaim"),
                  ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("networking.k8s.io/v1", "NetworkPolicy"),
                  ("networking.k8s.io/v1", "Ingress"), ("rbac.authorization.k8s.io/v1", "Role"),
                  ("rbac.authorization.k8s.io/v1", "RoleBinding"))
ORDINARY = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")}


def _sub(want, got) -> bool:
    """Every field of `want` has its value in `got` (lists of named items by name; scalars as text)."""
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and _sub(v, got[k]) for k, v in want.items())
    if isinstance(want, list):
        if not isinstance(got, list):
            return False
        if all(isinstance(x, dict) and "name" in x for x in want):
            named = {x.get("name"): x for x in got if isinstance(x, dict)}
            return all(x["name"] in named and _sub(x, named[x["name"]]) for x in want)
        return len(want) == len(got) and all(_sub(a, b) for a, b in zip(want, got, strict=True))
    return str(want) == str(got)


def exactly(target: Target, ns: str, want: list[dict], ignore=(), claims_kept=()) -> Finding:
    """The namespace holds exactly `want` (every object, with the render's data/spec/image values), nothing
    else of the listed kinds a deploy or a person makes (controller-made objects, the namespace's ordinary
    objects and `ignore` names aside), and each workload runs one ReplicaSet generation. Read from the API,
    never from the engine's record. `claims_kept`: claims that must still exist (never pruned)."""
    names = {(o["kind"], o["metadata"]["name"]) for o in want}
    kinds = set(LEFTOVER_KINDS) | {(o["apiVersion"], o["kind"]) for o in want if o["kind"] not in ("Secret",)}
    live = {}
    for av, kind in sorted(kinds):
        for o in client.list_objects(target, av, kind, ns):
            live[(kind, o["metadata"]["name"])] = o
    # claims a StatefulSet makes from its volumeClaimTemplates: <template>-<statefulset>-<ordinal>
    made_by_statefulsets = {f"{t['metadata']['name']}-{o['metadata']['name']}-{i}" for o in want
                            if o["kind"] == "StatefulSet" for t in o["spec"].get("volumeClaimTemplates") or []
                            for i in range(o["spec"].get("replicas", 1))}
    problems = []
    for o in want:
        k = (o["kind"], o["metadata"]["name"])
        if o["kind"] == "Secret":
            continue
        got = live.get(k)
        if got is None:
            problems.append(f"missing {k[0]}/{ns}/{k[1]}")
            continue
        body = {f: o[f] for f in ("data", "spec", "roleRef", "subjects") if f in o}
        if not _sub(body, got):
            problems.append(f"differs {k[0]}/{ns}/{k[1]} from the render")
    for (kind, name), o in sorted(live.items()):
        if (kind, name) in names or (kind, name) in ORDINARY or name in ignore or o["metadata"].get("ownerReferences"):
            continue
        if kind == "PersistentVolumeClaim" and (name in claims_kept or name in made_by_statefulsets):
            continue
        problems.append(f"left over {kind}/{ns}/{name}")
    for c in claims_kept:
        if ("PersistentVolumeClaim", c) not in live:
            problems.append(f"claim deleted PersistentVolumeClaim/{ns}/{c}")
    rs = client.list_objects(target, "apps/v1", "ReplicaSet", ns)
    for (kind, name), d in sorted(live.items()):
        active = [r for r in rs if _owned_by(r, d["metadata"]["uid"]) and (r.get("spec") or {}).get("replicas")]
        if kind == "Deployment" and len(active) > 1:
            problems.append(f"twice deployment/{name}: {len(active)} ReplicaSets with replicas")
    return Finding(not problems, f"objects in {ns}", f"exactly the {len(want)} objects of the render, no leftover",
                   f"{len(problems)} problems" + (f": {problems[0]}" if problems else ""),
                   evidence=tuple(f"FAIL {p}" for p in problems), grade=target.grade("kube"))


def claims_exist(target: Target, ns: str, names) -> Finding:
    """Every named PersistentVolumeClaim is still in the namespace (a prune never deletes data by itself)."""
    live = {c["metadata"]["name"] for c in client.list_objects(target, "v1", "PersistentVolumeClaim", ns)
            if not c["metadata"].get("deletionTimestamp")}
    gone = [n for n in names if n not in live]
    return Finding(not gone, f"claims in {ns}", f"{len(names)} still exist", f"{len(names) - len(gone)} exist",
                   evidence=tuple(f"FAIL deleted PersistentVolumeClaim/{ns}/{n}" for n in gone),
                   grade=target.grade("kube"))
