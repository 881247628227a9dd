"""Benchmark: the deploy engine beside the naive baseline, on the local control plane.

    CTL_STACK_DIR=<running stack> .venv/bin/python benchmarks/deploy.py [--naive-timeout 60]

Cases: a healthy deploy, a no-op deploy (same SHA again: the engine must make
zero writes), a failed deploy (never-Ready SHA) through rollback. Then the
prune step on its own (provision/kube/prune.py): its reads on a no-op and its
reads and deletes on a change that drops two objects, with the API requests it made. Baseline:
`kubectl apply` of the same rendered set (what `kubectl apply -k` does) +
`kubectl rollout status`, and on failure `kubectl rollout undo` once the
status wait times out (the naive script cannot tell a clear failure early).
The harness's sampler thread (harness/oracles.Sampler) records the lowest ready count of
each workload and Service from the API.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import kube as testing  # noqa: E402
from harness.faults import deploy as deploy_faults  # noqa: E402
from harness.oracles import Sampler  # noqa: E402
from provision.kube import apply, applyset, client, kubectl, prune, render  # noqa: E402
from provision.local import stack  # noqa: E402


def rvs(target, ns, objs):
    return {k: o["metadata"]["resourceVersion"] for k, o in apply.live_objects(target, objs).items()}


def naive(target, ns, objs, timeout):
    kubectl.run(target, ["apply", "-f", "-"], input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))
    ok = True
    for w in ("deployment/web-app", "deployment/api-backend", "statefulset/postgres"):
        r = kubectl.run(target, ["rollout", "status", w, "-n", ns, f"--timeout={timeout}s"], check=False)
        ok = ok and r.returncode == 0
    if not ok:
        for w in ("deployment/web-app", "deployment/api-backend"):
            kubectl.run(target, ["rollout", "undo", w, "-n", ns], check=False)
        for w in ("deployment/web-app", "deployment/api-backend"):
            kubectl.run(target, ["rollout", "status", w, "-n", ns, "--timeout=300s"], check=False)
    return ok


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--naive-timeout", type=int, default=60,
                    help="naive rollout status timeout (the real default is 600s progressDeadline)")
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
        return _run(target, args)
    finally:
        if own:
            stack.down(own, progress=lambda m: None)


def _run(target, args) -> int:
    base = render.render("dev")
    good, bad = testing.sha_for("good"), testing.sha_for("never-ready")
    rows = []
    ns_e, ns_n = testing.fresh_namespace(target, "bench-e"), testing.fresh_namespace(target, "bench-n")
    try:
        for case, sha in (("healthy", good), ("no-op", good), ("failed+rollback", bad)):
            objs = [o for o in render.prepare(base, sha, ns_e) if o["kind"] != "Namespace"]
            before = rvs(target, ns_e, objs)
            with Sampler(target, ns_e) as s:
                t0 = time.monotonic()
                run = testing.run_deploy(target, testing.options("dev", sha, ns_e))
                te = time.monotonic() - t0
            writes = sum(1 for k, v in rvs(target, ns_e, objs).items() if before.get(k) != v)
            low_e = s.low if case != "healthy" else {}
            nobjs = [o for o in render.prepare(base, sha, ns_n) if o["kind"] != "Namespace"]
            nbefore = rvs(target, ns_n, nobjs)
            with Sampler(target, ns_n) as s2:
                t0 = time.monotonic()
                naive(target, ns_n, nobjs, args.naive_timeout)
                tn = time.monotonic() - t0
            nwrites = sum(1 for k, v in rvs(target, ns_n, nobjs).items() if nbefore.get(k) != v)
            rows.append((case, te, tn, run.outcome.result if run.outcome else str(run.error), writes, nwrites,
                         low_e, s2.low if case != "healthy" else {}))
    finally:
        for ns in (ns_e, ns_n):
            testing.drop_namespace(target, ns)
    print(f"{'case':16} {'engine s':>9} {'naive s':>8} {'ratio':>6}  {'engine result':14} {'writes e/n':>10}  "
          "lowest ready (engine | naive)")
    for case, te, tn, res, we, wn, le, ln in rows:
        print(f"{case:16} {te:9.1f} {tn:8.1f} {te / tn:6.2f}  {res:14} {we:>4}/{wn:<5}  {le or '-'} | {ln or '-'}")
    prune_cost(target, good)
    return 0


class _Counted:
    """Counts the API requests made through client.request meanwhile."""

    def __enter__(self):
        self.n, self.real = 0, client.request

        def counted(*a, **k):
            self.n += 1
            return self.real(*a, **k)
        client.request = counted
        return self

    def __exit__(self, *exc):
        client.request = self.real


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
            with _Counted() as c:
                t0 = time.monotonic()
                p = prune.pending(target, parent, keep, False, applyset.read(target, parent))
                noop.append(time.monotonic() - t0)
            assert not p.delete, p.delete
            noop_calls = c.n
        change, deleted, calls = [], 0, 0
        for _ in range(repeats):
            testing.run_deploy(target, testing.options("dev", good, ns, objects=tuple(with_extra)))
            with _Counted() as c:
                t0 = time.monotonic()
                done, _ = prune.finish(target, parent, applyset.label(keep, parent), False)
                change.append(time.monotonic() - t0)
            deleted, calls = len(done.deleted), c.n
        print(f"prune step on a no-op (reads only, zero writes): {sorted(noop)[len(noop) // 2] * 1000:.0f} ms "
              f"({noop_calls} API requests)")
        print(f"prune step on a change ({deleted} objects dropped): {sorted(change)[len(change) // 2] * 1000:.0f} ms "
              f"({calls} API requests)")
    finally:
        testing.drop_namespace(target, ns)


if __name__ == "__main__":
    sys.exit(main())
