"""Test support for the deploy and locking features: fresh namespaces, the
named versions of the seeded faults, seeded overlays, probes on the result,
and diagnostics collectors. Seeded faults live in temp copies only."""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness import oracles
from provision import config, errors
from provision.config import Target
from provision.constants import CRASHLOOP_TAG, FIELD_MANAGER, NEVER_READY_TAG
from provision.findings import Finding
from provision.kube import app_secret, apply, client, deploy, history, identity, kubectl, lock, render, rollout, volumes
from provision.kube.applyset import app_parent, label
from provision.kube.objects import key, split_image

# kwok pods are Ready at once (creation to Ready: 0.05 s median, 0.12 s worst of 34 measured under a load of 4;
# docs/testing.md), so a pod not Ready after 2 s (at least 1 s: creationTimestamp has whole seconds) is the
# seeded fault. rollbacks.BAD_GRACE is the same.
GRACE = 2.0
LIVE_SKIP = ("not verifiable on the live target: test versions (random SHAs with no pushed image) "
             "are never deployed into the live cluster")


def refuses_test_deploys(target: Target) -> str | None:
    """Why this target takes no test deploys (random SHAs, seeded faults), or None when it does."""
    return target.cannot.get("test_deploys") or target.cannot.get("seeded_faults")


def sha_for(word: str) -> str:
    """good / never-ready / crashloop / too-big -> a fresh 40-hex SHA of that kind."""
    if word == "never-ready":
        return NEVER_READY_TAG + secrets.token_hex(17)
    if word == "crashloop":
        return CRASHLOOP_TAG + secrets.token_hex(17)
    sha = secrets.token_hex(20)
    return sha if not sha.startswith((NEVER_READY_TAG, CRASHLOOP_TAG)) else sha_for(word)


def overlay(tmp: Path, word: str) -> Path | None:
    """A test-only overlay on top of dev: too-big (requests above a t3.medium) or config-changed."""
    if word not in ("too-big", "config-changed"):
        return None
    d = Path(tmp) / f"overlay-{word}-{secrets.token_hex(3)}"
    d.mkdir(parents=True)
    base = os.path.relpath(render.overlay_dir("dev"), d)
    k = config.settings()["kubernetes"]
    if word == "too-big":
        res = {"requests": {"cpu": "3", "memory": "6Gi"}, "limits": {"cpu": "3", "memory": "6Gi"}}
        patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/resources", "value": res}]
        target = {"kind": "Deployment", "name": k["deployments"][0]}
    else:
        patch = [{"op": "add", "path": "/data/SEEDED_CHANGE", "value": secrets.token_hex(4)}]
        target = {"kind": "ConfigMap", "name": k["configmap"]}
    (d / "kustomization.yaml").write_text(json.dumps({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": [base],
        "patches": [{"target": target, "patch": json.dumps(patch)}]}))
    return d


def dev_objects(ns: str, sha: str = "0" * 40, namespaces: bool = True) -> list[dict]:
    """The dev overlay as a deploy of `sha` into `ns` applies it, members of the app's ApplySet (without
    Namespace objects unless asked)."""
    objs = label(render.prepare(render.render("dev"), sha, ns), app_parent(ns))
    return objs if namespaces else [o for o in objs if o["kind"] != "Namespace"]


