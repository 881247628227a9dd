"""The deploy engine: `provision app deploy --env dev --image-tag <sha>`.

validate -> refuse the wrong cluster -> server-side dry run of the whole set
(the diff against the live objects says whether anything would change: a
no-op deploy makes zero writes; the reads run at once) -> refuse a pod no node can hold -> take the
Lease -> server-side apply with a fixed field manager (members of the app's ApplySet) -> wait for a
healthy rollout, failing early on a clear cause -> prune what the render dropped; on failure re-apply
the last good set, wait until healthy and prune what the failed deploy added -> record history ->
release the Lease. See docs/deploy.md.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .. import config, errors
from ..config import Environment, Target
from ..constants import FIELD_MANAGER
from . import app_secret, applyset, client, drift, history, identity, last_good, lock, prune, render, rollout
from .apply import apply_set, diff, dry_run, live_objects
from .objects import containers, key

DEFAULT_PROGRESS_DEADLINE = 600
DEPLOY_FAILED = "deploy of {sha} failed: {reason}; {rollback}"
NO_CHANGES = "no changes: the cluster already runs {sha} in {namespace} and it is healthy"
NO_PREVIOUS = "no previous good deploy to roll back to"
LOCK_LOST = "the deploy lock was lost while deploying (another deployer took it over)"

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


class DeployFailed(errors.ProvisionError):
    """The new version did not become healthy (exit 1); carries the Outcome."""

    def __init__(self, message: str, outcome: Outcome):
        super().__init__(message, evidence=tuple(outcome.evidence))
        self.outcome = outcome


class Unfit(DeployFailed, errors.BadInput):
    """A pod of the set fits on no node: certain before apply, so refused before apply (exit 2, nothing
    changed)."""


@dataclass(frozen=True)
class Options:
    env: str
    image_tag: str
    namespace: str | None = None          # None: the namespace of settings.yaml
    overlay: Path | None = None           # None: the environment's overlay (tests pass a seeded copy)
    wait_for_lock: bool = True
    holder: str | None = None             # None: lock.default_holder()
    lock_timeout: float = 1800
    lock_interval: float = 2.0
    lease_seconds: int = lock.DEFAULT_LEASE_SECONDS
    rollout_timeout: float | None = None  # None: the largest progressDeadlineSeconds + 30 s
    ready_grace: float | None = None      # None: from the readiness probes (see ready_grace)
    poll: float = 1.0
    rollback: bool = True
    identity_namespace: str = identity.NAMESPACE
    action: str = "deploy"
    objects: tuple | None = None          # rollback: apply exactly these (already prepared) objects
    secret_source: str | None = None      # None: app_secret.source_name(env) (tests name their own)
    prune_data: bool = False              # prune data-bearing members (claims) the render no longer has


@dataclass
class Outcome:
    sha: str
    namespace: str
    result: str = ""                      # succeeded | no changes | rolled back | failed
    reason: str = ""
    changed: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    min_ready: dict[str, list[int]] = field(default_factory=dict)   # workload -> [lowest ready, desired]
    started: float = 0.0
    finished: float = 0.0
    holder: str = ""
    locked: tuple[float, float] | None = None  # (acquired, released), time.time()
    rolled_back_to: str | None = None
    writes: int = 0
    pruned: list[str] = field(default_factory=list)      # members deleted after health (or after the rollback)
    kept: list[str] = field(default_factory=list)        # members the render dropped but prune keeps (data)
    corrected: list[str] = field(default_factory=list)   # hand changes to the deployed set taken back

    @property
    def ok(self) -> bool:
        return self.result in (history.SUCCEEDED, "no changes")

    def lines(self) -> list[str]:
        out = [f"{self.result}: {self.sha} in {self.namespace} ({self.finished - self.started:.1f}s)"]
        if self.result == "no changes":
            out[0] = NO_CHANGES.format(sha=self.sha, namespace=self.namespace)
        if self.changed:
            out.append(f"changed {len(self.changed)}: " + ", ".join(self.changed))
        out += [f"pruned {k}" for k in self.pruned] + self.kept + self.corrected
        for w, (low, want) in sorted(self.min_ready.items()):
            out.append(f"lowest ready {w}: {low}/{want}")
        if self.rolled_back_to:
            out.append(f"rolled back to {self.rolled_back_to}")
        return out


@dataclass(frozen=True)
class Plan:
    env: dict
    sha: str
    namespace: str
    objects: tuple          # everything but Namespace objects, ready to apply
    namespaces: tuple       # Namespace objects (applied first: the rest lives in them)

    def names(self, kind: str) -> list[str]:
        return [o["metadata"]["name"] for o in self.objects if o["kind"] == kind]


# ---- pure parts -----------------------------------------------------------

def ready_grace(objs, floor: float = 30.0) -> float:
    """How long a pod may stay not Ready before that is a clear failure: the
    slowest readiness probe's initialDelay + period x failureThreshold + 10 s."""
    g = floor
    for o in objs:
        for c in containers(o):
            p = c.get("readinessProbe") or {}
            if p:
                g = max(g, p.get("initialDelaySeconds", 0) + p.get("periodSeconds", 10) * p.get("failureThreshold", 3)
                        + 10)
    return float(g)


