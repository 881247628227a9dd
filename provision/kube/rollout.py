"""Is a rollout done, still going, or clearly failed? Pure predicates on
fetched objects (unit-tested on saved JSON), plus the one fetch of a snapshot.

A rollout is healthy only when every pod of the owned Deployments and
StatefulSets is Running and Ready, updated replicas equal desired, no old pod
is left, and every owned Service has a ready endpoint (EndpointSlices). It has
clearly failed as soon as a pod shows a cause that waiting will not cure
(crash loop, image pull error, unschedulable for lack of resources past a
grace, not Ready past its readiness grace) or a Deployment exceeded its
progressDeadlineSeconds, or once every workload is healthy, a Service whose selector matches no pod
(its endpoints can never become ready); there is no need to sit out the whole deadline. What can be
known before apply is judged before apply (`unfit`: a pod larger than every node).
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from ..config import Target
from ..findings import Finding, failed, passed
from . import client
from .objects import pod_spec, quantity, ref, selector_matches

FATAL_WAITING = {"CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                 "CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
# A container restarted this often is crash-looping even if the kubelet (or kwok)
# has not labelled it CrashLoopBackOff yet.
CRASH_RESTARTS = 3


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _cond(obj: dict, type_: str) -> dict:
    for c in obj.get("status", {}).get("conditions", []) or []:
        if c.get("type") == type_:
            return c
    return {}


def is_pod_ready(pod: dict) -> bool:
    return (pod.get("status", {}).get("phase") == "Running"
            and _cond(pod, "Ready").get("status") == "True"
            and not pod["metadata"].get("deletionTimestamp"))


def is_rollout_complete(dep: dict) -> Finding:
    """Deployment: observed, all replicas updated, available and ready, no old ones."""
    name = f"deployment/{dep['metadata']['name']}"
    want = dep.get("spec", {}).get("replicas", 1)
    st = dep.get("status", {})
    got = {k: st.get(k, 0) for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")}
    actual = ", ".join(f"{k}={v}" for k, v in got.items())
    if st.get("observedGeneration", 0) < dep["metadata"].get("generation", 0):
        return failed(name, f"{want} updated and ready",
                      f"generation {dep['metadata'].get('generation')} not observed yet")
    if any(v != want for v in got.values()):
        return failed(name, f"{want} updated and ready", actual)
    return passed(name, f"{want} updated and ready", actual)


def is_statefulset_complete(sts: dict) -> Finding:
    name = f"statefulset/{sts['metadata']['name']}"
    want = sts.get("spec", {}).get("replicas", 1)
    st = sts.get("status", {})
    actual = (f"ready={st.get('readyReplicas', 0)}, updated={st.get('updatedReplicas', 0)}, "
              f"revision={st.get('currentRevision')}->{st.get('updateRevision')}")
    ok = (st.get("observedGeneration", 0) >= sts["metadata"].get("generation", 0)
          and st.get("readyReplicas", 0) == want and st.get("replicas", 0) == want
          and st.get("updatedReplicas", 0) == want
          and st.get("currentRevision") == st.get("updateRevision"))
    return Finding(ok, name, f"{want} updated and ready", actual)


def deadline_exceeded(dep: dict) -> bool:
    return _cond(dep, "Progressing").get("reason") == "ProgressDeadlineExceeded"


def pod_problems(pod: dict, now: datetime, grace: float) -> list[str]:
    """Causes that waiting will not cure, one line each (empty: none seen)."""
    name = f"pod/{pod['metadata']['name']}"
    if pod["metadata"].get("deletionTimestamp"):
        return []
    st = pod.get("status", {})
    out = []
    sched = _cond(pod, "PodScheduled")
    if sched.get("status") == "False" and sched.get("reason") == "Unschedulable":
        since = parse_time(sched.get("lastTransitionTime")) or now
        if (now - since).total_seconds() >= grace:
            out.append(f"{name}: Pending, FailedScheduling: {sched.get('message', '')}".rstrip())
        return out
    for cs in [*st.get("initContainerStatuses", []), *st.get("containerStatuses", [])]:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason", "")
        if reason in FATAL_WAITING:
            msg = waiting.get("message", "")
            out.append(f"{name}: container {cs['name']} {reason} (restarts {cs.get('restartCount', 0)})"
                       + (f": {msg}" if msg else ""))
        elif cs.get("restartCount", 0) >= CRASH_RESTARTS:
            last = ((cs.get("lastState") or {}).get("terminated") or {})
            out.append(f"{name}: container {cs['name']} CrashLoopBackOff (restarts {cs['restartCount']}, "
                       f"last exit {last.get('exitCode', '?')} {last.get('reason', '')})".rstrip())
    if out or is_pod_ready(pod):
        return out
    started = parse_time(st.get("startTime")) or parse_time(pod["metadata"].get("creationTimestamp")) or now
    age = (now - started).total_seconds()
    if age >= grace:
        states = "; ".join(f"{cs['name']}: ready={cs.get('ready')} {next(iter(cs.get('state') or {'?': 0}))}"
                           for cs in st.get("containerStatuses", []))
        out.append(f"{name}: not Ready after {age:.0f}s (phase {st.get('phase')}; {states or 'no container status'})")
    return out


def owns(selector: dict | None, labels: dict) -> bool:
    """Do a workload's pods carry these labels? A workload without a selector, or with
    an empty one, owns no pod here: apps/v1 refuses both, so never read it as "all pods"
    (objects.selector_matches would: for Kubernetes, {} matches everything)."""
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return False
    return selector_matches(selector, labels)


@dataclass
class Verdict:
    state: str                      # "healthy" | "progressing" | "failed"
    findings: list[Finding]
    problems: list[str]
    ready: dict[str, tuple[int, int]] = field(default_factory=dict)  # workload -> (ready, desired)

    def summary(self) -> str:
        bad = [f.actual and f"{f.subject} {f.actual}" or f.subject for f in self.findings if not f.ok]
        return "; ".join(bad[:4]) or self.state


def evaluate(snapshot: dict, deployments: list[str], statefulsets: list[str], services: list[str],
             now: datetime, grace: float) -> Verdict:
    """Judge a snapshot {deployments, statefulsets, pods, endpointslices: [...]} (pure)."""
    by = {k: {o["metadata"]["name"]: o for o in snapshot.get(k, [])} for k in ("deployments", "statefulsets")}
    findings: list[Finding] = []
    problems: list[str] = []
    ready: dict[str, tuple[int, int]] = {}
    workloads = []
    for kind, names, judge in (("deployments", deployments, is_rollout_complete),
                               ("statefulsets", statefulsets, is_statefulset_complete)):
        for n in names:
            obj = by[kind].get(n)
            if obj is None:
                findings.append(failed(f"{kind[:-1]}/{n}", "exists", "missing"))
                continue
            findings.append(judge(obj))
            ready[f"{kind[:-1]}/{n}"] = (obj.get("status", {}).get("readyReplicas", 0) or 0,
                                         obj.get("spec", {}).get("replicas", 1))
            workloads.append((kind[:-1], obj))
            if kind == "deployments" and deadline_exceeded(obj):
                message = _cond(obj, "Progressing").get("message", "")
                problems.append(f"deployment/{n}: ProgressDeadlineExceeded: {message}")
    for kind_, w in workloads:
        sel = w.get("spec", {}).get("selector")
        pods = [p for p in snapshot.get("pods", []) if owns(sel, p["metadata"].get("labels") or {})]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        unready = [p["metadata"]["name"] for p in live if not is_pod_ready(p)]
        subject = f"pods of {kind_}/{w['metadata']['name']}"
        seen = f"{len(live) - len(unready)}/{len(live)} ready" + (
            f"; not ready: {', '.join(unready[:5])}" if unready else "")
        findings.append(Finding(not unready and bool(live), subject, "all Running and Ready", seen))
        for p in live:
            problems.extend(pod_problems(p, now, grace))
    pods_ok = all(f.ok for f in findings)
    by_svc = {o["metadata"]["name"]: o for o in snapshot.get("services", [])}
    for svc in services:
        slices = [s for s in snapshot.get("endpointslices", [])
                  if (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == svc]
        n = sum(1 for s in slices for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready"))
        findings.append(Finding(n > 0, f"service/{svc} endpoints", "at least one ready endpoint", f"{n} ready"))
        sel = (by_svc.get(svc) or {}).get("spec", {}).get("selector")
        if n == 0 and pods_ok and sel and not any(
                selector_matches({"matchLabels": sel}, p["metadata"].get("labels") or {})
                for p in snapshot.get("pods", []) if not p["metadata"].get("deletionTimestamp")):
            problems.append(f"service/{svc}: its selector {sel} matches no pod, so it can never have a ready "
                            "endpoint (every workload is healthy)")
    state = "healthy" if all(f.ok for f in findings) else ("failed" if problems else "progressing")
    return Verdict(state, findings, problems, ready)


def stuck_statefulset_pods(snapshot: dict) -> list[str]:
    """StatefulSet pods of an old revision that are not Ready (pure).

    A StatefulSet never replaces a broken pod when its template is reverted
    (the documented "forced rollback" case): such pods must be deleted so the
    controller recreates them at the current revision.
    """
    out = []
    for sts in snapshot.get("statefulsets", []):
        want = sts.get("status", {}).get("updateRevision")
        for p in snapshot.get("pods", []):
            labels = p["metadata"].get("labels") or {}
            if (owns(sts["spec"].get("selector"), labels) and want
                    and labels.get("controller-revision-hash") not in (None, want) and not is_pod_ready(p)
                    and not p["metadata"].get("deletionTimestamp")):
                out.append(p["metadata"]["name"])
    return out


# What a rollout verdict reads: snapshot key -> (apiVersion, kind).
SNAPSHOT_KINDS = {"deployments": ("apps/v1", "Deployment"), "statefulsets": ("apps/v1", "StatefulSet"),
                  "pods": ("v1", "Pod"), "endpointslices": ("discovery.k8s.io/v1", "EndpointSlice"),
                  "services": ("v1", "Service")}


def snapshot(target: Target, namespace: str) -> dict:
    """One read of what a rollout verdict needs (5 list calls at once, no kubectl fork)."""
    for v, kind in SNAPSHOT_KINDS.values():
        client.resource(target, v, kind)   # discovery (cached) before the lists fan out
    with ThreadPoolExecutor(len(SNAPSHOT_KINDS)) as pool:
        got = {k: pool.submit(client.list_objects, target, v, kind, namespace)
               for k, (v, kind) in SNAPSHOT_KINDS.items()}
        return {k: f.result() for k, f in got.items()}


def next_poll(previous: float, poll: float, first: float = 0.05) -> float:
    """The wait before the next read: short at first (most rollouts settle within a second), growing
    1.6x up to `poll` (pure)."""
    return min(poll, first if previous <= 0 else previous * 1.6)


def wait(target: Target, namespace: str, names: tuple, timeout: float, grace: float, poll: float, progress,
         fail_fast: bool, min_ready: dict, track: set | None = None) -> Verdict:
    """Poll (short polls first: next_poll) until healthy; with fail_fast, stop at the first clear failure.
    Records the lowest ready count of the workloads in `track` (those that
    existed before the apply) in `min_ready`. Without fail_fast (a rollback)
    it deletes StatefulSet pods stuck at the bad revision."""
    deps, stss, svcs = names
    t0 = time.monotonic()
    said, said_at, delay = "", 0.0, 0.0
    while True:
        snap = snapshot(target, namespace)
        v = evaluate(snap, deps, stss, svcs, datetime.now(UTC), grace)
        for w, (r, want) in v.ready.items():
            if track is not None and w not in track:
                continue
            low = min_ready.setdefault(w, [r, want])
            low[0], low[1] = min(low[0], r), want
        if v.state == "healthy" or (fail_fast and v.state == "failed"):
            return v
        if not fail_fast:
            for pod in stuck_statefulset_pods(snap):
                progress(f"deleting {pod}: a StatefulSet does not replace a broken pod on rollback")
                client.delete(target, "v1", "Pod", pod, namespace)
        waited = time.monotonic() - t0
        if waited > timeout:
            v.problems.append(f"timed out after {timeout:.0f}s waiting for the rollout: {v.summary()}")
            v.state = "failed"
            return v
        summary = v.summary()
        if summary != said or time.monotonic() - said_at > 15:
            progress(f"waiting for the rollout ({waited:.0f}s): {summary}")
            said, said_at = summary, time.monotonic()
        delay = next_poll(delay, poll)
        time.sleep(delay)


# ---- what is certain before apply ------------------------------------------------------------

RESOURCES = ("cpu", "memory")
UNFIT = ("{obj}: a pod requests {want}, more than any node allocates (largest: {have}): Insufficient {what} on "
         "every node, and a node group of this instance type cannot help; nothing was applied")


def pod_requests(spec: dict) -> dict[str, Decimal]:
    """What the scheduler reserves for one pod: per resource the larger of the containers' sum and the
    largest init container (a request defaults to its limit) (pure)."""
    def req(c, r):
        res = c.get("resources") or {}
        v = (res.get("requests") or {}).get(r, (res.get("limits") or {}).get(r))
        return quantity(v) if v is not None else Decimal(0)
    return {r: max(sum((req(c, r) for c in spec.get("containers") or []), Decimal(0)),
                   max((req(c, r) for c in spec.get("initContainers") or []), default=Decimal(0)))
            for r in RESOURCES}


def _show(r: str, v: Decimal) -> str:
    return f"{r} {v.normalize():f}" if r == "cpu" else f"{r} {v / 2**20:.0f}Mi"


def unfit(objs, nodes: list[dict]) -> list[str]:
    """Workloads whose pod fits on no node, even an empty one, one line each (pure). No nodes: none known."""
    allocs = [{r: quantity((n.get("status", {}).get("allocatable") or {}).get(r, 0)) for r in RESOURCES}
              for n in nodes]
    if not allocs:
        return []
    out = []
    for o in objs:
        spec = pod_spec(o)
        if spec is None:
            continue
        want = pod_requests(spec)
        if any(all(want[r] <= a[r] for r in RESOURCES) for a in allocs):
            continue
        big = {r: max(a[r] for a in allocs) for r in RESOURCES}
        out.append(UNFIT.format(obj=ref(o), want=", ".join(_show(r, want[r]) for r in RESOURCES),
                                have=", ".join(_show(r, big[r]) for r in RESOURCES),
                                what=" and ".join(r for r in RESOURCES if want[r] > big[r]) or "room"))
    return out


def nodes(target: Target) -> list[dict]:
    """The cluster's Nodes, or [] when this identity may not list them (the check is then left to the
    rollout's own verdict)."""
    try:
        return client.list_objects(target, "v1", "Node")
    except client.ApiError as exc:
        if exc.status in (401, 403):
            return []
        raise


def warning_events(target: Target, namespace: str, limit: int = 15) -> list[str]:
    """The latest Warning events of the namespace, one line each (evidence)."""
    items = [e for e in client.list_objects(target, "v1", "Event", namespace) if e.get("type") == "Warning"]
    items.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return [f"event {e['involvedObject'].get('kind')}/{e['involvedObject'].get('name')}: "
            f"{e.get('reason')}: {e.get('message', '').strip()} (x{e.get('count') or 1})" for e in items[-limit:]]
