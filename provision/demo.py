"""`provision demo`: the main job on the embedded default (offline target).

Starts the offline target, then provisions, deploys and verifies through the
same functions the CLI and the workflows use, then runs the offline suite
against that target and writes the sign-off report. A step whose part has
not landed yet says so (it is never reported as done).
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time

from . import config, errors
from .local import build, stack
from .report import results, signoff

# (title, module, function): function(target, progress) -> list of finding lines.
STEPS = [
    ("provision the AWS stacks (CloudFormation on moto)", "provision.aws.stacks", "demo_step"),
    ("deploy the app (server-side apply, health gate, rollback)", "provision.kube.deploy", "demo_step"),
    ("verify DNS, TLS and the app's domains", "provision.verify", "demo_step"),
]


def register(sub) -> None:
    p = sub.add_parser("demo", help="start the offline target, provision, deploy, verify, write a sign-off report")
    p.add_argument("--keep", action="store_true", help="leave the offline target running afterwards")
    p.add_argument("--strict", action="store_true", help="exit 3 when the sign-off verdict is refused")
    p.set_defaults(func=run)


def _progress(m: str) -> None:
    print(f"==> {m}", file=sys.stderr, flush=True)


def run(args) -> int:
    t0 = time.monotonic()
    run_id = results.new_run_id("offline")
    run_dir = results.run_dir(run_id)
    state_dir = stack.run_stack_dir(run_dir)
    _progress(f"[1/{len(STEPS) + 3}] build the local control plane if needed")
    build.build_all(_progress)
    _progress(f"[2/{len(STEPS) + 3}] start the offline target")
    state = stack.up(state_dir, _progress)
    failures = 0
    try:
        target = stack.target(state)
        os.environ.update(stack.offline_aws_env())
        os.environ.update(target.env())
        os.environ.setdefault("CTL_AUDIT_FILE", str(run_dir / "audit.jsonl"))
        for i, (title, module, func) in enumerate(STEPS, start=3):
            _progress(f"[{i}/{len(STEPS) + 3}] {title}")
            try:
                fn = getattr(importlib.import_module(module), func)
            except (ImportError, AttributeError):
                _progress(f"  not available yet: {module}.{func} has not landed; "
                          "its scenarios report 'not implemented'")
                continue
            try:
                for line in fn(target, _progress):
                    print(f"    {line}", flush=True)
            except errors.ProvisionError as exc:
                failures += 1
                _progress(f"  FAILED: {exc}")
        last = len(STEPS) + 3
        _progress(f"[{last}/{last}] run the offline suite against this target for the sign-off report")
        env = {**os.environ, stack.STACK_DIR_ENV: str(state_dir)}
        rc = subprocess.call([sys.executable, "-m", "pytest", "-m", "offline", "-q", "--run-id", run_id,
                              "-p", "no:cacheprovider"], cwd=config.ROOT, env=env)
    finally:
        if not args.keep:
            stack.down(state_dir, lambda m: None)
    rep = signoff.build(results.load(run_dir / results.RESULTS_NAME))
    print(f"\nsign-off verdict: {rep.verdict} " + ", ".join(f"{v} {k}" for k, v in sorted(rep.counts["ids"].items())))
    print(f"report: {run_dir / signoff.MD_NAME}\n        {run_dir / signoff.HTML_NAME}")
    print(f"demo took {time.monotonic() - t0:.0f}s")
    if rc not in (0, 5) or failures:
        return errors.EXIT_FAILED
    if args.strict and rep.verdict != signoff.SIGNOFF:
        return errors.EXIT_REFUSED
    return 0
