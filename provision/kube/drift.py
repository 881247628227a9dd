"""Drift: the cluster against the render of the DEPLOYED commit, read-only.

What was deployed comes from what the last successful deploy recorded
(`last_good`: its SHA, the exact objects it applied, the member keys of its
ApplySet), never from rendering whatever is checked out. Three kinds of drift:

- removed: an object of the deployed set is gone;
- changed: a field the repository declares has another value in the cluster
  (a `kubectl scale`, `kubectl set image`, `kubectl edit`): only declared fields
  are compared, so defaults and controller-written fields never count;
- added: an object in the app namespace that no deploy made (not a member of
  the set, not made by a controller, not the engine's own bookkeeping, not
  another ApplySet's), e.g. a RoleBinding made by hand.

Only reads (one list per kind): the verify identity (view) runs it. Kinds it
may not list (Secrets, Roles, RoleBindings under view) are reported as not
verifiable, never as clean.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import config
from ..config import Target
from ..findings import Finding, failed, passed, unverifiable
from . import applyset, client, history, last_good, lock, volumes
from .objects import key, quantity

# Top-level kinds a person may add to a namespace by hand (beside the set's own group-kinds).
SCANNED = ("ConfigMap", "Secret", "Service", "ServiceAccount", "PersistentVolumeClaim", "Deployment.apps",
           "StatefulSet.apps", "DaemonSet.apps", "Job.batch", "CronJob.batch", "Role.rbac.authorization.k8s.io",
           "RoleBinding.rbac.authorization.k8s.io", "NetworkPolicy.networking.k8s.io",
           "Ingress.networking.k8s.io", "PodDisruptionBudget.policy", "HorizontalPodAutoscaler.autoscaling")
# What every namespace has without anyone adding it.
BUILTIN = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")}
SUBJECT = "the cluster matches the deployed commit's render"


@dataclass(frozen=True)
class Drift:
    what: str            # added | removed | changed
    key: str
    detail: tuple = ()

    def line(self) -> str:
        return f"{self.what} {self.key}" + (": " + "; ".join(self.detail) if self.detail else "")


# ---- pure ----------------------------------------------------------------------------------------

def _same_scalar(a, b) -> bool:
    if a == b or (not isinstance(a, bool) and not isinstance(b, bool) and str(a) == str(b)):
        return True
    try:
        return quantity(a) == quantity(b)
    except Exception:  # noqa: BLE001 - not quantities: different
        return False


def _show(v) -> str:
    s = str(v)
    return s if len(s) <= 60 else s[:57] + "..."


def declared_diffs(declared, live, path: str = "") -> list[str]:
    """Fields the repository declares whose live value differs (pure): `path: repository X, cluster Y`.
    Lists of named items (containers, env, ports with names) are matched by name."""
    if isinstance(declared, dict):
        if not isinstance(live, dict):
            return [f"{path}: repository {_show(declared)}, cluster {_show(live)}"]
        out = []
        for k, v in declared.items():
            p = f"{path}.{k}" if path else k
            if k not in live:
                out.append(f"{p}: repository {_show(v)}, cluster (absent)")
            else:
                out += declared_diffs(v, live[k], p)
        return out
    if isinstance(declared, list):
        if not isinstance(live, list):
            return [f"{path}: repository {_show(declared)}, cluster {_show(live)}"]
        if declared and all(isinstance(x, dict) and "name" in x for x in declared):
            by_name = {x.get("name"): x for x in live if isinstance(x, dict)}
            out = []
            for x in declared:
                p = f"{path}[{x['name']}]"
                out += ([f"{p}: repository present, cluster (absent)"] if x["name"] not in by_name
                        else declared_diffs(x, by_name[x["name"]], p))
            return out
        if len(declared) != len(live):
            return [f"{path}: repository {_show(declared)}, cluster {_show(live)}"]
        return [d for i, (a, b) in enumerate(zip(declared, live, strict=True))
                for d in declared_diffs(a, b, f"{path}[{i}]")]
    return [] if _same_scalar(declared, live) else [f"{path}: repository {_show(declared)}, cluster {_show(live)}"]


def object_diffs(declared: dict, live: dict) -> list[str]:
    """Declared fields of one object that differ in the cluster: labels, annotations, and everything but
    metadata and status."""
    md, lmd = declared.get("metadata") or {}, live.get("metadata") or {}
    out = []
    for part in ("labels", "annotations"):
        out += declared_diffs(md.get(part) or {}, lmd.get(part) or {}, f"metadata.{part}")
    body = {k: v for k, v in declared.items() if k not in ("metadata", "status", "apiVersion", "kind")}
    return out + declared_diffs(body, live)


def bookkeeping(namespace: str) -> set[str]:
    """The engine's own objects in the app namespace (not drift)."""
    return {f"ConfigMap/{namespace}/{n}" for n in (history.CONFIGMAP, last_good.CONFIGMAP, applyset.APP_PARENT)} | {
        f"Lease/{namespace}/{lock.LEASE_NAME}"}


