"""`provision plan|up|down|drift --env ENV`: the CloudFormation stacks from the shell and the workflows.

The AWS endpoint and credentials come from the environment (AWS_ENDPOINT_URL
for the offline target, `provision local env`), as for every AWS tool.
"""
from __future__ import annotations

import os

from .. import config, errors


def register(sub) -> None:
    for name, func, text in (
            ("plan", _plan, "show the change set of every stack (nothing is changed)"),
            ("up", _up, "create or update the stacks in dependency order through change sets"),
            ("down", _down, "delete the stacks in reverse order"),
            ("drift", _drift, "detect drift of the stacks from their templates")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--env", required=True, help=f"environment of settings.yaml ({', '.join(config.environments())})")
        p.set_defaults(func=func)


def cli_target():
    s = config.settings()
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
    return config.Target(name="cli", region=os.environ.get("AWS_REGION", s["aws"]["region"]),
                         account_id=s["aws"]["account_id"], aws_endpoint_url=endpoint)


def _progress(m: str) -> None:
    from ..cli import progress
    progress(m)


def _env(args):
    from . import stacks
    return stacks.resolve_env(args.env)


def _plan(args) -> int:
    from . import stacks
    env = _env(args)
    for r in stacks.plan(cli_target(), env, _progress):
        print(r.line())
        for line in r.changes:
            print(f"    {line}")
        for g in r.gaps:
            print(f"    gap: {g}")
    return 0


def _up(args) -> int:
    from . import stacks
    env = _env(args)
    results = stacks.up(cli_target(), env, _progress)
    for r in results:
        print(r.line())
        for g in r.gaps:
            print(f"    gap: {g}")
    return 0


def _down(args) -> int:
    from . import stacks
    env = _env(args)
    for r in stacks.down(cli_target(), env, _progress):
        print(r.line())
        for g in r.gaps:
            print(f"    gap: {g}")
    return 0


def _drift(args) -> int:
    from . import stacks
    f = stacks.drift(cli_target(), _env(args), _progress)
    print(f.line())
    for line in f.evidence:
        print(f"    {line}")
    for g in f.gaps:
        print(f"    gap: {g}")
    return errors.EXIT_OK if f.ok else errors.EXIT_FAILED
