"""Test support for the deploy and locking features: fresh namespaces, the
named versions of the seeded faults, seeded overlays, probes on the result,
and diagnostics collectors. Seeded faults live in temp copies only."""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from kubernetes import client as k8s

from .. import config, errors
from ..config import Target
from ..findings import Finding, combine
from . import app_secret, client, deploy, history, identity, kubectl, lock, render, rollout, volumes
from .client import ApiException

GRACE = 6.0   # kwok pods are Ready at once; a pod not Ready after 6 s is the seeded fault
NEVER_READY, CRASHLOOP = "badbad", "deadde"
LIVE_SKIP = ("not verifiable on the live target: test versions (random SHAs with no pushed image) "
             "are never deployed into the live cluster")


def sha_for(word: str) -> str:
    """good / never-ready / crashloop / too-big -> a fresh 40-hex SHA of that kind."""
    if word == "never-ready":
        return NEVER_READY + secrets.token_hex(17)
    if word == "crashloop":
        return CRASHLOOP + secrets.token_hex(17)
    sha = secrets.token_hex(20)
    return sha if not sha.startswith((NEVER_READY, CRASHLOOP)) else sha_for(word)


def overlay(tmp: Path, word: str) -> Path | None:
    """A test-only overlay on top of dev: too-big (requests above a t3.medium) or config-changed."""
    if word not in ("too-big", "config-changed"):
        return None
    d = Path(tmp) / f"overlay-{word}-{secrets.token_hex(3)}"
    d.mkdir(parents=True)
    base = os.path.relpath(config.ROOT / config.environment("dev")["overlay"], d)
    if word == "too-big":
        res = {"requests": {"cpu": "3", "memory": "6Gi"}, "limits": {"cpu": "3", "memory": "6Gi"}}
        patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/resources", "value": res}]
        target = {"kind": "Deployment", "name": "web-app"}
    else:
        patch = [{"op": "add", "path": "/data/SEEDED_CHANGE", "value": secrets.token_hex(4)}]
        target = {"kind": "ConfigMap", "name": config.settings()["kubernetes"]["configmap"]}
    (d / "kustomization.yaml").write_text(json.dumps({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": [base],
        "patches": [{"target": target, "patch": json.dumps(patch)}]}))
    return d


def fresh_namespace(target: Target, prefix: str = "dep") -> str:
    if not target.local:
        import pytest
        pytest.skip(LIVE_SKIP)
    identity.bootstrap(target, config.environment("dev")["cluster_name"])
    ns = f"{prefix}-{secrets.token_hex(4)}"
    client.core(target).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=ns)))
    objs = render.prepare(render.render(target, render.overlay_dir(config.environment("dev"))), "0" * 40, ns)
    app_secret.seed_offline_source(target, "dev", app_secret.required_keys(objs))
    volumes.prebind(target, objs)
    return ns


def drop_namespace(target: Target, ns: str) -> None:
    try:
        client.core(target).delete_namespace(ns)
    except ApiException:
        pass
    volumes.release(target, ns)


def collectors(target: Target, ns: str) -> list:
    """Chainsaw-like: events, describe output, pod states and history of the namespace."""
    def collect(d: Path) -> None:
        for name, args in (("events.txt", ["get", "events", "-n", ns, "--sort-by=.lastTimestamp"]),
                           ("describe.txt", ["describe", "deploy,sts,rs,pods,svc", "-n", ns]),
                           ("pods.txt", ["get", "pods", "-n", ns, "-o", "wide"])):
            r = kubectl.run(target, args, check=False)
            (d / name).write_text(r.stdout + r.stderr)
        states = {p["metadata"]["name"]: p.get("status", {}) for p in rollout.snapshot(target, ns)["pods"]}
        (d / "pod-states.json").write_text(json.dumps(states, indent=1))
        (d / "deploy-history.txt").write_text("\n".join(history.lines(history.read(target, ns))))
    return [collect]


@dataclass
class Run:
    sha: str
    outcome: deploy.Outcome | None = None
    error: Exception | None = None
    rv_before: dict = field(default_factory=dict)
    rv_after: dict = field(default_factory=dict)


def options(env: str, sha: str, ns: str, **kw) -> deploy.Options:
    return deploy.Options(env=env, image_tag=sha, namespace=ns, ready_grace=GRACE, poll=0.5,
                          lock_interval=0.2, **kw)


def run_deploy(target: Target, opts: deploy.Options, progress=lambda m: None) -> Run:
    r = Run(opts.image_tag)
    try:
        r.outcome = deploy.deploy(target, opts, progress)
    except deploy.DeployFailed as exc:
        r.error, r.outcome = exc, exc.outcome
    except errors.ProvisionError as exc:
        r.error = exc
    return r


