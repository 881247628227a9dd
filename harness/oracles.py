"""Independent oracles for the deploy engine's claims.

Each reads the input or the API itself and shares no code with what it judges:
not `config.SHA_RE`, not `provision/kube/rollout.py` (the deploy gate), not
`render.uses_configmap`, not the engine's `duration_s` or `min_ready`.

- `is_sha`: a full commit SHA as git prints it, written without a regex.
- `health` (provision/probes/health.py, shared with `provision verify`): the
  workloads as their controllers report them (conditions, replica counts,
  revisions), their pods found by ownerReferences, the Services' EndpointSlices.
- `revisions` / `configmap_consumers`: which workloads a ConfigMap change
  must restart (a recursive walk of the live pod templates) and which the
  cluster did restart (the controllers' pod-template revision and pod uids).
- `Sampler`: a thread polling ready replicas and ready endpoints while a deploy runs.
- `timed_push`: push-to-running measured on the harness's clock, up to healthy by `health`.

Every Finding about pods is graded `target.grade("pods")` and carries the
target's named gap POD_GAP when it has one (`about_pods`): kwok runs no
container and no probe, so "Ready" offline is kwok's word, not a kubelet's.
"""
from __future__ import annotations

import threading
import time

from provision.config import Target
from provision.findings import Finding, failed, passed, unverifiable
from provision.kube import client, history

# The health probe lives in provision/ (the live scenario and `provision verify` call the same one).
from provision.probes.health import POD_GAP, about_pods, health, judge_health, read, workload_pods  # noqa: F401
from provision.probes.health import cond as _cond
from provision.probes.health import owned_by as _owned_by

HEX = "0123456789abcdef"


def is_sha(tag) -> bool:
    """A full lowercase hex commit SHA: 40 characters, each one of 0-9a-f (no regex, no str.isdigit)."""
    return isinstance(tag, str) and len(tag) == 40 and all(c in HEX for c in tag)


def wait_healthy(target: Target, ns: str, timeout: float, interval: float = 0.2) -> tuple[Finding, float]:
    """Poll `health` until green or `timeout`; (last Finding, time.monotonic() when seen)."""
    deadline = time.monotonic() + timeout
    while True:
        f = health(target, ns)
        now = time.monotonic()
        if f.ok or now >= deadline:
            return f, now
        time.sleep(interval)


# ---- which workloads a ConfigMap change must restart, and which the cluster restarted ----------

CONFIGMAP_REFS = ("configMapRef", "configMapKeyRef", "configMap")


