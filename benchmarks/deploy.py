"""Benchmark: the deploy engine beside the naive baseline, on the local control plane.

    CTL_STACK_DIR=<running stack> .venv/bin/python benchmarks/deploy.py [--repeats 3] [--naive-timeout 60]
        [--naive-kinds never-ready,crashloop]

Cases: a healthy deploy (first deploy into a fresh namespace; the median of --repeats, engine and naive
alternating), with the API requests and kubectl processes it made; a healthy update (a new SHA over the
running version, what a push deploys); a no-op deploy (same SHA again: the
engine must make zero writes); one failed deploy per failure kind the health gate recognises, each
timed from apply to verdict and to a completed rollback (too-big is refused before apply: timed from
the start); then the prune step on its own (its reads on a no-op, its reads and deletes on a change that
drops two objects). Baseline: `kubectl apply` of the same rendered set (what `kubectl apply -k` does) +
`kubectl rollout status`, and on failure `kubectl rollout undo` once the status wait times out (the naive
script cannot tell a clear failure early; it is measured for --naive-kinds only, the others wait for
the same timeout). Figures go to benchmarks/figures.py (one table in `make bench`).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import emit  # noqa: E402

from harness import kube as testing  # noqa: E402
from harness.faults import deploy as deploy_faults  # noqa: E402
from provision.kube import apply, applyset, client, kubectl, prune, render  # noqa: E402
from provision.local import stack  # noqa: E402

WORKLOADS = ("deployment/web-app", "deployment/api-backend", "statefulset/postgres")
KINDS = ("never-ready", "crashloop", "too-big", "service-selects-nothing")
GRACE = 6.0   # the readiness grace of the failed deploys: never-ready is judged when it is spent (the engine's
# default comes from the readiness probes, at least 30 s; kwok runs no probe)


def rvs(target, objs):
    return {k: o["metadata"]["resourceVersion"] for k, o in apply.live_objects(target, objs).items()}


def naive(target, ns, objs, timeout):
    kubectl.run(target, ["apply", "-f", "-"], input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))
    ok = True
    for w in WORKLOADS:
        r = kubectl.run(target, ["rollout", "status", w, "-n", ns, f"--timeout={timeout}s"], check=False)
        ok = ok and r.returncode == 0
    if not ok:
        for w in WORKLOADS[:2]:
            kubectl.run(target, ["rollout", "undo", w, "-n", ns], check=False)
        for w in WORKLOADS[:2]:
            kubectl.run(target, ["rollout", "status", w, "-n", ns, "--timeout=300s"], check=False)
    return ok


class Counted:
    """Counts the API requests (client.request) and kubectl processes (kubectl.run) made meanwhile."""

    def __enter__(self):
        self.n, self.procs, self.real, self.real_run = 0, 0, client.request, kubectl.run

        def counted(*a, **k):
            self.n += 1
            return self.real(*a, **k)

        def counted_run(*a, **k):
            self.procs += 1
            return self.real_run(*a, **k)
        client.request, kubectl.run = counted, counted_run
        return self

    def __exit__(self, *exc):
        client.request, kubectl.run = self.real, self.real_run


class Clock:
    """A deploy's progress lines with their times: when it applied, when it judged."""

    def __init__(self):
        self.t0, self.marks = time.monotonic(), []

    def __call__(self, msg: str) -> None:
        self.marks.append((time.monotonic() - self.t0, msg))

    def at(self, prefix: str) -> float | None:
        return next((t for t, m in self.marks if m.startswith(prefix)), None)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--naive-timeout", type=int, default=60,
                    help="naive rollout status timeout (the real default is 600s progressDeadline)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--naive-kinds", default="never-ready", help="failure kinds the naive script is timed on")
    ap.add_argument("--kinds", default=",".join(KINDS), help="failure kinds to time")
    args = ap.parse_args()
    given = Path(os.environ.get(stack.STACK_DIR_ENV, stack.default_dir()))
    own = None
    if not stack.is_running(given):  # no `provision local up`: a stack of our own, stopped at the end
        own = Path(tempfile.mkdtemp(prefix="bench-deploy-"))
        given = own
        stack.up(own, progress=lambda m: print(f"# {m}", file=sys.stderr))
    state = stack.read_state(given)
    target = stack.target(state)
    os.environ.update(stack.offline_aws_env())
    os.environ.update(target.env())
    try:
        healthy_and_noop(target, args)
        failures(target, args)
        prune_cost(target, testing.sha_for("good"))
        return 0
    finally:
        if own:
            stack.down(own, progress=lambda m: None)