def rollout_timeout(objs) -> float:
    return float(max([o.get("spec", {}).get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE)
                      for o in objs if o["kind"] == "Deployment"] or [DEFAULT_PROGRESS_DEADLINE])) + 30


def decide(verdict_state: str, previous_good: str | None, rollback: bool) -> str:
    """What to do after a rollout wait: done, roll back or just fail (pure)."""
    if verdict_state == "healthy":
        return "done"
    if rollback and previous_good:
        return "rollback"
    return "fail"


# ---- cluster parts ---------------------------------------------------------

def plan(target: Target, opts: Options) -> Plan:
    """Validate the input and render; raises BadInput before touching the cluster."""
    env = Environment.named(opts.env)
    sha = config.validate_image_tag(opts.image_tag)
    namespace = opts.namespace or config.settings()["kubernetes"]["namespace"]
    if opts.objects is not None:
        objs = [dict(o) for o in opts.objects]
    else:
        overlay = Path(opts.overlay) if opts.overlay else render.overlay_dir(env)
        if not overlay.exists():
            raise errors.BadInput(render.MISSING_OVERLAY.format(path=overlay, env=env.name))
        objs = render.prepare(render.render_dir(overlay), sha, namespace)
    objs = applyset.label(objs, applyset.app_parent(namespace))   # members of the app's ApplySet
    if not any(o["kind"] == "Secret" and o["metadata"]["name"] == app_secret.secret_name() for o in objs):
        # app-secrets comes from the secret source, never from the repository
        needed = app_secret.required_keys(objs)
        if needed:
            objs.append(app_secret.secret_object(namespace, app_secret.read_source(
                target, env.name, needed, opts.secret_source)))
    return Plan(env, sha, namespace, tuple(o for o in objs if o["kind"] != "Namespace"),
                tuple(o for o in objs if o["kind"] == "Namespace"))


def namespace_exists(target: Target, namespace: str) -> bool:
    return client.get(target, "v1", "Namespace", namespace) is not None


def _declared_as_live(obj: dict, live: dict | None) -> bool:
    """Whether a live Namespace already carries every label and annotation the manifest declares."""
    if live is None:
        return False
    md, have = obj.get("metadata", {}), live.get("metadata", {})
    return all((have.get(part) or {}).get(k) == v for part in ("labels", "annotations")
               for k, v in (md.get(part) or {}).items())