def compare(recorded: list[dict], members: set[str], live: list[dict], set_id: str, namespace: str) -> list[Drift]:
    """Drift of the cluster (`live`: every scanned object of the namespace) against the recorded set (pure).
    `members`: keys of every object the deploy applied (Secrets too, which `recorded` leaves out)."""
    by_key = {key(o): o for o in live}
    out = []
    for o in recorded:
        k = key(o)
        if k not in by_key:
            out.append(Drift("removed", k, ("in the deployed render, not in the cluster",)))
        else:
            d = object_diffs(o, by_key[k])
            if d:
                out.append(Drift("changed", k, tuple(d)))
    claims = {f"PersistentVolumeClaim/{ns}/{c}" for ns, c, _, _ in volumes.claims(recorded)}
    skip = members | claims | bookkeeping(namespace) | {key(o) for o in recorded}
    for o in live:
        md, k = o["metadata"], key(o)
        if k in skip or md.get("ownerReferences") or (o["kind"], md["name"]) in BUILTIN:
            continue
        if o["kind"] == "Secret" and o.get("type") == "kubernetes.io/service-account-token":
            continue
        part_of = (md.get("labels") or {}).get(applyset.PART_OF)
        if part_of and part_of != set_id:
            continue    # another ApplySet's member (the cluster-wide set's, another tool's)
        why = ("labelled part of the set but not in the deployed render (a leftover)" if part_of
               else "not made by any deploy")
        out.append(Drift("added", k, (why,)))
    return sorted(out, key=lambda d: (d.what, d.key))


# ---- reads -----------------------------------------------------------------------------------

def scan(target: Target, namespace: str, gks) -> tuple[list[dict], list[str]]:
    """(every object of the scanned kinds in the namespace, kinds this identity may not list)."""
    out, refused = [], []
    for gk in sorted(set(SCANNED) | set(gks)):
        kind, group = applyset.split_gk(gk)
        try:
            av = applyset.api_version(target, group)
            if not client.resource(target, av, kind)[1]:
                continue
            items = client.list_objects(target, av, kind, namespace)
        except client.NotFound:
            continue
        except client.ApiError as exc:
            if exc.status in (401, 403):
                refused.append(gk)
                continue
            raise
        out += [{**o, "apiVersion": av, "kind": kind} for o in items]
    return out, refused


def findings(target: Target, env: str, namespace: str | None = None) -> list[Finding]:
    """Drift as Findings: one per drifted object (failed), or one passed; unreadable kinds: unverifiable."""
    config.environment(env)
    ns = namespace or config.settings()["kubernetes"]["namespace"]
    grade = target.grade("kube")
    rec = last_good.read_record(target, ns)
    if rec is None:
        return [unverifiable(SUBJECT, "a recorded deploy to compare with", f"no successful deploy recorded in {ns}",
                             grade=grade)]
    parent = applyset.app_parent(ns)
    live, refused = scan(target, ns, applyset.group_kinds(rec.objects))
    visible = [o for o in rec.objects if applyset.group_kind(o) not in refused]
    drifts = compare(visible, set(rec.members), live, parent.id, ns)
    expected = f"deployed {rec.sha[:12]}: every object as rendered, nothing added by hand"
    out = [failed(f"drift: {d.what} {d.key}", expected, d.what, (f"FAIL {d.line()}",), grade=grade)
           for d in drifts]
    if not drifts:
        out.append(passed(SUBJECT, expected, f"{len(visible)} objects as deployed, nothing added in {ns}",
                          grade=grade))
    if refused:
        out.append(unverifiable(f"drift of {', '.join(refused)} in {ns}", "readable by this identity",
                                "listing refused (forbidden)", grade=grade))
    return out


def summary(fs: list[Finding]) -> Finding:
    """One Finding of the drift check: failed naming every drifted object, else passed (unreadable kinds are
    reported by their own unverifiable Finding from `findings`)."""
    bad = [f for f in fs if not f.ok and not f.unverifiable]
    if bad:
        return failed(SUBJECT, bad[0].expected, f"{len(bad)} drifted", tuple(e for f in bad for e in f.evidence),
                      grade=bad[0].grade)
    return next((f for f in fs if f.ok), fs[0])


def corrections(recorded: list[dict] | None, before: dict[str, dict], new_keys) -> list[str]:
    """What a deploy about to apply `new_keys` corrects (pure): objects of the deployed set that were changed
    or deleted by hand, as the cluster had them before the apply (`before`: key -> live object)."""
    out = []
    for o in recorded or []:
        k = key(o)
        if k not in new_keys or o["kind"] == "Secret":
            continue
        if k not in before:
            out.append(f"recreated {k} (deleted by hand)")
        else:
            d = object_diffs(o, before[k])
            if d:
                out.append(f"corrected {k}: " + "; ".join(d))
    return out
