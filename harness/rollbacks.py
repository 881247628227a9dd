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

Also P2 over versions (`Sequences`): generated sequences of small renders, failed
deploys and rollbacks, the cluster judged after every step by `harness/ownership.py`.
Both draw all their cases from one Random seeded by hypothesis, so one example is
already varied (hypothesis' first example of a list strategy is its simplest).
"""
from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass

from harness import kube as testing
from harness import oracles, ownership
from provision import config, errors
from provision.config import Target
from provision.findings import Finding
from provision.kube import deploy, history, render

KINDS = ("never-ready", "crashloop", "unschedulable")
TOO_BIG = {"requests": {"cpu": "3", "memory": "6Gi"}, "limits": {"cpu": "3", "memory": "6Gi"}}  # > a t3.medium
BAD_GRACE = 2.0   # the bad versions' readiness grace: kwok's good pods are Ready well within it


@dataclass(frozen=True)
class Failure:
    kind: str
    workloads: tuple[str, ...]   # the Deployments that carry the fault
    new_baseline: bool           # deploy a fresh good version first (the version to restore varies)


def random_failures(rnd, n: int) -> list[Failure]:
    """`n` failures drawn from `rnd` (a Random seeded by hypothesis): every kind, workload subset and baseline
    choice from the first draw (hypothesis' first example of a list strategy is its simplest: all never-ready)."""
    deps = config.settings()["kubernetes"]["deployments"]
    return [Failure(rnd.choice(KINDS), tuple(rnd.sample(deps, rnd.randint(1, len(deps)))), rnd.random() < 0.25)
            for _ in range(n)]


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
    before = testing.resource_versions(target, ns) if f.kind == "unschedulable" else None
    with oracles.Sampler(target, ns, interval=0.25) as sampler:
        run = testing.run_deploy(target, opts)
    o = run.outcome
    # a pod no node can hold is certain before apply: refused then (exit 2), nothing to roll back; that nothing
    # was written is judged from the resourceVersions (availability: nothing changed, too quick to sample)
    refused = f.kind == "unschedulable" and isinstance(run.error, deploy.Unfit)
    if refused and testing.resource_versions(target, ns) != before:
        out.append("refused before apply, yet the set's resourceVersions changed")
    if not refused and (not isinstance(run.error, deploy.DeployFailed) or o.result != history.ROLLED_BACK
                        or o.rolled_back_to != good):
        out.append(f"engine: {type(run.error).__name__} {o.result if o else '-'} to {o.rolled_back_to if o else '-'}")
    for finding in (testing.runs_images(target, ns, good), oracles.health(target, ns),
                    *(() if refused else (oracles.availability(target, sampler),))):
        if not finding.ok:
            out.append(finding.line() + "; " + "; ".join(finding.evidence[:3]))
    return out


def in_threads(worker, workers: int) -> None:
    """`worker` in `workers` threads at once (each takes examples from a shared queue); returns when all end."""
    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


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

    in_threads(worker, workers)
    result["seconds"] = time.monotonic() - t0
    return result


# ---- P2 over versions: sequences of renders, failed deploys and rollbacks ------------------------

SEQ_BAD_WAIT = 0.3   # a failing step's readiness grace and rollout timeout: its pods are never Ready
SEQ_IGNORE = ("deploy-history", "deploy-last-good", "deploy-applyset")   # the engine's bookkeeping, by name


@dataclass(frozen=True)
class Version:
    """A small generated render: which ConfigMaps (with which data), ServiceAccounts, NetworkPolicies and
    whether a Deployment is in it. Objects are added, changed and removed from one version to the next."""
    configmaps: tuple[tuple[int, str], ...]
    serviceaccounts: frozenset
    netpols: frozenset
    app: bool


@dataclass(frozen=True)
class Step:
    action: str                  # deploy | fail | rollback
    version: Version | None = None


def random_sequences(rnd, n: int) -> list[list[Step]]:
    """`n` sequences of 2-3 steps drawn from `rnd` (a Random seeded by hypothesis): one generated example holds
    them all, varied from the first draw (hypothesis' first example of a strategy is its simplest)."""
    def version() -> Version:
        cms = tuple(sorted({i: rnd.choice("ab") for i in rnd.sample(range(4), rnd.randint(0, 3))}.items()))
        return Version(cms, frozenset(rnd.sample(range(4), rnd.randint(0, 3))),
                       frozenset(rnd.sample(range(4), rnd.randint(0, 3))), rnd.random() < 0.3)

    def step() -> Step:
        action = rnd.choices(["deploy", "fail", "rollback"], weights=[45, 30, 25])[0]
        return Step(action, None if action == "rollback" else version())
    return [[step() for _ in range(rnd.randint(2, 3))] for _ in range(n)]


def version_objects(v: Version, ns: str, sha: str, failing: bool = False) -> list[dict]:
    """The version's objects (a failing version always carries the never-Ready Deployment)."""
    md = lambda name: {"name": name, "namespace": ns}  # noqa: E731
    out = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": md(f"p2-cm-{i}"), "data": {"v": val}}
           for i, val in v.configmaps]
    out += [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": md(f"p2-sa-{i}")}
            for i in sorted(v.serviceaccounts)]
    out += [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": md(f"p2-np-{i}"),
             "spec": {"podSelector": {"matchLabels": {"p2": str(i)}}, "policyTypes": ["Ingress"]}}
            for i in sorted(v.netpols)]
    if v.app or failing:
        repo = render.app_repos()[0]
        out.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": md("p2-app"), "spec": {
            "replicas": 1, "selector": {"matchLabels": {"app": "p2-app"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {"metadata": {"labels": {"app": "p2-app"}}, "spec": {"containers": [{
                "name": "app", "image": f"{repo}:{sha}",
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"},
                              "limits": {"cpu": "10m", "memory": "16Mi"}}}]}}}})
    return out