def fresh_namespace(target: Target, prefix: str = "dep") -> str:
    if refuses_test_deploys(target):
        pytest.skip(LIVE_SKIP)
    identity.bootstrap(target, config.Environment.named("dev").cluster_name)
    ns = f"{prefix}-{secrets.token_hex(4)}"
    client.create(target, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    objs = dev_objects(ns)
    app_secret.seed_offline_source(target, "dev", app_secret.required_keys(objs))
    volumes.prebind(target, objs)
    return ns


def drop_namespace(target: Target, ns: str) -> None:
    try:
        client.delete(target, "v1", "Namespace", ns)
    except client.ApiError:
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
    grade: str = ""   # of what the deploy's verdict rests on: the pods' health
    sampler: oracles.Sampler | None = None   # availability sampled from outside the engine


def options(env: str, sha: str, ns: str, **kw) -> deploy.Options:
    return deploy.Options(env=env, image_tag=sha, namespace=ns, ready_grace=GRACE, poll=0.5,
                          lock_interval=0.2, **kw)


def run_deploy(target: Target, opts: deploy.Options, progress=lambda m: None, sample: bool = False) -> Run:
    """The engine's deploy; with `sample`, a harness thread polls availability from the API meanwhile."""
    r = Run(opts.image_tag, grade=target.grade("pods"))
    sampler = oracles.Sampler(target, opts.namespace) if sample else None
    if sampler:
        sampler.__enter__()
    try:
        r.outcome = deploy.deploy(target, opts, progress)
    except deploy.DeployFailed as exc:
        r.error, r.outcome = exc, exc.outcome
    except errors.ProvisionError as exc:
        r.error = exc
    finally:
        if sampler:
            sampler.__exit__()
            r.sampler = sampler
    return r


def resource_versions(target: Target, ns: str, sha: str = "0" * 40) -> dict[str, str]:
    return {k: o["metadata"]["resourceVersion"] for k, o in apply.live_objects(target, dev_objects(ns, sha)).items()}


# ---- probes --------------------------------------------------------------

def succeeded(target: Target, run: Run) -> Finding:
    ok = run.error is None and run.outcome is not None and run.outcome.ok
    return oracles.about_pods(target, Finding(
        ok, f"deploy of {run.sha}", "succeeded", run.outcome.result if run.outcome else str(run.error),
        evidence=(f"FAIL {run.error}",) if run.error else tuple(run.outcome.lines() if run.outcome else ()),
        grade=run.grade))


def failed_naming(target: Target, run: Run, reason: str) -> Finding:
    text = str(run.error or "")
    ok = isinstance(run.error, deploy.DeployFailed) and reason in text
    return oracles.about_pods(target, Finding(
        ok, f"deploy of {run.sha}", f"fails (exit 1) naming {reason!r}", text or "succeeded",
        evidence=tuple(getattr(run.error, "evidence", ())), grade=run.grade))


def health(target: Target, ns: str) -> Finding:
    """The independent health oracle (harness/oracles.py), never the deploy gate's own rollout.evaluate."""
    return oracles.health(target, ns)


def owned_exist(target: Target, ns: str, sha: str) -> Finding:
    objs = dev_objects(ns, sha, namespaces=False)
    want = [key(o) for o in objs]
    live = apply.live_objects(target, objs)
    missing = [k for k in want if k not in live]
    return Finding(not missing, f"owned objects in {ns}", f"{len(want)} exist", f"{len(want) - len(missing)} exist",
                   evidence=tuple(f"FAIL missing {m}" for m in missing), grade=target.grade("kube"))


def runs_images(target: Target, ns: str, sha: str) -> Finding:
    repos = render.app_repos()
    imgs = {k: v for k, v in deploy.running_images(target, ns).items() if split_image(v)[0] in repos}
    pods = client.list_objects(target, "v1", "Pod", ns)
    pod_imgs = {f"pod/{p['metadata']['name']}:{c['name']}": c["image"] for p in pods
                if not p["metadata"].get("deletionTimestamp")
                for c in p["spec"]["containers"] if split_image(c["image"])[0] in repos}
    bad = {k: v for k, v in {**imgs, **pod_imgs}.items() if split_image(v)[1] != sha}
    ok = not bad and len(imgs) >= len(repos) and bool(pod_imgs)
    # the pods' spec is the API's (real); that a container runs it is kwok's word offline (about_pods)
    return oracles.about_pods(target, Finding(
        ok, f"app images in {ns}", f"every app container :{sha}",
        f"{len(imgs)} templates, {len(pod_imgs)} pod containers, {len(bad)} other",
        evidence=tuple(f"FAIL {k}: {v}" for k, v in bad.items()), grade=target.grade("kube")))


def managed_by_provisioner(target: Target, ns: str, sha: str) -> Finding:
    objs = dev_objects(ns, sha, namespaces=False)
    live = apply.live_objects(target, objs)
    bad = [k for k, o in live.items()
           if not any(m.get("manager") == FIELD_MANAGER and m.get("operation") == "Apply"
                      for m in o["metadata"].get("managedFields", []))]
    drift = apply.diff(live, apply.dry_run(target, objs))
    return Finding(not bad and not drift and len(live) == len(objs), f"objects in {ns}",
                   f"all {len(objs)} applied by {FIELD_MANAGER}, identical to the overlay",
                   f"{len(bad)} not by it, {len(drift)} differ from the overlay",
                   evidence=tuple([f"FAIL not applied by the provisioner: {k}" for k in bad]
                                  + [f"FAIL drift: {k}" for k in drift]), grade=target.grade("kube"))


def nothing_applied(target: Target, ns: str, allow_lease: str = "") -> Finding:
    live = apply.live_objects(target, dev_objects(ns, namespaces=False))
    st, holder, _ = lock.holder_of(target, ns)
    extra = [*live, *(["history"] if history.read(target, ns) else []),
             *([f"lease by {holder}"] if holder and holder != allow_lease else [])]
    return Finding(not extra, f"namespace {ns}", "nothing applied", f"{len(extra)} objects", evidence=tuple(extra),
                   grade=target.grade("kube"))
