"""Checks of the nightly live verification workflow: what it runs and what it publishes."""
from __future__ import annotations

import shlex

from .. import config
from ..findings import STATIC, Finding, failed, graded, passed
from ..report import signoff
from .workflow_checks import VERIFY_ROLE_VAR, oidc_credentials
from .workflow_model import PIN, Workflow, action_of, env_of, is_always, label, run_lines, steps_using

UPLOAD_ACTION = "actions/upload-artifact"
SIGNOFF_PATH = f"reports/latest/{signoff.MD_NAME}"


@graded(STATIC)
def live_run(wf: Workflow, job_id: str = "verify") -> Finding:
    """Nightly and dispatched; runs `pytest --target live -m live` with what the live target needs."""
    subject = f"{wf.name}: nightly `pytest --target live -m live` with the live settings"
    problems = []
    on = wf.triggers()
    if not on.get("schedule") or "workflow_dispatch" not in on:
        problems.append(f"triggers {list(on)}: expected schedule and workflow_dispatch")
    runs = [(i, s, ln) for j, i, s in wf.steps() if j == job_id for ln in run_lines(s) if "pytest" in ln]
    if len(runs) != 1:
        problems.append(f"{len(runs)} pytest lines in job {job_id}, expected 1")
    else:
        i, step, line = runs[0]
        argv = shlex.split(line)
        pairs = set(zip(argv, argv[1:], strict=False))
        pairs |= {tuple(a.split("=", 1)) for a in argv if a.startswith("--target=")}
        if ("--target", "live") not in pairs:
            problems.append(f"{line!r} does not pass --target live")
        if ("-m", "live") not in pairs:
            problems.append(f"{line!r} does not select -m live")
        env = env_of(wf, job_id, step)
        for name in config.LIVE_REQUIRED:
            if name not in env:
                problems.append(f"the pytest step does not set {name} ({config.LIVE_REQUIRED[name]})")
        if "secrets.CLOUDFLARE_API_TOKEN" not in str(env.get("CLOUDFLARE_API_TOKEN", "")):
            problems.append("CLOUDFLARE_API_TOKEN does not come from secrets.CLOUDFLARE_API_TOKEN")
        if "vars." not in str(env.get("CLOUDFLARE_ZONE_ID", "")):
            problems.append("CLOUDFLARE_ZONE_ID does not come from a repository variable")
        if step.get("continue-on-error"):
            problems.append("the pytest step has continue-on-error: a failed verification would look green")
    if not any("aws eks update-kubeconfig" in ln for j, _, s in wf.steps() if j == job_id for ln in run_lines(s)):
        problems.append("no `aws eks update-kubeconfig` step")
    oidc = oidc_credentials(wf, job_id, VERIFY_ROLE_VAR)
    if not oidc.ok:
        problems += list(oidc.evidence) or [oidc.line()]
    if problems:
        return failed(subject, "pytest --target live -m live", "; ".join(problems), evidence=problems)
    return passed(subject, "pytest --target live -m live", runs[0][2])


@graded(STATIC)
def live_publish(wf: Workflow, job_id: str = "verify") -> Finding:
    """reports/ uploaded as an artifact and the sign-off report in the job summary, even on failure."""
    subject = f"{wf.name}: uploads reports/ and writes {SIGNOFF_PATH} to the job summary"
    problems = []
    uploads = [(i, s) for j, i, s in steps_using(wf, UPLOAD_ACTION, job_id)
               if str((s.get("with") or {}).get("path", "")).rstrip("/") == "reports"]
    if not uploads:
        problems.append(f"no {UPLOAD_ACTION} step uploads reports/")
    for i, s in uploads:
        if not is_always(s.get("if")):
            problems.append(f"{label(job_id, i, s)}: runs only on success (needs if: always())")
        if not PIN.match(action_of(s)[1]):
            problems.append(f"{label(job_id, i, s)}: {UPLOAD_ACTION} not pinned")
    # One line of the script both reads the sign-off report and appends to the summary.
    summary = [s for j, _, s in wf.steps() if j == job_id
               and any(SIGNOFF_PATH in ln and "GITHUB_STEP_SUMMARY" in ln for ln in run_lines(s))]
    if not summary:
        problems.append(f"no step appends {SIGNOFF_PATH} to $GITHUB_STEP_SUMMARY")
    elif not all(is_always(s.get("if")) for s in summary):
        problems.append("the sign-off summary step runs only on success (needs if: always())")
    if problems:
        return failed(subject, "artifact + summary", "; ".join(problems), evidence=problems)
    return passed(subject, "artifact + summary", f"upload of reports/, {SIGNOFF_PATH} in the summary")