class Sequences:
    """One namespace shared by every example: its state carries over, as a cluster's does. `model` is the
    harness's own account of the last successful version ([(sha, objects)], newest last)."""

    def __init__(self, target: Target, ns: str):
        self.target, self.ns, self.good, self.steps = target, ns, [], 0
        self.seconds = {"deploy": 0.0, "fail": 0.0, "rollback": 0.0}
        self.counts = {"deploy": 0, "fail": 0, "rollback": 0}

    def _opts(self, sha: str, objs, **kw) -> deploy.Options:
        kw = {"ready_grace": testing.GRACE, "poll": 0.1, "lock_interval": 0.05, **kw}
        return deploy.Options(env="dev", image_tag=sha, namespace=self.ns, objects=tuple(objs), **kw)

    def run(self, step: Step) -> str | None:
        """One step; a problem with the engine's own account, or None. The cluster is judged by `judge`."""
        t0 = time.monotonic()
        self.steps += 1
        self.counts[step.action] += 1
        try:
            if step.action == "deploy":
                sha = testing.sha_for("good")
                objs = version_objects(step.version, self.ns, sha)
                run = testing.run_deploy(self.target, self._opts(sha, objs))
                if run.error is not None:
                    return f"deploy {sha[:8]}: {run.error}"
                if run.outcome.result != "no changes":   # the same objects under another SHA record nothing
                    self.good.append((sha, objs))
            elif step.action == "fail":
                sha = testing.sha_for("never-ready")
                objs = version_objects(step.version, self.ns, sha, failing=True)
                run = testing.run_deploy(self.target, self._opts(sha, objs, ready_grace=SEQ_BAD_WAIT,
                                                                  rollout_timeout=SEQ_BAD_WAIT))
                if not isinstance(run.error, deploy.DeployFailed) or run.outcome.result != history.ROLLED_BACK:
                    return f"failed deploy {sha[:8]}: {type(run.error).__name__} {run.error}"
            else:
                current = self.good[-1][0]
                back = next(((s, o) for s, o in reversed(self.good) if s != current), None)
                try:
                    out = deploy.rollback(self.target, "dev", namespace=self.ns, ready_grace=testing.GRACE, poll=0.1,
                                          lock_interval=0.05)
                except errors.BadInput:
                    return None if back is None else f"rollback refused with {back[0][:8]} to go back to"
                except errors.ProvisionError as exc:
                    return f"rollback: {exc}"
                if back is None:
                    return "rollback succeeded with nothing to go back to"
                if out.result != "no changes":
                    self.good.append(back)
            return None
        finally:
            self.seconds[step.action] += time.monotonic() - t0

    def judge(self) -> Finding:
        """The cluster, read directly, holds exactly the last successful version."""
        return ownership.exactly(self.target, self.ns, self.good[-1][1], ignore=SEQ_IGNORE)


def run_sequences(target: Target, sequences: list[list[Step]], workers: int) -> dict:
    """Every sequence as a real example, `workers` namespaces at a time, each from a healthy baseline; the
    cluster judged after every step. {examples, steps, problems: [(sequence, [problem])], seconds, counts}."""
    queue = list(sequences)
    mu = threading.Lock()
    result = {"examples": 0, "steps": 0, "problems": [], "counts": {}}
    t0 = time.monotonic()
    base = Version(((0, "a"),), frozenset({0}), frozenset(), False)

    def worker() -> None:
        ns = testing.fresh_namespace(target, "p2s")
        seq = Sequences(target, ns)
        try:
            first = seq.run(Step("deploy", base))
            if first:
                with mu:
                    result["problems"].append(("baseline", [first]))
                return
            while True:
                with mu:
                    if not queue:
                        return
                    steps = queue.pop(0)
                problems = []
                for i, step in enumerate(steps):
                    try:
                        said = seq.run(step)
                    except Exception as exc:  # reported with its example
                        said = f"{type(exc).__name__}: {exc}"
                    judged = seq.judge()
                    problems += [f"step {i} {step.action}: {p}" for p in
                                 ([said] if said else []) + ([] if judged.ok else list(judged.evidence[:4]))]
                    if problems:
                        break
                with mu:
                    result["examples"] += 1
                    result["steps"] += len(steps)
                    if problems:
                        result["problems"].append(([s.action for s in steps], problems))
        finally:
            with mu:
                for k, n in seq.counts.items():
                    result["counts"][k] = result["counts"].get(k, 0) + n
            testing.drop_namespace(target, ns)

    in_threads(worker, workers)
    result["seconds"] = time.monotonic() - t0
    return result