def resource_versions(target: Target, ns: str, sha: str = "0" * 40) -> dict[str, str]:
    objs = render.prepare(render.render(target, render.overlay_dir(config.environment("dev"))), sha, ns)
    return {k: o["metadata"]["resourceVersion"] for k, o in deploy.live_objects(target, objs).items()}


# ---- probes --------------------------------------------------------------

def succeeded(run: Run) -> Finding:
    ok = run.error is None and run.outcome is not None and run.outcome.ok
    return Finding(ok, f"deploy of {run.sha}", "succeeded", run.outcome.result if run.outcome else "",
                   evidence=(str(run.error),) if run.error else tuple(run.outcome.lines() if run.outcome else ()))


def failed_naming(run: Run, reason: str) -> Finding:
    text = str(run.error or "")
    ok = isinstance(run.error, deploy.DeployFailed) and reason in text
    return Finding(ok, f"deploy of {run.sha}", f"fails (exit 1) naming {reason!r}", text or "succeeded",
                   evidence=tuple(getattr(run.error, "evidence", ())))


def health(target: Target, ns: str) -> Finding:
    k = config.settings()["kubernetes"]
    v = rollout.evaluate(rollout.snapshot(target, ns), k["deployments"], k["statefulsets"], k["services"],
                         rollout.datetime.now(rollout.timezone.utc), grace=1e9)
    return combine(f"app in {ns} Running, Ready, with ready endpoints", v.findings)


def owned_exist(target: Target, ns: str, sha: str) -> Finding:
    objs = render.prepare(render.render(target, render.overlay_dir(config.environment("dev"))), sha, ns)
    want = [render.key(o) for o in objs if o["kind"] != "Namespace"]
    live = deploy.live_objects(target, [o for o in objs if o["kind"] != "Namespace"])
    missing = [k for k in want if k not in live]
    return Finding(not missing, f"owned objects in {ns}", f"{len(want)} exist", f"{len(want) - len(missing)} exist",
                   evidence=tuple(f"missing {m}" for m in missing))


def runs_images(target: Target, ns: str, sha: str) -> Finding:
    repos = render.app_repos()
    imgs = {k: v for k, v in deploy.running_images(target, ns).items() if render.split_image(v)[0] in repos}
    pods = rollout.snapshot(target, ns)["pods"]
    pod_imgs = {f"pod/{p['metadata']['name']}:{c['name']}": c["image"] for p in pods
                if not p["metadata"].get("deletionTimestamp")
                for c in p["spec"]["containers"] if render.split_image(c["image"])[0] in repos}
    bad = {k: v for k, v in {**imgs, **pod_imgs}.items() if render.split_image(v)[1] != sha}
    ok = not bad and len(imgs) >= len(repos) and bool(pod_imgs)
    return Finding(ok, f"app images in {ns}", f"every app container :{sha}",
                   f"{len(imgs)} templates, {len(pod_imgs)} pod containers, {len(bad)} other",
                   evidence=tuple(f"{k}: {v}" for k, v in bad.items()))


def managed_by_provisioner(target: Target, ns: str, sha: str) -> Finding:
    objs = [o for o in render.prepare(render.render(target, render.overlay_dir(config.environment("dev"))), sha, ns)
            if o["kind"] != "Namespace"]
    live = deploy.live_objects(target, objs)
    bad = [k for k, o in live.items()
           if not any(m.get("manager") == deploy.FIELD_MANAGER and m.get("operation") == "Apply"
                      for m in o["metadata"].get("managedFields", []))]
    drift = deploy.diff(live, deploy.dry_run(target, objs))
    return Finding(not bad and not drift and len(live) == len(objs), f"objects in {ns}",
                   f"all {len(objs)} applied by {deploy.FIELD_MANAGER}, identical to the overlay",
                   f"{len(bad)} not by it, {len(drift)} differ from the overlay",
                   evidence=tuple([f"not applied by the provisioner: {k}" for k in bad] + [f"drift: {k}" for k in drift]))


def nothing_applied(target: Target, ns: str, allow_lease: str = "") -> Finding:
    objs = [o for o in render.prepare(render.render(target, render.overlay_dir(config.environment("dev"))), "0" * 40, ns)
            if o["kind"] != "Namespace"]
    live = deploy.live_objects(target, objs)
    st, holder, _ = lock.holder_of(target, ns)
    extra = [*live, *(["history"] if history.read(target, ns) else []), *([f"lease by {holder}"] if holder and holder != allow_lease else [])]
    return Finding(not extra, f"namespace {ns}", "nothing applied", f"{len(extra)} objects", evidence=tuple(extra))
