"""Session fixtures shared by every step module: the target and `check`.

The target is a set of endpoints; steps and probes never ask its name.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from harness import check as checking
from harness.plugin import RUN_DIR_ENV
from provision import config
from provision.local import stack


def _stack_dir(mode: str) -> Path:
    """An already running stack of this mode (`provision local up`), else this run's own."""
    given = os.environ.get(stack.STACK_DIR_ENV)
    if given and stack.is_running(Path(given)) and stack.mode_of(Path(given)) == mode:
        return Path(given)
    return stack.run_stack_dir(Path(os.environ[RUN_DIR_ENV]))


def _progress(message: str) -> None:
    print(f"[offline target] {message}", flush=True)


@pytest.fixture(scope="session")
def target(pytestconfig, request):
    kubeconfig = pytestconfig.getoption("kubeconfig")
    kind = pytestconfig.getoption("target")
    if kind == "live":
        t = config.live_target()
    else:
        mode = "rehearsal" if kind == "rehearsal" else "offline"
        d = _stack_dir(mode)
        # Another cluster backend replaces the local control plane.
        use_kind = pytestconfig.getoption("cluster") == "kind"
        skip = {"controlplane"} if (use_kind or kubeconfig) else set()
        state = stack.up(d, progress=_progress, components=[c for c in stack.available() if c not in skip],
                         mode=mode)
        t = stack.target(state)
        if use_kind and not kubeconfig:
            from provision.local import kind

            name = "ctl-" + Path(os.environ[RUN_DIR_ENV]).name[-6:]
            t = t.with_(kubeconfig=kind.up(name, d, _progress)["kubeconfig"])
            request.addfinalizer(lambda: kind.down(name))
        # Subprocesses (kubectl, the CLI) and boto3 see the same target; the CLI finds the stack behind it.
        os.environ.update(stack.offline_aws_env())
        os.environ[stack.STACK_DIR_ENV] = str(d)
        # Test runs keep their audit records beside their report, out of the real trail.
        os.environ.setdefault("CTL_AUDIT_FILE", str(Path(os.environ[RUN_DIR_ENV]) / "audit.jsonl"))
    if kubeconfig:
        t = t.with_(kubeconfig=kubeconfig)
    os.environ.update(t.env())
    if kind == "rehearsal":
        t = _prepare_rehearsal(t)
    return t


def _prepare_rehearsal(t):
    """The operator's steps and the deploy job, before any nightly scenario (harness/rehearsal.py);
    the scenarios then run with the nightly job's rights only."""
    from harness import rehearsal

    found = rehearsal.prepare(t, _progress)
    for f in found:
        _progress(f.line())
    out = Path(os.environ[RUN_DIR_ENV]) / "rehearsal-setup.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps([f.as_dict() for f in found], indent=1))
    token = os.environ.get("CLOUDFLARE_API_TOKEN")
    return t.with_(kubeconfig=os.environ.get("KUBECONFIG") or t.kubeconfig,
                   cloudflare_token=config.Secret(token) if token else t.cloudflare_token)


@pytest.fixture(scope="session")
def unencrypted_control_plane(tmp_path_factory):
    """The encryption checks' seeded fault: a second, short-lived API server (etcd and kube-apiserver alone)
    started with encrypt=False, once per session (per xdist worker) for every test that reads it, each under
    names of its own. {"dir", "info", "target"}; on teardown it must have left no process behind."""
    from provision.local import controlplane

    d = tmp_path_factory.mktemp("unencrypted") / "plain"
    with controlplane.temporary(d, encrypt=False, apiserver_only=True) as info:
        yield {"dir": d, "info": info, "target": stack.target({"components": {"controlplane": info}})}
    left = sorted(p.name for p in d.glob("controlplane*.pid"))
    assert not left, f"the unencrypted control plane left processes behind: {left}"


@pytest.fixture
def check(request):
    """Record a Finding for the report, then assert it, showing its evidence.

    An unverifiable Finding ends the scenario as "not verifiable on this target"
    (with the Finding as the reason): it never passes and never hides as a failure.
    """
    return lambda finding: checking.check(request.node, finding)


@pytest.fixture
def record(request):
    """Record a Finding without asserting it (for checks that must come out red)."""
    return lambda finding: checking.record(request.node, finding)


def pytest_sessionfinish(session, exitstatus):
    # The process that owns the run (controller, or the only process) stops
    # the stack this run started; a stack from `provision local up` stays.
    if hasattr(session.config, "workerinput"):
        return
    run_dir = os.environ.get(RUN_DIR_ENV)
    if run_dir and stack.read_state(stack.run_stack_dir(Path(run_dir))) is not None:
        d = stack.run_stack_dir(Path(run_dir))
        stack.down(d, progress=lambda m: None)
        # keep the process logs beside the report; the state (credentials) stays out
        logs = Path(run_dir) / "stack-logs"
        logs.mkdir(exist_ok=True)
        for log in d.glob("*.log"):
            shutil.copy(log, logs / log.name)
