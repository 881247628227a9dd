"""The offline target as one stack: start its components, attach, stop.

State lives in a directory (state.json plus each process's pid and log).
`provision local up` keeps one under the cache dir for a shell session; the
pytest session starts its own under reports/<run-id>/stack (shared by all
xdist workers through a file lock) unless CTL_STACK_DIR names a running one.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import time
from pathlib import Path

from filelock import FileLock

from .. import config, errors
from ..config import Secret, Target
from . import procs

STATE = "state.json"
STACK_DIR_ENV = "CTL_STACK_DIR"
# Start order. Each entry is a module of provision.local with start/stop.
COMPONENTS = [
    "moto_server",    # AWS APIs (moto server)
    "oidc",           # GitHub-style OIDC issuer (RS256 JWTs, JWKS)
    # Rehearsal only (offline mode starts nothing for these):
    "aws_gate",            # the enforcement point in front of moto: STS front and a decision per request
    "iam_authenticator",   # the token webhook that maps IAM callers through the access entries
    "controlplane",   # etcd, kube-apiserver, controller-manager, scheduler, kwok
    "postgres",       # a real PostgreSQL server
    "edge",           # Cloudflare v4 API stand-in, DNS server, TLS endpoints
    # Rehearsal only: what AWS runs for the cluster.
    "lb_controller",       # sets load balancer status as the AWS Load Balancer Controller would
    "storage_controller",  # binds gp3 claims as the EBS CSI driver would
]


def available() -> list[str]:
    """Components whose module exists (parts land one by one)."""
    return [n for n in COMPONENTS if importlib.util.find_spec(f"{__package__}.{n}") is not None]
SECRET_FIELDS = {"cloudflare_token", "postgres_dsn"}
# What each system answers with on the offline target (provision.findings grades):
# kube-apiserver, etcd, PostgreSQL and the TLS handshakes are the real components;
# AWS (moto), pods (kwok), Cloudflare, DNS and the OIDC issuer are stand-ins.
OFFLINE_GRADES = {"aws": "emulated", "kube": "real", "pods": "emulated", "cloudflare": "emulated",
                  "dns": "emulated", "tls": "real", "postgres": "real", "oidc": "emulated"}


def default_dir() -> Path:
    return config.CACHE_DIR / "stack"


def run_stack_dir(run_dir: Path) -> Path:
    """A run's own stack: outside reports/, since its state holds throwaway
    credentials (reports are uploaded as CI artifacts)."""
    return config.CACHE_DIR / "runs" / Path(run_dir).name / "stack"


def _module(name: str):
    return importlib.import_module(f"{__package__}.{name}")


def read_state(state_dir: Path) -> dict | None:
    path = Path(state_dir) / STATE
    if not path.exists():
        return None
    return json.loads(path.read_text())


def is_running(state_dir: Path) -> bool:
    state = read_state(state_dir)
    if not state:
        return False
    pids = [int(p.read_text()) for p in Path(state_dir).glob("*.pid")]
    return bool(pids) and all(procs.alive(p) for p in pids)


MODES = ("offline", "rehearsal")
MODE_MISMATCH = "the stack in {dir} runs in {have} mode, not {want}: stop it with `provision local down` first"


def up(state_dir: Path, progress=print, components: list[str] | None = None, mode: str = "offline") -> dict:
    """Start every component not yet running; idempotent (says so when all run).

    `mode` "rehearsal" makes the stack as strict as production (see docs/rehearsal.md);
    it is stored in the state before any component starts, so each can read it.
    """
    if mode not in MODES:
        raise errors.BadInput(f"unknown stack mode {mode!r}: expected one of {', '.join(MODES)}")
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(state_dir / ".lock")):
        state = read_state(state_dir) or {"started": time.time(), "components": {}, "mode": mode}
        have = state.get("mode", "offline")
        if have != mode and state["components"]:
            raise errors.Refused(MODE_MISMATCH.format(dir=state_dir, have=have, want=mode))
        state["mode"] = mode
        _write(state_dir, state)
        wanted = components or available()
        for name in wanted:
            info = state["components"].get(name)
            if info is not None and _alive(state_dir, _module(name).NAME):
                continue
            t0 = time.monotonic()
            try:
                state["components"][name] = _module(name).start(state_dir, progress)
            except Exception:
                _write(state_dir, state)
                raise
            progress(f"{name} ready in {time.monotonic() - t0:.1f}s")
            _write(state_dir, state)
        return state


def mode_of(state_dir: Path) -> str:
    """The mode a stack runs in (offline unless started as a rehearsal)."""
    state = read_state(Path(state_dir))
    return (state or {}).get("mode", "offline")


def _alive(state_dir: Path, name: str) -> bool:
    """A component's processes are `<NAME>*.pid`; all must be alive."""
    pids = [int(p.read_text()) for p in Path(state_dir).glob(f"{name}*.pid")]
    return bool(pids) and all(procs.alive(p) for p in pids)


