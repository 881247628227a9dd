"""The app's health as the API reports it: every workload rolled out and Ready, every selecting
Service with ready endpoints. The live scenario "The live deployment is healthy" and `provision verify`
call `health`; the harness's oracles re-export it (harness/oracles.py).

Independent of the deploy gate: it reads the workloads' conditions, replica counts and revisions, their
pods by ownerReferences and the Services' EndpointSlices, and shares no code with
`provision/kube/rollout.py` (the deploy engine must never call this module: it judges that engine).

Every Finding about pods is graded `target.grade("pods")` and carries the target's named gap POD_GAP
when it has one (`about_pods`): kwok runs no container and no probe, so "Ready" offline is kwok's word.
"""
from __future__ import annotations

from dataclasses import replace

from ..config import Target
from ..findings import Finding, weakest
from ..kube import client

# The gap key the offline target declares for kwok's pods (provision/local/stack.py KWOK_GAPS).
POD_GAP = "kwok-pods"


def about_pods(target: Target, finding: Finding) -> Finding:
    """A Finding that rests on pods' readiness: the pods' grade and the target's pod gap attached."""
    gap = target.gap(POD_GAP)
    gaps = finding.gaps + ((gap,) if gap and gap not in finding.gaps else ())
    return replace(finding, gaps=gaps, grade=weakest([finding.grade, target.grade("pods")]))


def cond(obj: dict, type_: str) -> dict:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == type_), {})


def live(obj: dict) -> bool:
    return not obj["metadata"].get("deletionTimestamp")


def owned_by(obj: dict, uid: str) -> bool:
    return any(r.get("uid") == uid for r in obj["metadata"].get("ownerReferences") or [])


def read(target: Target, ns: str) -> dict:
    """What the health probe reads, straight from the API."""
    kinds = {"deployments": ("apps/v1", "Deployment"), "replicasets": ("apps/v1", "ReplicaSet"),
             "statefulsets": ("apps/v1", "StatefulSet"), "pods": ("v1", "Pod"), "services": ("v1", "Service"),
             "slices": ("discovery.k8s.io/v1", "EndpointSlice")}
    # list items carry no kind: set it, the judges name objects by it
    return {k: [{**o, "kind": kind} for o in client.list_objects(target, v, kind, ns)]
            for k, (v, kind) in kinds.items()}


def workload_pods(state: dict) -> dict[str, list[dict]]:
    """workload -> its live pods, by ownerReferences (Deployment -> ReplicaSet -> Pod; StatefulSet -> Pod)."""
    out = {}
    for d in state["deployments"]:
        rs_uids = {rs["metadata"]["uid"] for rs in state["replicasets"] if owned_by(rs, d["metadata"]["uid"])}
        out[f"deployment/{d['metadata']['name']}"] = [
            p for p in state["pods"] if live(p) and any(owned_by(p, u) for u in rs_uids)]
    for s in state["statefulsets"]:
        out[f"statefulset/{s['metadata']['name']}"] = [
            p for p in state["pods"] if live(p) and owned_by(p, s["metadata"]["uid"])]
    return out


def _workload_problems(obj: dict) -> list[str]:
    md, st = obj["metadata"], obj.get("status") or {}
    name = f"{obj['kind'].lower()}/{md['name']}"
    want = (obj.get("spec") or {}).get("replicas", 1)
    out = []
    if (st.get("observedGeneration") or 0) < (md.get("generation") or 0):
        out.append(f"{name}: generation {md.get('generation')} not observed (observed {st.get('observedGeneration')})")
    for f in ("replicas", "readyReplicas", "updatedReplicas", "availableReplicas"):
        if (st.get(f) or 0) != want:
            out.append(f"{name}: status.{f}={st.get(f) or 0}, want {want}")
    if obj["kind"] == "Deployment":
        av, pr = cond(obj, "Available"), cond(obj, "Progressing")
        if av.get("status") != "True":
            out.append(f"{name}: condition Available={av.get('status')} {av.get('reason', '')}".rstrip())
        if pr.get("status") != "True" or pr.get("reason") != "NewReplicaSetAvailable":
            out.append(f"{name}: condition Progressing={pr.get('status')} {pr.get('reason', '')}".rstrip())
    elif st.get("currentRevision") != st.get("updateRevision"):
        out.append(f"{name}: currentRevision {st.get('currentRevision')} != updateRevision {st.get('updateRevision')}")
    return out


def judge_health(state: dict) -> tuple[list[str], list[str]]:
    """(problems, passing lines) of a namespace read by `read` (pure)."""
    problems, good = [], []
    workloads = [*state["deployments"], *state["statefulsets"]]
    if not workloads:
        problems.append("no Deployment or StatefulSet in the namespace")
    pods = workload_pods(state)
    for w in workloads:
        name = f"{w['kind'].lower()}/{w['metadata']['name']}"
        want = (w.get("spec") or {}).get("replicas", 1)
        bad = _workload_problems(w)
        mine = pods.get(name, [])
        unready = [p["metadata"]["name"] for p in mine
                   if (p.get("status") or {}).get("phase") != "Running" or cond(p, "Ready").get("status") != "True"]
        if unready:
            bad.append(f"{name}: pods not Running and Ready: {', '.join(unready[:5])}")
        if len(mine) != want:
            bad.append(f"{name}: {len(mine)} live pods, want {want}")
        problems += bad
        if not bad:
            good.append(f"{name}: {want}/{want} ready, updated, available")
    for svc in state["services"]:
        if not (svc.get("spec") or {}).get("selector"):
            continue  # no selector: no endpoints managed by the cluster
        n = svc["metadata"]["name"]
        ready = sum(1 for s in state["slices"] if (s["metadata"].get("labels") or {}).get(
            "kubernetes.io/service-name") == n for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get(
            "ready") is True)
        (good if ready else problems).append(f"service/{n}: {ready} ready endpoints")
    return problems, good


def judged(target: Target, ns: str, state: dict) -> Finding:
    """The health Finding of a namespace already read by `read`."""
    problems, good = judge_health(state)
    f = Finding(not problems, f"app in {ns} as the API reports it",
                "workloads observed, ready = updated = available = desired, pods Running and Ready, "
                "every Service with ready endpoints",
                f"{len(problems)} problems" + (f": {problems[0]}" if problems else f", {len(good)} checks pass"),
                evidence=(*(f"FAIL {p}" for p in problems), *(f"ok   {g}" for g in good)))
    return about_pods(target, f)


def health(target: Target, ns: str) -> Finding:
    """Every workload of `ns` rolled out and Ready, every selecting Service with ready endpoints, as the API says."""
    return judged(target, ns, read(target, ns))
