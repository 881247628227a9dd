"""`provision`: the thin provisioner's command line.

Each area registers its own subcommands (`register(subparsers)` in the module
named in COMMAND_MODULES), so the CLI, the suite and the workflows share one
implementation. Errors print one line and exit with the documented code
(docs/exit-codes.md); nothing secret is printed.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from . import errors

COMMAND_MODULES = [
    "provision.report.commands",   # signoff
    "provision.local.commands",    # local build|up|down|env|status
    "provision.aws.commands",      # plan, up, down, drift
    "provision.cost.commands",     # cost
    "provision.kube.commands",     # deploy, rollback, status
    "provision.dns.commands",      # dns sync, verify of DNS/TLS
    "provision.backup.commands",   # backup, restore
    "provision.demo",              # demo
]


def progress(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="provision", description="The thin provisioner and probes of the CloudToLocalLLM EKS harness.",
                                epilog="Exit codes: 0 ok, 1 failed, 2 bad input (nothing changed), "
                                       "3 refused (sign-off, guard, lock), 4 target unavailable.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        # Areas land one by one; a module that is not there yet adds no command.
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except errors.ProvisionError as exc:
        print(f"provision {args.command}: {exc}", file=sys.stderr)
        for line in exc.evidence:
            print(f"  {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"provision {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
