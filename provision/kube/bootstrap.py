"""`provision cluster bootstrap --env E`: what an operator does once per cluster before the first deploy.

STEPS is the ordered list of named steps; adding a provisioning call is one
line there. Each step writes only what is not yet as declared and returns
what it wrote, so a second run writes nothing and says so:

- the cluster's identity (ConfigMap kube-public/cluster-identity, identity.py);
- the app's Namespace with its Pod Security labels (the deploy role may not write it);
- the cluster overlay (autoscaler, storage class, ingress controller: render.render_cluster), as its
  own ApplySet (applyset.apply_cluster: what a new render drops is pruned);
- the AWS Load Balancer Controller's webhook serving certificate (webhook_cert.py);
- on a target that declares it has no real secret source (`target.cannot["real_secret_source"]`):
  a secret source with generated values (app_secret.seed_offline_source);
- on a target that declares it cannot provision volumes (`target.cannot["volume_provisioning"]`):
  volumes pre-bound to the StatefulSets' claims (volumes.prebind).

Which steps run is decided by what the target declares it cannot do, never by its name.
An existing identity of another cluster is refused (exit 3), never overwritten.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from ..config import Environment, Target
from ..findings import Finding, passed
from . import app_secret, applyset, identity, render, volumes, webhook_cert
from .apply import apply_set, diff, dry_run, live_objects
from .objects import key

NOTHING_TO_DO = "nothing to write: the cluster is bootstrapped as declared"
WROTE = "bootstrapped: {n} write(s)"


@dataclass(frozen=True)
class Step:
    """One named provisioning call: `run(target, env)` returns what it wrote (empty: already as declared)."""

    name: str
    run: Callable[[Target, Environment], list[str]]
    when_target_cannot: str = ""   # run only on a target that declares it cannot do this (target.cannot)
    system: str = "kube"           # the system it writes to (the Finding's grade)


@dataclass
class Outcome:
    findings: list[Finding] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for f in self.findings:
            out.append(f.line())
            out.extend(f"  {e}" for e in f.evidence)
        out.extend(self.skipped)
        out.append(WROTE.format(n=len(self.written)) if self.written else NOTHING_TO_DO)
        return out


def app_objects(target: Target, env: Environment) -> list[dict]:
    """The environment's app overlay in the target's namespace (what the first deploy will apply)."""
    return render.set_namespace(render.render(env), target.namespace)


def apply_changed(target: Target, objs: list[dict]) -> list[str]:
    """Server-side apply of the objects that do not exist or differ (a dry run judges which): their keys.
    Namespaces first: the objects inside them are judged once they exist."""
    written = []
    for part in ([o for o in objs if o["kind"] == "Namespace"], [o for o in objs if o["kind"] != "Namespace"]):
        if not part:
            continue
        live = live_objects(target, part)
        # dry_run leaves out RoleBindings to Roles this set creates: anything not live yet is written anyway
        changed = set(diff(live, dry_run(target, part))) | {key(o) for o in part if key(o) not in live}
        todo = [o for o in part if key(o) in changed]
        if todo:
            apply_set(target, todo)
            written += [key(o) for o in todo]
    return written


def cluster_identity(target: Target, env: Environment) -> list[str]:
    had = identity.read(target)
    identity.bootstrap(target, env.cluster_name)
    return [] if had == env.cluster_name else [f"ConfigMap/{identity.NAMESPACE}/{identity.NAME} = {env.cluster_name}"]


def app_namespace(target: Target, env: Environment) -> list[str]:
    ns = [o for o in app_objects(target, env) if o["kind"] == "Namespace"]
    return apply_changed(target, ns or [{"apiVersion": "v1", "kind": "Namespace",
                                         "metadata": {"name": target.namespace}}])


def cluster_overlay(target: Target, env: Environment) -> list[str]:
    """The cluster overlay as its own ApplySet (parent kube-system/cluster-applyset): what a new render
    drops is pruned, and `app diff` knows these objects are the operator's, not added by hand."""
    return applyset.apply_cluster(target, render.render_cluster(env), apply_changed)


def secret_source(target: Target, env: Environment) -> list[str]:
    """A secret source with generated values, once (values never shown; an existing source is left alone)."""
    name = app_secret.source_name(env.name)
    try:
        app_secret.source_values(target, name)
        return []
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    app_secret.seed_offline_source(target, env.name, app_secret.required_keys(app_objects(target, env)))
    return [f"secret source {name} (generated values)"]


def prebound_volumes(target: Target, env: Environment) -> list[str]:
    return [f"PersistentVolume/{pv}" for pv in volumes.prebind(target, app_objects(target, env))]


STEPS = [
    Step("cluster identity", cluster_identity),
    Step("app namespace", app_namespace),
    Step("cluster overlay", cluster_overlay),
    Step("load balancer controller webhook certificate", webhook_cert.bootstrap_step),
    Step("generated secret source", secret_source, when_target_cannot="real_secret_source", system="aws"),
    Step("pre-bound volumes", prebound_volumes, when_target_cannot="volume_provisioning"),
]


def run(target: Target, env: Environment | str, progress=lambda m: None, steps: list[Step] | None = None) -> Outcome:
    """Every step in order; a step's error stops the run (raised as it is: one line at the CLI)."""
    env = env if isinstance(env, Environment) else Environment.named(env)
    out = Outcome()
    for step in STEPS if steps is None else steps:
        if step.when_target_cannot and not target.cannot.get(step.when_target_cannot):
            out.skipped.append(f"skipped {step.name}: the target provides it ({step.when_target_cannot})")
            continue
        progress(f"bootstrap: {step.name}")
        wrote = step.run(target, env)
        out.written += wrote
        out.findings.append(passed(f"bootstrap: {step.name}", "as declared",
                                   f"wrote {len(wrote)}" if wrote else "already as declared: nothing written",
                                   [f"wrote {w}" for w in wrote], grade=target.grade(step.system)))
    return out
