"""`provision stacks plan|up|down|drift --env ENV`: the CloudFormation stacks from the shell and the workflows.

The AWS endpoint and credentials come from the environment (AWS_ENDPOINT_URL
for the offline target, `provision local env`), as for every AWS tool.
"""

from __future__ import annotations

from .. import config, errors


def register(sub) -> None:
    for name, func, text in (
        ("plan", _plan, "show the change set of every stack (nothing is changed)"),
        ("up", _up, "create or update the stacks in dependency order through change sets"),
        ("down", _down, "delete the stacks in reverse order"),
        ("drift", _drift, "detect drift of the stacks from their templates"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument(
            "--env", required=True, help=f"environment of settings.yaml ({', '.join(config.environments())})"
        )
        p.set_defaults(func=func)
        if name == "down":
            p.add_argument("--include-backups", action="store_true",
                           help="also delete the backup stack (its bucket and key are retained by CloudFormation)")


def cli_target():
    from ..targets import from_environment

    return from_environment()


def _progress(m: str) -> None:
    from ..cli import progress

    progress(m)


def _env(args):
    return config.Environment.named(args.env)


def _print(results, changes: bool = False) -> int:
    for r in results:
        print(r.line())
        for line in r.changes if changes else ():
            print(f"    {line}")
        for g in r.gaps:
            print(f"    gap: {g}")
    return 0


def _plan(args) -> int:
    from . import stacks

    return _print(stacks.plan(cli_target(), _env(args), _progress), changes=True)


def _up(args) -> int:
    from . import stacks

    return _print(stacks.up(cli_target(), _env(args), _progress))


def _down(args) -> int:
    from . import stacks

    return _print(stacks.down(cli_target(), _env(args), _progress, include_data=args.include_backups))


def _drift(args) -> int:
    from . import stack_checks

    f = stack_checks.drift(cli_target(), _env(args), _progress)
    print(f.line())
    for line in f.evidence:
        print(f"    {line}")
    for g in f.gaps:
        print(f"    gap: {g}")
    return errors.EXIT_OK if f.ok else errors.EXIT_FAILED
