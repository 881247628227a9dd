"""Run a local controller (lb_controller, storage_controller) as a stack component.

A controller module has NAME, WHO (its identity in pki.CLIENTS) and
`reconcile(kubeconfig, **options) -> list[str]` (one pass; the lines say what it
changed). Here: the component's start/stop (rehearsal mode only: offline keeps
the demo's seeded values) and the process's loop, which reconciles every
INTERVAL seconds as its own identity and logs each change.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

from .. import config
from . import procs
from .controller_rbac import kubeconfig_of

INTERVAL = 0.5
START_TIMEOUT = 30.0
NOT_STARTED = {"running": False, "reason": "offline mode: the demo does this part (see docs/local-control-plane.md)"}


def component(module_name: str):
    """(start, stop) of the stack component that runs module `module_name`'s loop."""
    import importlib

    def start_(state_dir, progress=print) -> dict:
        return start(importlib.import_module(module_name), state_dir, progress)

    def stop_(state_dir) -> None:
        stop(importlib.import_module(module_name), state_dir)

    return start_, stop_


def _ready(state_dir: Path, name: str) -> Path:
    return Path(state_dir) / f"{name}-ready.json"


def start(module, state_dir: Path, progress=print, options: dict | None = None) -> dict:
    """Start `module`'s loop as a process when the stack runs in rehearsal mode; what target.local holds."""
    from . import stack

    state_dir = Path(state_dir)
    if stack.mode_of(state_dir) != "rehearsal":
        return dict(NOT_STARTED)
    cp = (stack.read_state(state_dir) or {}).get("components", {}).get("controlplane")
    if not cp:
        raise RuntimeError(f"{module.NAME} needs the control plane: start it first")
    kubeconfig = kubeconfig_of(cp, module.WHO)
    ready = _ready(state_dir, module.NAME)
    ready.unlink(missing_ok=True)
    argv = [sys.executable, "-m", module.__name__, "--kubeconfig", kubeconfig, "--ready", str(ready),
            "--options", json.dumps(options or {})]
    progress(f"starting {module.NAME} as {module.WHO}")
    pid = procs.spawn(module.NAME, argv, state_dir, cwd=config.ROOT)
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.exists():
        if not procs.alive(pid):
            raise RuntimeError(f"{module.NAME} exited at start; see {state_dir / (module.NAME + '.log')}")
        if time.monotonic() > deadline:
            procs.stop(module.NAME, state_dir)
            raise TimeoutError(f"{module.NAME} not ready within {START_TIMEOUT:.0f}s")
        time.sleep(0.05)
    return {"running": True, "kubeconfig_identity": module.WHO, **(options or {})}


def stop(module, state_dir: Path) -> None:
    procs.stop(module.NAME, Path(state_dir))
    _ready(state_dir, module.NAME).unlink(missing_ok=True)


def main(module, argv=None) -> int:
    """The process: reconcile forever; the ready file appears after the first full pass."""
    ap = argparse.ArgumentParser(prog=module.__name__)
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--options", default="{}")
    args = ap.parse_args(argv)
    options = json.loads(args.options)
    first = True
    while True:
        try:
            for line in module.reconcile(args.kubeconfig, **options):
                print(line, flush=True)
            if first:
                Path(args.ready).write_text(json.dumps({"pid": os.getpid()}))
                first = False
        except Exception:  # noqa: BLE001 - a controller logs and retries, as a real one does
            traceback.print_exc()
            sys.stdout.flush()
        time.sleep(INTERVAL)