def references(node, name: str) -> bool:
    """Does any configMapRef / configMapKeyRef / configMap (volume, projected source) anywhere under `node` name
    `name`? A recursive walk: every container list, init and ephemeral containers, every volume kind."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in CONFIGMAP_REFS and isinstance(v, dict) and v.get("name") == name:
                return True
            if references(v, name):
                return True
    elif isinstance(node, list):
        return any(references(v, name) for v in node)
    return False


def configmap_consumers(state: dict, name: str) -> set[str]:
    return {f"{w['kind'].lower()}/{w['metadata']['name']}" for w in [*state["deployments"], *state["statefulsets"]]
            if references(((w.get("spec") or {}).get("template") or {}).get("spec") or {}, name)}


def revisions(state: dict) -> dict[str, tuple[str, frozenset]]:
    """workload -> (pod-template revision as its controller computed it, uids of its live pods)."""
    pods = workload_pods(state)
    out = {}
    for d in state["deployments"]:
        mine = [rs for rs in state["replicasets"] if _owned_by(rs, d["metadata"]["uid"])]
        newest = max(mine, key=lambda rs: int((rs["metadata"].get("annotations") or {}).get(
            "deployment.kubernetes.io/revision", "0")), default=None)
        rev = (newest["metadata"].get("labels") or {}).get("pod-template-hash", "") if newest else ""
        w = f"deployment/{d['metadata']['name']}"
        out[w] = (rev, frozenset(p["metadata"]["uid"] for p in pods[w]))
    for s in state["statefulsets"]:
        w = f"statefulset/{s['metadata']['name']}"
        out[w] = ((s.get("status") or {}).get("updateRevision", ""), frozenset(p["metadata"]["uid"] for p in pods[w]))
    return out


def restarted_only(target: Target, ns: str, consumers: set[str], before: dict, after: dict) -> Finding:
    """The workloads whose pod template changed and whose pods were replaced are exactly `consumers`."""
    changed = {w for w in after if after[w][0] != before.get(w, ("",))[0]}
    replaced = {w for w in after if w in before and after[w][1] and not (after[w][1] & before[w][1])}
    problems = ([f"not restarted: {w}" for w in sorted(consumers - changed)]
                + [f"pods not replaced: {w}" for w in sorted((consumers & changed) - replaced)]
                + [f"restarted without using it: {w}" for w in sorted((changed | replaced) - consumers)])
    ok = not problems and bool(consumers) and bool(set(after) - consumers)
    f = Finding(ok, f"workloads restarted by the ConfigMap change in {ns}", f"exactly {sorted(consumers)}",
                f"template changed: {sorted(changed)}; pods replaced: {sorted(replaced)}",
                evidence=tuple(f"FAIL {p}" for p in problems), grade=target.grade("kube"))
    return about_pods(target, f) if replaced else f


# ---- availability sampled from outside the engine ------------------------------------------------

class Sampler(threading.Thread):
    """Polls the API while a deploy runs: each workload's status.readyReplicas against spec.replicas and each
    Service's ready EndpointSlice endpoints. Only what existed at the first sample is judged."""

    def __init__(self, target: Target, ns: str, interval: float = 0.1):
        super().__init__(daemon=True)
        self.target, self.ns, self.interval = target, ns, interval
        self.low: dict[str, list[int]] = {}     # name -> [lowest seen, desired]
        self.samples, self.errors = 0, []
        self._halt = threading.Event()

    def sample(self) -> None:
        t, ns = self.target, self.ns
        seen = {}
        for kind in ("Deployment", "StatefulSet"):
            for w in client.list_objects(t, "apps/v1", kind, ns):
                seen[f"{kind.lower()}/{w['metadata']['name']}"] = (
                    (w.get("status") or {}).get("readyReplicas") or 0, (w.get("spec") or {}).get("replicas", 1))
        for s in client.list_objects(t, "discovery.k8s.io/v1", "EndpointSlice", ns):
            svc = (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name")
            if svc:
                n = sum(1 for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready") is True)
                prev = seen.get(f"service/{svc}", (0, 1))[0]
                seen[f"service/{svc}"] = (prev + n, 1)
        first = not self.low and self.samples == 0
        for k, (ready, want) in seen.items():
            if first:
                self.low[k] = [ready, want]
            elif k in self.low:   # desired stays what it was before the deploy
                self.low[k][0] = min(self.low[k][0], ready)
        for k in self.low:
            if k not in seen:   # a workload or Service gone counts as zero ready
                self.low[k][0] = 0
        self.samples += 1

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.sample()
            except Exception as exc:  # reported by `availability`, never swallowed
                self.errors.append(f"{type(exc).__name__}: {exc}")
            self._halt.wait(self.interval)

    def __enter__(self) -> Sampler:
        self.sample()   # the state before the deploy starts
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self._halt.set()
        self.join()


def availability(target: Target, sampler: Sampler, min_samples: int = 3) -> Finding:
    """Never below desired ready replicas, never a Service without a ready endpoint, in every sample."""
    subject = f"availability in {sampler.ns} sampled from the API during the deploy"
    want = "ready replicas >= desired, >= 1 ready endpoint per Service, in every sample"
    if sampler.samples < min_samples or sampler.errors or not sampler.low:
        return about_pods(target, unverifiable(subject, want, f"{sampler.samples} samples, {len(sampler.errors)} "
                                               "errors", evidence=tuple(sampler.errors[:5])))
    bad = {k: v for k, v in sampler.low.items() if v[0] < v[1]}
    shown = ", ".join(f"{k} {a}/{b}" for k, (a, b) in sorted(sampler.low.items()))
    f = (failed if bad else passed)(subject, want, f"{sampler.samples} samples; lowest: {shown}",
                                    evidence=tuple(f"FAIL {k} dropped to {a}/{b}" for k, (a, b) in sorted(bad.items())))
    return about_pods(target, f)


# ---- push to running on the harness's clock ------------------------------------------------------

def timed_push(target: Target, ns: str, deploy, limit: float) -> Finding:
    """Call `deploy()` (the engine, or the CLI), then wait for `health`; the time is the harness's
    time.monotonic() from before the call until `health` is first green; never the engine's report."""
    t0 = time.monotonic()
    result = deploy()
    f, seen = wait_healthy(target, ns, timeout=max(0.0, limit - (time.monotonic() - t0)) + 1)
    took = seen - t0
    ok = f.ok and took <= limit
    return about_pods(target, Finding(
        ok, f"push to running in {ns}", f"healthy within {limit:g}s of the deploy's start (harness clock)",
        f"{took:.1f}s, " + ("healthy" if f.ok else "never healthy"),
        evidence=((f"FAIL took {took:.1f}s, over the {limit:g}s budget",) if took > limit else ())
        + ((f"FAIL not healthy: {f.actual}",) if not f.ok else ()) + (f"deploy returned: {result}",)))


def push_from_api(target: Target, ns: str, entries: list[dict], limit: float) -> Finding:
    """Where no test deploy may run (live): the last successful deploy's start (its history entry) to the
    latest Ready transition of the pods the API shows now, which must all be Ready."""
    from datetime import datetime

    subject = f"push to running in {ns}"
    want = f"healthy within {limit:g}s of the deploy's start (history start -> pods' Ready transitions)"
    good = [e for e in entries if e.get("result") == history.SUCCEEDED and e.get("started")]
    if not good:
        return about_pods(target, unverifiable(subject, want, "no successful deploy in the history"))
    started = datetime.fromisoformat(good[-1]["started"].replace("Z", "+00:00"))
    state = read(target, ns)
    problems, _ = judge_health(state)
    ready_at = [datetime.fromisoformat(_cond(p, "Ready")["lastTransitionTime"].replace("Z", "+00:00"))
                for pods in workload_pods(state).values() for p in pods
                if _cond(p, "Ready").get("status") == "True" and _cond(p, "Ready").get("lastTransitionTime")]
    if problems or not ready_at:
        return about_pods(target, failed(subject, want, "not healthy now", tuple(f"FAIL {p}" for p in problems)))
    took = (max(ready_at) - started).total_seconds()
    if took < 0:
        return about_pods(target, unverifiable(subject, want, "no pod became Ready after the last successful "
                                               "deploy started (it replaced no pod)"))
    return about_pods(target, Finding(took <= limit, subject, want, f"{took:.0f}s",
                                      evidence=(f"FAIL took {took:.0f}s, over the {limit:g}s budget",)
                                      if took > limit else ()))


def tag_strategy():
    """Hypothesis strategy of image tags: full SHAs and their near misses (uppercase, 39/41 characters,
    a trailing newline or space, a leading space, unicode digits, other text)."""
    from hypothesis import strategies as st

    shas = st.text(HEX, min_size=40, max_size=40)
    near = st.one_of(
        shas.map(str.upper).filter(lambda s: s != s.lower()), shas.map(lambda s: s[:39]), shas.map(lambda s: s + "0"),
        shas.map(lambda s: s + "\n"), shas.map(lambda s: s + " "), shas.map(lambda s: " " + s[1:]),
        st.tuples(shas, st.integers(0, 39), st.sampled_from("\u0660\u06f0\uff10\u0966\u00b2G\u00e9")).map(
            lambda t: t[0][:t[1]] + t[2] + t[0][t[1] + 1:]),
        st.text(max_size=45), st.sampled_from(["latest", "v1.2.3", "main", ""]))
    return st.one_of(shas, near)
