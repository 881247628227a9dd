"""P5 on the real control plane: generated failed deploys, each followed by
the engine's own rollback, judged from outside the engine.

What varies is the thing under test: the kind of failure (a never-Ready
image, a crash-looping image, requests no node can hold), which Deployments
carry it, and which good version ran before (sometimes a fresh one is deployed
first). Each example is a real deploy through `deploy.deploy`; it is judged by
the independent oracles: the previous version's images run (`kube.runs_images`),
the app is healthy as the API reports it (`oracles.health`), and availability
never dropped in the samples a harness thread took meanwhile (`oracles.Sampler`).
The engine's own account (result, rolled_back_to) is checked too, never relied on.

Examples run `workers` at a time, each worker in its own namespace with its
own healthy baseline (the Lease is per namespace, so they never wait on each other).
"""
from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass

from harness import kube as testing
from harness import oracles
from provision import config
from provision.config import Target
from provision.kube import deploy, history, render

KINDS = ("never-ready", "crashloop", "unschedulable")
TOO_BIG = {"requests": {"cpu": "3", "memory": "6Gi"}, "limits": {"cpu": "3", "memory": "6Gi"}}  # > a t3.medium
BAD_GRACE = 2.0   # the bad versions' readiness grace: kwok's good pods are Ready well within it


@dataclass(frozen=True)
class Failure:
    kind: str
    workloads: tuple[str, ...]   # the Deployments that carry the fault
    new_baseline: bool           # deploy a fresh good version first (the version to restore varies)


def strategy():
    from hypothesis import strategies as st

    deps = config.settings()["kubernetes"]["deployments"]
    return st.builds(Failure, kind=st.sampled_from(KINDS),
                     workloads=st.lists(st.sampled_from(deps), min_size=1, max_size=len(deps), unique=True).map(tuple),
                     new_baseline=st.sampled_from([False, False, False, True]))


def bad_set(base: list[dict], ns: str, good: str, f: Failure) -> tuple[str, list[dict]]:
    """(the bad version's tag, its objects): the good set with the fault in `f.workloads` only."""
    sha = testing.sha_for("good" if f.kind == "unschedulable" else f.kind)
    objs = [o for o in render.prepare(base, good if f.kind != "unschedulable" else sha, ns) if o["kind"] != "Namespace"]
    repos = render.app_repos()
    for o in objs:
        if o["kind"] != "Deployment" or o["metadata"]["name"] not in f.workloads:
            continue
        for c in o["spec"]["template"]["spec"]["containers"]:
            repo = c["image"].rsplit(":", 1)[0]
            if f.kind == "unschedulable":
                c["resources"] = copy.deepcopy(TOO_BIG)
            elif repo in repos:
                c["image"] = f"{repo}:{sha}"
    return sha, objs


def one(target: Target, ns: str, base: list[dict], state: dict, f: Failure) -> list[str]:
    """One real failed deploy and rollback; the problems seen (empty: P5 held)."""
    out = []
    if f.new_baseline:
        good = testing.sha_for("good")
        run = testing.run_deploy(target, testing.options("dev", good, ns))
        if run.error is not None:
            return [f"new baseline {good} did not deploy: {run.error}"]
        state["good"] = good
    good = state["good"]
    sha, objs = bad_set(base, ns, good, f)
    opts = deploy.Options(env="dev", image_tag=sha, namespace=ns, ready_grace=BAD_GRACE, poll=0.3, lock_interval=0.2,
                          objects=tuple(objs))
    with oracles.Sampler(target, ns, interval=0.25) as sampler:
        run = testing.run_deploy(target, opts)
    o = run.outcome
    if not isinstance(run.error, deploy.DeployFailed) or o.result != history.ROLLED_BACK or o.rolled_back_to != good:
        out.append(f"engine: {type(run.error).__name__} {o.result if o else '-'} to {o.rolled_back_to if o else '-'}")
    for finding in (testing.runs_images(target, ns, good), oracles.health(target, ns),
                    oracles.availability(target, sampler)):
        if not finding.ok:
            out.append(finding.line() + "; " + "; ".join(finding.evidence[:3]))
    return out


def run_all(target: Target, failures: list[Failure], workers: int) -> dict:
    """Every failure as a real example, `workers` namespaces at a time.
    {examples, problems: [(failure, [problem])], seconds, namespaces}."""
    base = render.render("dev")
    queue = list(enumerate(failures))
    mu = threading.Lock()
    result = {"examples": 0, "problems": [], "kinds": {}}
    t0 = time.monotonic()

    def worker() -> None:
        ns = testing.fresh_namespace(target, "p5")
        try:
            state = {"good": testing.sha_for("good")}
            run = testing.run_deploy(target, testing.options("dev", state["good"], ns))
            if run.error is not None:
                with mu:
                    result["problems"].append(("baseline", [str(run.error)]))
                return
            while True:
                with mu:
                    if not queue:
                        return
                    _, f = queue.pop(0)
                try:
                    problems = one(target, ns, base, state, f)
                except Exception as exc:  # reported with its example
                    problems = [f"{type(exc).__name__}: {exc}"]
                with mu:
                    result["examples"] += 1
                    result["kinds"][f.kind] = result["kinds"].get(f.kind, 0) + 1
                    if problems:
                        result["problems"].append((f, problems))
        finally:
            testing.drop_namespace(target, ns)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result["seconds"] = time.monotonic() - t0
    return result
