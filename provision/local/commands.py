"""`provision local build|up|down|env|status`: the offline target from a shell."""
from __future__ import annotations

import json
from pathlib import Path

from .. import errors
from . import build, stack


def register(sub) -> None:
    p = sub.add_parser("local",
                       help="the embedded offline target (moto, local control plane, PostgreSQL, DNS/TLS, OIDC)")
    lsub = p.add_subparsers(dest="local_command", metavar="ACTION", required=True)
    b = lsub.add_parser("build", help="build the local control plane binaries (once per version)")
    b.add_argument("--force", action="store_true", help="rebuild even when the cache has this version")
    b.set_defaults(func=_build)
    for name, func, text in (("up", _up, "start the offline target (idempotent)"),
                             ("down", _down, "stop it; no process is left behind"),
                             ("env", _env, "print export lines that point a shell at it"),
                             ("status", _status, "show its components and endpoints")):
        q = lsub.add_parser(name, help=text)
        q.add_argument("--dir", default=str(stack.default_dir()), help="state directory (default: %(default)s)")
        q.set_defaults(func=func)


def _progress(m: str) -> None:
    from ..cli import progress
    progress(m)


def _build(args) -> int:
    took = build.build_all(_progress, force=args.force)
    _progress("nothing to build: every binary is cached" if not took else
              "build times: " + ", ".join(f"{k} {v:.0f}s" for k, v in took.items()))
    return 0


def _up(args) -> int:
    d = Path(args.dir)
    already = stack.is_running(d)
    build.build_all(_progress)
    state = stack.up(d, _progress)
    _progress("offline target already running: nothing started" if already else "offline target is up")
    print("\n".join(stack.env_lines(d, state)))
    return 0


def _down(args) -> int:
    d = Path(args.dir)
    if stack.read_state(d) is None:
        _progress("offline target is not running: nothing to stop")
        return 0
    stack.down(d, _progress)
    return 0


def _env(args) -> int:
    d = Path(args.dir)
    state = stack.read_state(d)
    if state is None or not stack.is_running(d):
        raise errors.TargetUnavailable(f"no running offline target in {d}: run `provision local up`")
    print("\n".join(stack.env_lines(d, state)))
    return 0


def _status(args) -> int:
    d = Path(args.dir)
    state = stack.read_state(d)
    if state is None:
        print(f"not running ({d})")
        return 1
    print(f"{'running' if stack.is_running(d) else 'DEGRADED'} ({d})")
    safe = {n: {k: v for k, v in info.items() if k not in stack.SECRET_FIELDS}
            for n, info in state["components"].items()}
    print(json.dumps(safe, indent=1))
    return 0 if stack.is_running(d) else 1
