"""`provision`: the thin provisioner's command line, nouns then verbs.

    provision local build|up|down|env|status       the embedded offline target
    provision stacks plan|up|down|drift|cost --env  the CloudFormation stacks
    provision cluster bootstrap|identity --env      cluster-wide parts and the cluster's identity (an operator's step)
    provision app deploy|rollback|status --env      the app's objects in the cluster
    provision dns sync --env                        Cloudflare records of the app's domains
    provision verify --env                          the final verification (graded Findings)
    provision check [KIND] [PATH...]                static checks on any manifests, workflows, templates
    provision backup create|list|restore|drill|prune  PostgreSQL backup sets (S3 with --env)
    provision signoff build [RUN_DIR]               the sign-off report of a run
    provision signoff release|verify|keygen         the signed release sign-off of one commit
    provision demo                                  the main job on the embedded default

Each area declares its commands once, in `register(sub)` of its commands
module; PLACES puts what it registers at its noun and verb, so the CLI, the
suite and the workflows share one implementation. The old spellings
(`provision deploy`, `provision up`, `provision backup --out ...`) still work
for one release: ALIASES rewrites them before parsing, so --help shows only
the table. Errors print one line and exit with the documented code
(docs/exit-codes.md); nothing secret is printed.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

from . import errors

COMMAND_MODULES = [
    "provision.local.commands",    # local build|up|down|env|status
    "provision.aws.commands",      # stacks plan|up|down|drift
    "provision.cost.commands",     # stacks cost
    "provision.kube.commands",     # app deploy|rollback|status, cluster bootstrap|identity
    "provision.dns.commands",      # dns sync, verify
    "provision.backup.commands",   # backup create|list|restore|drill|prune
    "provision.report.commands",   # signoff build|release|verify|keygen
    "provision.check.commands",    # check [manifests|workflows|templates] [PATH...]
    "provision.demo",              # demo
]

NOUNS = {
    "stacks": "the CloudFormation stacks of an environment",
    "cluster": "cluster-wide parts and the cluster's identity (an operator's step)",
    "app": "the app's objects in the cluster: deploy, rollback, status, diff",
    "backup": "PostgreSQL backup sets: create, list, restore, drill, prune",
    "signoff": "sign-off reports",
}

# The name an area registers -> (noun, verb) in the table. A name not listed
# here is a command of its own (local, dns, verify, demo).
PLACES = {
    "plan": ("stacks", "plan"), "up": ("stacks", "up"), "down": ("stacks", "down"),
    "drift": ("stacks", "drift"), "cost": ("stacks", "cost"),
    "deploy": ("app", "deploy"), "rollback": ("app", "rollback"), "status": ("app", "status"),
    "cluster-identity": ("cluster", "identity"),
    "backup": ("backup", "create"), "restore": ("backup", "restore"),
    "signoff": ("signoff", "build"),
}
# Old spellings, hidden: `provision <old> ...` runs `provision <noun> <verb> ...`.
ALIASES = dict(PLACES)
# Verbs that never had an old spelling (placed after ALIASES is taken).
PLACES.update({
    "signoff-release": ("signoff", "release"), "signoff-verify": ("signoff", "verify"),
    "signoff-keygen": ("signoff", "keygen"), "cluster-bootstrap": ("cluster", "bootstrap"),
    "app-diff": ("app", "diff"),
    "backup-list": ("backup", "list"), "backup-drill": ("backup", "drill"), "backup-prune": ("backup", "prune"),
})
HELP_FLAGS = ("-h", "--help")


def progress(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


class _Table:
    """What an area's `register(sub)` is given: `add_parser` puts each command at its place in the table."""

    def __init__(self, top):
        self.top = top
        self.nouns: dict[str, object] = {}

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        if name not in PLACES:
            return self.top.add_parser(name, **kwargs)
        noun, verb = PLACES[name]
        if noun not in self.nouns:
            p = self.top.add_parser(noun, help=NOUNS[noun], description=NOUNS[noun])
            self.nouns[noun] = p.add_subparsers(dest="verb", metavar="VERB", required=True)
        return self.nouns[noun].add_parser(verb, **kwargs)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="provision",
                                description="The thin provisioner and probes of the CloudToLocalLLM EKS harness.",
                                epilog="Exit codes: 0 ok, 1 failed, 2 bad input (nothing changed), "
                                       "3 refused (sign-off, guard, lock), 4 target unavailable.")
    table = _Table(p.add_subparsers(dest="command", metavar="COMMAND", required=True))
    for name in COMMAND_MODULES:
        # Areas land one by one; a module that is not there yet adds no command.
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(table)
    return p


def canonical(argv: list[str]) -> tuple[list[str], str | None]:
    """(argv in the table's spelling, the old command name when an alias was used).

    `backup` and `signoff` are both a noun and an old command: the old form is
    the one not followed by one of the noun's verbs (or by --help).
    """
    if not argv or argv[0] not in ALIASES:
        return list(argv), None
    noun, verb = ALIASES[argv[0]]
    rest = argv[1:]
    if argv[0] == noun:
        verbs = {v for n, v in PLACES.values() if n == noun}
        if rest and (rest[0] in verbs or rest[0] in HELP_FLAGS):
            return list(argv), None
    return [noun, verb, *rest], argv[0]


def main(argv: list[str] | None = None) -> int:
    argv, alias = canonical(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    # Errors name the command as it was typed: `provision up: ...`, `provision stacks up: ...`.
    name = alias or " ".join(filter(None, (args.command, getattr(args, "verb", None))))
    try:
        try:
            return int(args.func(args) or 0)
        except Exception as exc:
            # An unreachable endpoint, missing or refused credentials, a kubeconfig that cannot be loaded: one line,
            # exit 4, whichever command met them (errors.unavailable is the one place that knows them).
            mapped = errors.unavailable(exc, os.environ.get("KUBECONFIG"))
            if mapped is None:
                raise
            raise mapped from None
    except errors.ProvisionError as exc:
        print(f"provision {name}: {exc}", file=sys.stderr)
        for line in exc.evidence:
            print(f"  {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"provision {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