def _ensure_namespaces(target: Target, p: Plan, out: Outcome) -> None:
    """The Namespace objects first: everything else is validated inside them."""
    if not p.namespaces:
        if not namespace_exists(target, p.namespace):
            client.create(target, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": p.namespace}})
            out.writes += 1
        return
    live = live_objects(target, p.namespaces)
    if all(_declared_as_live(o, live.get(key(o))) for o in p.namespaces):
        return  # as declared: nothing to write (and a deploy role that may only read namespaces can go on)
    dry = dry_run(target, p.namespaces)
    changed = diff(live, dry)
    if changed:
        apply_set(target, [o for o in p.namespaces if key(o) in changed])
        out.changed.extend(changed)
        out.writes += len(changed)


def wait_rollout(target: Target, p: Plan, timeout: float, grace: float, poll: float, progress: Progress,
                 fail_fast: bool, min_ready: dict, track: set | None = None) -> rollout.Verdict:
    """rollout.wait on the plan's workloads and Services."""
    return rollout.wait(target, p.namespace, (p.names("Deployment"), p.names("StatefulSet"), p.names("Service")),
                        timeout, grace, poll, progress, fail_fast, min_ready, track)


def deploy(target: Target, opts: Options, progress: Progress = _quiet) -> Outcome:
    out = Outcome(sha=opts.image_tag, namespace=opts.namespace or "", started=time.time())
    p = plan(target, opts)                                         # 1. input (BadInput, nothing touched)
    out.namespace = p.namespace
    identity.verify(target, p.env, opts.identity_namespace)        # 2. wrong cluster (Refused)
    _ensure_namespaces(target, p, out)
    progress(f"server-side dry run of {len(p.objects)} objects")
    parent = applyset.app_parent(p.namespace)
    with ThreadPoolExecutor(4) as pool:                            # independent reads, at once
        dry_f = pool.submit(dry_run, target, p.objects)            # 1b. whole set validated first
        live_f = pool.submit(live_objects, target, p.objects)
        have_f = pool.submit(applyset.read, target, parent)        # the prune step's reads
        nodes_f = pool.submit(rollout.nodes, target)
        have = have_f.result()
        gone = prune.pending(target, parent, p.objects, opts.prune_data, have)
        live, dry = live_f.result(), dry_f.result()
    nodes = nodes_f.result()
    if not nodes:  # said, never skipped silently: the rollout's own verdict judges an unschedulable pod
        progress("pre-apply fit check not run: this identity may not list the cluster's Nodes")
    unfit = rollout.unfit(p.objects, nodes)
    if unfit:                                                      # certain before apply: refused before apply
        out.result, out.reason, out.evidence, out.finished = history.FAILED, unfit[0], unfit, time.time()
        raise Unfit(DEPLOY_FAILED.format(sha=p.sha, reason=unfit[0], rollback="nothing to roll back"), out)
    changes = diff(live, dry)
    grace = opts.ready_grace if opts.ready_grace is not None else ready_grace(p.objects)
    timeout = opts.rollout_timeout or rollout_timeout(p.objects)
    want_gks = applyset.group_kinds(p.objects) | {applyset.group_kind(o) for o, _ in gone.kept}
    if (not changes and not out.changed and not gone.delete and have is not None and have.gks == want_gks
            and lock.holder_of(target, p.namespace)[0] != "held"):
        v = rollout.evaluate(rollout.snapshot(target, p.namespace), p.names("Deployment"),
                             p.names("StatefulSet"), p.names("Service"), datetime.now(UTC), grace)
        if v.state == "healthy":                                   # zero writes
            out.result, out.finished = "no changes", time.time()
            progress(NO_CHANGES.format(sha=p.sha, namespace=p.namespace))
            return out
    out.holder = opts.holder or lock.default_holder()
    lk = lock.Lock(target, p.namespace, out.holder, opts.lease_seconds)
    lk.acquire(wait=opts.wait_for_lock, timeout=opts.lock_timeout, interval=opts.lock_interval, progress=progress)
    acquired = time.time()
    entry_id = uuid.uuid4().hex[:12]
    try:
        history.start(target, p.namespace, {"id": entry_id, "action": opts.action, "sha": p.sha,
                                            "env": p.env["name"], "actor": out.holder,
                                            "started": history.iso(out.started)})
        before = live if not lk.waited else live_objects(target, p.objects)   # re-read after a wait
        recorded = last_good.read_record(target, p.namespace)
        out.corrected = drift.corrections(recorded and recorded.objects, before, {key(o) for o in p.objects})
        gks, nss = prune.scope(have, p.objects, parent)            # the parent first: a crash leaves members
        out.writes += int(applyset.write(target, parent, gks, nss, have))   # findable
        progress(f"server-side apply as {FIELD_MANAGER}")
        applied = apply_set(target, p.objects)                     # 4. server-side apply
        for a in applied:
            k = key(a)
            if k not in before or before[k]["metadata"].get("resourceVersion") != a["metadata"].get("resourceVersion"):
                out.changed.append(k)
        out.writes += len(out.changed) + 1
        track = {k.split("/")[0].lower() + "/" + k.split("/")[-1] for k in before
                 if k.split("/")[0] in ("Deployment", "StatefulSet")}
        v = wait_rollout(target, p, timeout, grace, opts.poll, progress, fail_fast=True, min_ready=out.min_ready,
                         track=track)
        if lk.lost.is_set():
            v.problems.append(LOCK_LOST)
            v.state = "failed"
        good = last_good.read(target, p.namespace) if v.state != "healthy" else None
        step = decide(v.state, good[0] if good else None, opts.rollback)
        if step == "done":
            with ThreadPoolExecutor(1) as pool:                    # independent: at once
                saved = pool.submit(last_good.save, target, p.namespace, p.sha, p.objects)
                done, n = prune.finish(target, parent, p.objects, opts.prune_data, progress)   # prune after health
                saved.result()
            out.pruned, out.kept, out.writes = done.deleted, done.kept, out.writes + n
            out.result = history.SUCCEEDED
        else:
            out.reason = v.problems[0] if v.problems else v.summary()
            out.evidence = [*v.problems, *[f.line() for f in v.findings if not f.ok],
                            *rollout.warning_events(target, p.namespace)]
            if step == "rollback":
                out.rolled_back_to = good[0]
                progress(f"rolling back to {good[0]}: {out.reason}")
                restored = Plan(p.env, good[0], p.namespace, tuple(applyset.label(good[1], parent)), ())
                apply_set(target, restored.objects)   # judged on its own workloads: not the ones the bad set added
                rb = wait_rollout(target, restored, timeout, grace, opts.poll, progress, fail_fast=False,
                                  min_ready=out.min_ready, track=track)
                out.result = history.ROLLED_BACK if rb.state == "healthy" else history.FAILED
                if rb.state == "healthy":   # the restored set exactly: what the failed deploy added goes
                    secrets = {key(o) for o in p.objects if o["kind"] == "Secret"}
                    done, n = prune.finish(target, parent, restored.objects, opts.prune_data, progress,
                                           keep_keys=set(recorded.members if recorded else ()) | secrets)
                    out.pruned, out.kept, out.writes = done.deleted, done.kept, out.writes + n
                if rb.state != "healthy":
                    out.evidence += [f"rollback not healthy: {x}" for x in rb.problems] or [rb.summary()]
            else:
                out.result = history.FAILED
    except BaseException as exc:
        out.result = out.result or history.FAILED
        out.reason = out.reason or f"{type(exc).__name__}: {exc}"
        raise
    finally:
        out.finished = time.time()
        try:
            history.finish(target, p.namespace, entry_id, result=out.result, reason=out.reason,
                           finished=history.iso(out.finished), duration_s=round(out.finished - out.started, 1),
                           changed=len(out.changed), min_ready=out.min_ready, rolled_back_to=out.rolled_back_to)
        finally:
            lk.release()
            out.locked = (acquired, time.time())
    if not out.ok:
        rb = (f"rolled back to {out.rolled_back_to}" if out.result == history.ROLLED_BACK
              else f"rollback to {out.rolled_back_to} did not become healthy" if out.rolled_back_to
              else NO_PREVIOUS if opts.rollback else "rollback disabled")
        raise DeployFailed(DEPLOY_FAILED.format(sha=p.sha, reason=out.reason, rollback=rb), out)
    progress(f"{out.result}: {p.sha} in {p.namespace}")
    return out


def rollback(target: Target, env: str, to: str | None = None, namespace: str | None = None,
             progress: Progress = _quiet, **opts) -> Outcome:
    """`provision app rollback`: deploy `to`, by default the successful SHA before the current one."""
    Environment.named(env)
    ns = namespace or config.settings()["kubernetes"]["namespace"]
    rec = last_good.read_record(target, ns)
    if to is None:
        to = history.last_good(history.read(target, ns), exclude=rec.sha if rec else None)
        if to is None:
            raise errors.BadInput(NO_PREVIOUS)
    if rec is not None and rec.previous is not None and rec.previous_sha == to and "objects" not in opts:
        opts["objects"] = tuple(rec.previous)   # exactly the set that was deployed, not today's render of it
    return deploy(target, Options(env=env, image_tag=to, namespace=ns, action="rollback", **opts), progress)


def running_images(target: Target, namespace: str) -> dict[str, str]:
    snap = rollout.snapshot(target, namespace)
    return {f"{kind[:-1]}/{o['metadata']['name']}:{c['name']}": c["image"]
            for kind in ("deployments", "statefulsets") for o in snap[kind]
            for c in o["spec"]["template"]["spec"]["containers"]}


def status_lines(target: Target, env: str, namespace: str | None = None) -> list[str]:
    e = Environment.named(env)
    ns = namespace or config.settings()["kubernetes"]["namespace"]
    out = []
    try:
        out.append(f"cluster: {identity.verify(target, e)} (environment {env})")
    except errors.Refused as exc:
        out.append(f"cluster: {exc}")
    st, holder, age = lock.holder_of(target, ns)
    out.append(f"deploy lock: {st}" + (f" by {holder} (renewed {age:.0f}s ago)" if holder else ""))
    for k, img in sorted(running_images(target, ns).items()):
        out.append(f"running {k}: {img}")
    out.append("history (oldest first):")
    out += ["  " + line for line in history.lines(history.read(target, ns))] or ["  (none)"]
    return out
