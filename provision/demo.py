"""`provision demo`: the main job on the embedded default (offline target).

Runs exactly the offline journey a user types (README, docs/cli.md), through
the same command line, in a stack of its own:

    provision local up                      (then the shell takes its export lines)
    provision stacks up --env dev
    provision cluster bootstrap --env dev
    provision app deploy --env dev --image-tag <sha>
    provision verify --env dev

then runs the offline suite against that target and writes the sign-off report.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time

from . import config, errors
from .local import stack
from .report import results, signoff

ENV = "dev"
# (title, argv): the journey, in order. "{dir}" is the demo's own stack, "{sha}" a generated commit SHA.
JOURNEY = [
    ("start the offline target", ["local", "up", "--dir", "{dir}"]),
    ("provision the AWS stacks (CloudFormation on moto)", ["stacks", "up", "--env", ENV]),
    ("bootstrap the cluster (identity, namespace, cluster overlay, secret source, volumes)",
     ["cluster", "bootstrap", "--env", ENV]),
    ("deploy the app (server-side apply, health gate, rollback)",
     ["app", "deploy", "--env", ENV, "--image-tag", "{sha}"]),
    ("verify", ["verify", "--env", ENV]),
]


def register(sub) -> None:
    p = sub.add_parser("demo", help="start the offline target, provision, deploy, verify, write a sign-off report")
    p.add_argument("--keep", action="store_true", help="leave the offline target running afterwards")
    p.add_argument("--strict", action="store_true", help="exit 3 when the sign-off verdict is refused")
    p.set_defaults(func=run)


def _progress(m: str) -> None:
    print(f"==> {m}", file=sys.stderr, flush=True)


def exports(state_dir) -> dict[str, str]:
    """What `eval "$(provision local env)"` sets in a shell: the stack's endpoints and throwaway credentials."""
    lines = stack.env_lines(state_dir, stack.read_state(state_dir) or {"components": {}})
    return dict(line.removeprefix("export ").split("=", 1) for line in lines)


def run(args) -> int:
    from .cli import main

    t0 = time.monotonic()
    run_id = results.new_run_id("offline")
    run_dir = results.run_dir(run_id)
    state_dir = stack.run_stack_dir(run_dir)
    fill = {"dir": str(state_dir), "sha": secrets.token_hex(20)}
    total = len(JOURNEY) + 1
    failures = 0
    rc = 0
    try:
        for i, (title, argv) in enumerate(JOURNEY, start=1):
            argv = [a.format(**fill) for a in argv]
            _progress(f"[{i}/{total}] {title}: provision {' '.join(argv)}")
            code = main(argv)
            failures += code != 0
            if i == 1:
                if code != 0:
                    raise errors.TargetUnavailable("the offline target did not start (see above)")
                os.environ.update(exports(state_dir))
                os.environ.setdefault("CTL_AUDIT_FILE", str(run_dir / "audit.jsonl"))
        _progress(f"[{total}/{total}] run the offline suite against this target for the sign-off report")
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
