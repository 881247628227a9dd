"""actionlint and zizmor on workflow files, and the whole workflow check.

actionlint is built from its Go module (tools/actionlint, `provision local
build`); zizmor comes from the virtualenv. The seeded workflow faults are in
harness/faults/workflows.py.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from .. import config, errors, findings
from ..findings import STATIC, Finding, failed, graded, passed
from ..local import build
from . import deploy_checks, live_checks
from . import workflow_checks as checks
from . import workflow_model as model

TOOL_FAILED = "{tool} failed (exit {rc}): {cmd}"


def actionlint_path() -> Path:
    """The actionlint binary of `provision local build` (TargetUnavailable when not built yet)."""
    return build.binary("actionlint")


def zizmor_path() -> Path:
    here = Path(sys.executable).parent / "zizmor"
    found = here if here.exists() else shutil.which("zizmor")
    if not found:
        raise errors.TargetUnavailable("zizmor not found: install the project (make venv)")
    return Path(found)


def _run(tool: str, argv: list[str], ok_codes: tuple[int, ...]) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise errors.ProvisionError(f"{tool} could not run: {exc}", evidence=(" ".join(argv),)) from None
    if proc.returncode not in ok_codes:
        raise errors.ProvisionError(
            TOOL_FAILED.format(tool=tool, rc=proc.returncode, cmd=" ".join(argv)),
            evidence=tuple(proc.stderr.strip().splitlines()[-10:]))
    return proc


@graded(STATIC)
def actionlint(paths: list[Path]) -> Finding:
    """actionlint on the files; exit 1 means problems found, 2 and 3 are errors of the tool."""
    subject = f"actionlint {config.versions()['actionlint']} on {', '.join(Path(p).name for p in paths)}"
    argv = [str(actionlint_path()), "-no-color", "-oneline", *map(str, paths)]
    proc = _run("actionlint", argv, (0, 1))
    problems = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    # actionlint lints run: scripts only when shellcheck (and pyflakes) are on PATH; say so.
    gaps = tuple(f"{tool} not on PATH: actionlint did not lint run: scripts with it"
                 for tool in ("shellcheck",) if shutil.which(tool) is None)
    if proc.returncode == 1 or problems:
        return failed(subject, "no problem", f"{len(problems)} problems", evidence=problems, gaps=gaps)
    return passed(subject, "no problem", "no problem", gaps=gaps)


@graded(STATIC)
def zizmor(paths: list[Path]) -> Finding:
    """zizmor --offline (regular persona); exit 10-14 means findings by their top severity."""
    subject = f"zizmor --offline on {', '.join(Path(p).name for p in paths)}"
    argv = [str(zizmor_path()), "--offline", "--format", "json", *map(str, paths)]
    proc = _run("zizmor", argv, (0, 10, 11, 12, 13, 14))
    try:
        found = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        raise errors.ProvisionError(TOOL_FAILED.format(tool="zizmor", rc=proc.returncode, cmd=" ".join(argv)),
                                    evidence=("output is not JSON",) + tuple(proc.stderr.splitlines()[-5:])) from None
    lines = []
    for f in found:
        loc = (f.get("locations") or [{}])[0]
        path = Path(loc.get("symbolic", {}).get("key", {}).get("Local", {}).get("verbatim_path", "?")).name
        row = loc.get("concrete", {}).get("location", {}).get("start_point", {}).get("row", -1) + 1
        lines.append(f"{path}:{row}: {f['ident']} ({f['determinations']['severity']}): {f['desc']}")
    # Offline, zizmor cannot look SHAs up: impostor commits and known-vulnerable
    # actions are not checked. Named so the report shows it.
    gaps = ("zizmor --offline: online audits (impostor-commit, known-vulnerable-actions, ref-confusion) not run; "
            "the pinned SHAs are not verified against their repositories",)
    if lines:
        return failed(subject, "no finding", f"{len(lines)} findings", evidence=lines, gaps=gaps)
    return passed(subject, "no finding", "no finding", gaps=gaps)


# ---- the whole check ----------------------------------------------------------

def own_checks(wf: model.Workflow) -> list[Finding]:
    """The repository's rules for one workflow, plus the deploy- or live-specific ones by file name."""
    return [checks.hygiene(wf), *named_checks(wf)]


def named_checks(wf: model.Workflow) -> list[Finding]:
    """This project's rules for its deploy, live and CI workflows, chosen by file name."""
    found = []
    if wf.name == model.DEPLOY:
        found += [checks.permissions_exact(wf, "deploy"), checks.oidc_credentials(wf, "deploy", checks.DEPLOY_ROLE_VAR),
                  deploy_checks.deploy_triggers(wf), deploy_checks.concurrency_per_cluster(wf),
                  deploy_checks.image_tags(wf), deploy_checks.deploy_command(wf), deploy_checks.summary_and_alert(wf)]
    elif wf.name == model.LIVE:
        from ..backup import drill_workflow  # the nightly restore drill's own job (issue 13)

        found += [live_checks.live_run(wf), live_checks.live_publish(wf), drill_workflow.drill_job(wf)]
    elif wf.name == model.CI:
        found += [checks.ci_offline(wf)]
    return found


def check_workflows(paths: list[Path]) -> Finding:
    """actionlint, zizmor --offline and the own checks; evidence names every failing rule."""
    paths = [Path(p) for p in paths]
    loaded = [model.load(p) for p in paths]  # bad input fails here, in one line, before any tool runs
    findings = [actionlint(paths), zizmor(paths)]
    for w in loaded:
        findings += own_checks(w)
    return checks.merge(f"workflow check of {', '.join(p.name for p in paths)}", findings)



def caught(finding: Finding, needle: str) -> Finding:
    """A seeded fault is caught when the check is red and its evidence names `needle`."""
    return findings.caught(finding, needle, case_sensitive=True)


def ensure_actionlint(progress=print) -> Path:
    """Build actionlint alone when it is missing (the live run needs no control plane)."""
    b = next(b for b in build.builds() if b.name == "actionlint")
    if not build.is_built(b):
        build.build_one(b, progress)
    return actionlint_path()


def main(argv: list[str] | None = None) -> int:
    """`python -m provision.ci.lint build-actionlint | check [FILE...]` for workflows and shells."""
    import argparse
    p = argparse.ArgumentParser(prog="python -m provision.ci.lint", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("build-actionlint", help="build actionlint from tools/actionlint if it is not built yet")
    c = sub.add_parser("check",
                       help="actionlint, zizmor --offline and the own rules (default: the committed workflows)")
    c.add_argument("files", nargs="*", type=Path)
    args = p.parse_args(argv)
    try:
        if args.command == "build-actionlint":
            print(ensure_actionlint(lambda m: print(f"==> {m}", file=sys.stderr, flush=True)))
            return 0
        f = check_workflows(args.files or [w.path for w in model.committed()])
    except errors.ProvisionError as exc:
        print(f"provision.ci.lint {args.command}: {exc}", file=sys.stderr)
        for line in exc.evidence:
            print(f"  {line}", file=sys.stderr)
        return exc.exit_code
    print("\n".join([f.line(), *f.evidence, *(f"gap: {g}" for g in f.gaps)]))
    return 0 if f.ok else errors.EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