def down(state_dir: Path, progress=print) -> None:
    """Stop every component (reverse order); leaves no process behind."""
    state_dir = Path(state_dir)
    for name in reversed(available()):
        progress(f"stopping {name}")
        _module(name).stop(state_dir)
    (state_dir / STATE).unlink(missing_ok=True)


def _write(state_dir: Path, state: dict) -> None:
    tmp = state_dir / (STATE + ".tmp")
    # The state holds throwaway loopback credentials: readable by the owner only.
    tmp.touch(mode=0o600)
    tmp.chmod(0o600)
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(state_dir / STATE)


# What the offline target cannot do as production would: the demo does the operator's part for it.
OFFLINE_CANNOT = {
    "fidelity_faults": "the offline target has none of the rehearsal's strict parts (enforcement point, access "
                       "entries, scoped tokens, load balancer controller) whose faults these seed",
    "real_secret_source": "the offline secret source is moto's Secrets Manager: its values are generated, never real",
    "volume_provisioning": "no storage driver runs offline: StatefulSet claims are pre-bound to local volumes "
                           "(provision/kube/volumes.py)",
}


# kwok plays the kubelet offline: what a pod's status shows there is a stage, not a container.
KWOK_GAPS = {
    "kwok-pods": ("kwok runs no container and no probe: offline, a pod's Running/Ready status, restarts and "
                  "crash loops are set by kwok stages keyed on the image tag, not by a kubelet; image pulls, "
                  "readiness probes and container start-up are checked live only"),
}


# The rehearsal runs the live scenarios as production would: nothing is broken on purpose.
REHEARSAL_CANNOT = {
    # the storage controller provisions volumes in the rehearsal (provision/local/storage_controller.py)
    "real_secret_source": OFFLINE_CANNOT["real_secret_source"],
    "seeded_faults": "the rehearsal runs the live scenarios as production would; seeded faults are the offline "
                     "target's",
    "aws_writes": "the nightly job's role is read-only: it reads the stacks the operator and deploy job applied",
}


# The gaps the rehearsal's enforcement point closes: it validates web-identity tokens against the
# trust policy and decides every request on the role's policies (provision/local/aws_gate.py).
CLOSED_IN_REHEARSAL = ("sts-web-identity", "iam-simulation", "ingress-load-balancer")


def gaps(mode: str = "offline") -> dict:
    """The named gaps of the stand-ins, declared on the target they belong to."""
    from . import edge, moto_server

    out = {**moto_server.GAPS, **edge.GAPS, **KWOK_GAPS}
    if mode == "rehearsal":
        for key in CLOSED_IN_REHEARSAL:
            out.pop(key, None)
    return out


def target(state: dict) -> Target:
    """The offline Target from a stack's state."""
    s = config.settings()
    fields = {"local": state["components"]}
    for info in state["components"].values():
        for k, v in info.items():
            if k in Target.__dataclass_fields__:
                fields[k] = Secret(v) if k in SECRET_FIELDS else (tuple(v) if isinstance(v, list) else v)
    return Target(
        name=state.get("mode", "offline"),
        grades=dict(OFFLINE_GRADES),
        gaps=gaps(state.get("mode", "offline")),
        cannot=dict(OFFLINE_CANNOT if state.get("mode", "offline") == "offline" else REHEARSAL_CANNOT),
        # the rehearsal's jobs hold the nightly environment's roles only, as live (harness/rehearsal.py)
        environment="" if state.get("mode", "offline") == "offline" else s["github"]["nightly_environment"],
        region=s["aws"]["region"],
        account_id=s["aws"]["account_id"],
        domains=tuple(s["domains"]["names"]),
        namespace=s["kubernetes"]["namespace"],
        **fields,
    )


def env_lines(state_dir: Path, state: dict) -> list[str]:
    t = target(state)
    env = {**t.env(), STACK_DIR_ENV: str(state_dir),
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    return [f"export {k}={v}" for k, v in env.items()]


def offline_aws_env() -> dict:
    """moto accepts any credentials; these fixed dummies keep boto3 from looking for real ones."""
    return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