def healthy_and_noop(target, args) -> None:
    base = render.render("dev")
    engine, naive_s, counts, upd_e, upd_n = [], [], [], [], []
    for _ in range(max(1, args.repeats)):
        good = testing.sha_for("good")
        ns_e, ns_n = testing.fresh_namespace(target, "bench-e"), testing.fresh_namespace(target, "bench-n")
        try:
            with Counted() as c:
                t0 = time.monotonic()
                run = testing.run_deploy(target, testing.options("dev", good, ns_e))
                engine.append(time.monotonic() - t0)
            assert run.outcome and run.outcome.result == "succeeded", run.error
            counts.append((c.n, c.procs))
            nobjs = [o for o in render.prepare(base, good, ns_n) if o["kind"] != "Namespace"]
            t0 = time.monotonic()
            naive(target, ns_n, nobjs, args.naive_timeout)
            naive_s.append(time.monotonic() - t0)
            if len(engine) == 1:       # the no-op: same SHA again, zero writes
                objs = [o for o in render.prepare(base, good, ns_e) if o["kind"] != "Namespace"]
                before = rvs(target, objs)
                t0 = time.monotonic()
                again = testing.run_deploy(target, testing.options("dev", good, ns_e))
                te = time.monotonic() - t0
                writes = sum(1 for k, v in rvs(target, objs).items() if before.get(k) != v)
                t0 = time.monotonic()
                naive(target, ns_n, nobjs, args.naive_timeout)
                tn = time.monotonic() - t0
                emit("deploy.no-op", te, "s", tn, "naive", f"engine result: {again.outcome.result}")
                emit("deploy.no-op.writes", writes, "writes", note="resourceVersions changed (must be 0)")
            new = testing.sha_for("good")             # the update: a new SHA over the running version
            t0 = time.monotonic()
            upd = testing.run_deploy(target, testing.options("dev", new, ns_e))
            upd_e.append(time.monotonic() - t0)
            assert upd.outcome and upd.outcome.result == "succeeded", upd.error
            nobjs = [o for o in render.prepare(base, new, ns_n) if o["kind"] != "Namespace"]
            t0 = time.monotonic()
            naive(target, ns_n, nobjs, args.naive_timeout)
            upd_n.append(time.monotonic() - t0)
        finally:
            for ns in (ns_e, ns_n):
                testing.drop_namespace(target, ns)
    reqs, procs = counts[len(counts) // 2]
    emit("deploy.healthy", statistics.median(engine), "s", statistics.median(naive_s), "naive",
         f"median of {len(engine)}; engine {', '.join(f'{x:.2f}' for x in engine)}; "
         f"naive {', '.join(f'{x:.2f}' for x in naive_s)}")
    emit("deploy.healthy.update", statistics.median(upd_e), "s", statistics.median(upd_n), "naive",
         f"a new SHA over the running version, median of {len(upd_e)}; engine "
         f"{', '.join(f'{x:.2f}' for x in upd_e)}; naive {', '.join(f'{x:.2f}' for x in upd_n)}")
    emit("deploy.healthy.api_requests", reqs, "requests", note="API requests of one healthy deploy")
    emit("deploy.healthy.kubectl_processes", procs, "processes", note="kubectl launches of one healthy deploy")


def _bad(word: str, ns: str, good: str, tmp: Path) -> dict:
    """Options of a failed deploy of this kind over `good`."""
    if word == "too-big":
        return {"sha": good, "overlay": testing.overlay(tmp, "too-big")}
    if word == "service-selects-nothing":
        sha = testing.sha_for("good")
        objs = testing.dev_objects(ns, sha, namespaces=False)
        svc = next(o for o in objs if o["kind"] == "Service" and o["spec"].get("selector"))
        svc["spec"]["selector"] = {**svc["spec"]["selector"], "app": "nothing-has-this-label"}
        return {"sha": sha, "objects": tuple(objs)}
    return {"sha": testing.sha_for(word)}


def failures(target, args) -> None:
    base = render.render("dev")
    naive_kinds = {k for k in args.naive_kinds.split(",") if k}
    naive_figure = None
    with tempfile.TemporaryDirectory() as tmp:
        for word in [k for k in args.kinds.split(",") if k]:
            ns = testing.fresh_namespace(target, "bench-f")
            ns_n = testing.fresh_namespace(target, "bench-fn") if word in naive_kinds else None
            try:
                good = testing.sha_for("good")
                testing.run_deploy(target, testing.options("dev", good, ns))
                bad = _bad(word, ns, good, Path(tmp))
                sha = bad.pop("sha")
                clock = Clock()
                opts = dataclasses.replace(testing.options("dev", sha, ns, **bad), ready_grace=GRACE)
                run = testing.run_deploy(target, opts, progress=clock)
                total = time.monotonic() - clock.t0
                applied = clock.at("server-side apply")
                judged = clock.at("rolling back to")
                o = run.outcome
                result = o.result if o else type(run.error).__name__
                low = ", ".join(f"{w} {lo}/{want}" for w, (lo, want) in sorted((o.min_ready if o else {}).items()))
                if applied is None:    # refused before apply
                    emit(f"deploy.failed.{word}.verdict", total, "s", note=f"refused before apply ({result}, "
                         f"exit {getattr(run.error, 'exit_code', '?')}): {str(run.error)[:90]}")
                else:
                    emit(f"deploy.failed.{word}.verdict", None if judged is None else judged - applied, "s",
                         note=f"apply -> verdict ({result}; readiness grace {GRACE:.0f} s)")
                    emit(f"deploy.failed.{word}.rolled_back", total - applied, "s",
                         note=f"apply -> rollback complete; lowest ready {low or '-'}")
                if ns_n:
                    objs = [o for o in render.prepare(base, good, ns_n) if o["kind"] != "Namespace"]
                    naive(target, ns_n, objs, args.naive_timeout)
                    bad_objs = ([o for o in bad["objects"]] if "objects" in bad else
                                [o for o in render.prepare(render.render_dir(bad["overlay"]) if "overlay" in bad
                                                           else base, sha, ns_n) if o["kind"] != "Namespace"])
                    bad_objs = [{**o, "metadata": {**o["metadata"], "namespace": ns_n}} for o in bad_objs]
                    t0 = time.monotonic()
                    naive(target, ns_n, bad_objs, args.naive_timeout)
                    naive_figure = time.monotonic() - t0
                    emit(f"deploy.failed.{word}.total", total, "s", naive_figure, "naive",
                         f"whole failed deploy + rollback; naive: rollout status --timeout={args.naive_timeout}s "
                         "then undo")
                elif naive_figure is not None:
                    emit(f"deploy.failed.{word}.total", total, "s", naive_figure, "naive",
                         "naive not re-measured: its rollout status waits for the same timeout")
            finally:
                for n in (ns, ns_n):
                    if n:
                        testing.drop_namespace(target, n)


def prune_cost(target, good: str, repeats: int = 5) -> None:
    """The prune step alone: its reads on a no-op, its reads and deletes on a change that drops objects."""
    ns = testing.fresh_namespace(target, "bench-p")
    try:
        parent = applyset.app_parent(ns)
        keep = testing.dev_objects(ns, good, namespaces=False)
        with_extra = deploy_faults.version_objects("good-with-extra", ns, good)
        testing.run_deploy(target, testing.options("dev", good, ns))
        noop, noop_calls = [], 0
        for _ in range(repeats):
            with Counted() as c:
                t0 = time.monotonic()
                p = prune.pending(target, parent, keep, False, applyset.read(target, parent))
                noop.append(time.monotonic() - t0)
            assert not p.delete, p.delete
            noop_calls = c.n
        change, deleted, calls = [], 0, 0
        for _ in range(repeats):
            testing.run_deploy(target, testing.options("dev", good, ns, objects=tuple(with_extra)))
            with Counted() as c:
                t0 = time.monotonic()
                done, _ = prune.finish(target, parent, applyset.label(keep, parent), False)
                change.append(time.monotonic() - t0)
            deleted, calls = len(done.deleted), c.n
        emit("prune.no-op", statistics.median(noop) * 1000, "ms", note=f"reads only, zero writes; {noop_calls} "
             "API requests")
        emit("prune.change", statistics.median(change) * 1000, "ms", note=f"{deleted} objects dropped; {calls} "
             "API requests")
    finally:
        testing.drop_namespace(target, ns)


if __name__ == "__main__":
    sys.exit(main())
