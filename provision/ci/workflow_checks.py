"""The repository's own rules for every workflow: permissions, OIDC credentials, no AWS keys, pinned
actions, no expressions in run: scripts, no privileged triggers; and the pull-request workflow."""
from __future__ import annotations

import re

from ..findings import STATIC, Finding, combine, failed, graded, passed
from .workflow_model import PIN, Workflow, action_of, fmt_permissions, label, run_lines, steps_using

OIDC_PERMISSIONS = {"id-token": "write", "contents": "read"}
DEPLOY_ROLE_VAR = "AWS_DEPLOY_ROLE_ARN"
VERIFY_ROLE_VAR = "AWS_VERIFY_ROLE_ARN"
DRILL_ROLE_VAR = "AWS_DRILL_ROLE_ARN"   # verify-live.yml `drill` (backup.yaml DrillRole)
CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials"
DANGEROUS_TRIGGERS = ("pull_request_target", "workflow_run")
# Triggers whose run can be started by someone without write access, with the base repository's token.
RISKY_TRIGGERS = ("issue_comment", "workflow_run", "pull_request_target")
# Actions that upload SARIF to code scanning (analyze uploads its own results by default).
UPLOAD_SARIF = ("github/codeql-action/upload-sarif", "github/codeql-action/analyze")
_SECRET_REF = re.compile(r"\bsecrets\.(?!GITHUB_TOKEN\b)(\w+)|secrets:\s*inherit")

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
# Access key ids of long-lived (AKIA) and temporary (ASIA) credentials.
_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
# Names that mean a workflow holds or hands out AWS keys, and commands that print them.
_KEY_NAMES = ("aws-access-key-id", "aws-secret-access-key", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
              "export-credentials", "get-session-token")


def _perm_problems(perms, where: str, allowed: dict) -> list[str]:
    if perms is None:
        return []
    if isinstance(perms, str):  # write-all / read-all: more than any job here needs
        return [f"{where}: permissions: {perms}"]
    bad = []
    for scope, level in (perms or {}).items():
        if level != "none" and allowed.get(scope) != level and not (level == "read" and allowed.get(scope) == "write"):
            bad.append(f"{where}: {scope}: {level} is more than {allowed.get(scope, 'none')}")
    return bad


@graded(STATIC)
def permissions_exact(wf: Workflow, job_id: str, expected: dict = OIDC_PERMISSIONS) -> Finding:
    """The job asks for exactly `expected`; the workflow default grants nothing more than read."""
    subject = f"{wf.name}: job {job_id} permissions are exactly {fmt_permissions(expected)}"
    job = wf.job(job_id)
    if not job:
        return failed(subject, fmt_permissions(expected), f"no job {job_id}")
    actual = job.get("permissions")
    problems = []
    if actual != expected:
        problems.append(f"job {job_id}: permissions {fmt_permissions(actual) if actual is not None else '(inherited)'}")
    top = wf.doc.get("permissions")
    if isinstance(top, str):
        problems.append(f"workflow permissions: {top}")
    elif isinstance(top, dict):
        problems += [p for p in _perm_problems(top, "workflow permissions", {"contents": "read"})]
    if problems:
        return failed(subject, fmt_permissions(expected), "; ".join(problems), evidence=problems)
    return passed(subject, fmt_permissions(expected), fmt_permissions(actual))


@graded(STATIC)
def least_privilege(wf: Workflow) -> Finding:
    """No job may inherit or hold write-all; the workflow default is {} or read-only."""
    subject = f"{wf.name}: no write-all, workflow default grants at most contents: read"
    problems = []
    top = wf.doc.get("permissions")
    if top is None:
        problems.append("workflow permissions not set (the repository default applies)")
    elif isinstance(top, str):
        problems.append(f"workflow permissions: {top}")
    else:
        problems += _perm_problems(top, "workflow permissions", {"contents": "read"})
    for job_id, job in wf.jobs().items():
        perms = (job or {}).get("permissions")
        if isinstance(perms, str):
            problems.append(f"job {job_id} permissions: {perms}")
        elif perms is None and top is None:
            problems.append(f"job {job_id}: no permissions block")
        elif isinstance(perms, dict) and perms.get("security-events") == "write" and not any(
                steps_using(wf, action, job_id) for action in UPLOAD_SARIF):
            problems.append(f"job {job_id}: security-events: write without a {' or '.join(UPLOAD_SARIF)} step "
                            "(allowed only in the job that uploads SARIF)")
    return failed(subject, "least privilege", "; ".join(problems), evidence=problems) if problems \
        else passed(subject, "least privilege", "ok")


@graded(STATIC)
def oidc_credentials(wf: Workflow, job_id: str, role_var: str) -> Finding:
    """AWS credentials only from configure-aws-credentials assuming a role held in a repository variable."""
    subject = f"{wf.name}: job {job_id} assumes vars.{role_var} through OIDC"
    found = steps_using(wf, CREDENTIALS_ACTION, job_id)
    if len(found) != 1:
        return failed(subject, f"one {CREDENTIALS_ACTION} step", f"{len(found)} steps")
    j, i, step = found[0]
    w = step.get("with") or {}
    problems = []
    role = str(w.get("role-to-assume", ""))
    role_vars = re.findall(r"\bvars\.(\w+)", role)
    if not role_vars or any(not v.startswith(role_var) for v in role_vars) or "secrets." in role or "arn:" in role:
        problems.append(f"role-to-assume {role or '(missing)'}: expected ${{{{ vars.{role_var} }}}}")
    if "github.run_id" not in str(w.get("role-session-name", "")):
        problems.append(f"role-session-name {w.get('role-session-name') or '(missing)'} does not carry github.run_id")
    for key in ("aws-access-key-id", "aws-secret-access-key", "aws-session-token"):
        if key in w:
            problems.append(f"static credential input {key}: {w[key]}")
    if (wf.job(job_id).get("permissions") or {}).get("id-token") != "write":
        problems.append(f"job {job_id} lacks id-token: write (no OIDC token)")
    if not PIN.match(action_of(step)[1]):
        problems.append(f"{CREDENTIALS_ACTION}@{action_of(step)[1]} is not pinned by commit SHA")
    actual = f"role {role}, session {w.get('role-session-name')}"
    if problems:
        return failed(subject, "OIDC role from a repository variable, session per run", actual, evidence=problems)
    return passed(subject, "OIDC role from a repository variable, session per run", actual)


@graded(STATIC)
def static_aws_keys(wfs: list[Workflow]) -> Finding:
    """No access key id, secret key input or credential-printing command in any workflow."""
    subject = "no workflow holds or prints an AWS access key"
    hits = []
    for wf in wfs:
        for n, line in enumerate(wf.text.splitlines(), 1):
            if _KEY_ID.search(line):
                hits.append(f"{wf.name}:{n}: an AWS access key id (AKIA/ASIA...) in the file")
            for name in _KEY_NAMES:
                if name in line:
                    hits.append(f"{wf.name}:{n}: {name}")
    names = ", ".join(wf.name for wf in wfs)
    if hits:
        return failed(subject, "no static AWS key", f"{len(hits)} hits", evidence=hits)
    return passed(subject, "no static AWS key", f"none in {names}")


# ---- generic hygiene ------------------------------------------

@graded(STATIC)
def pinned_actions(wf: Workflow) -> Finding:
    subject = f"{wf.name}: every action pinned by full commit SHA"
    bad = []
    for job_id, i, step in wf.steps():
        name, ref = action_of(step)
        if name and not name.startswith("./") and not name.startswith("docker://") and not PIN.match(ref):
            bad.append(f"{label(job_id, i, step)}: unpinned action {step['uses']}")
    for job_id, job in wf.jobs().items():
        uses = (job or {}).get("uses")  # reusable workflows
        if uses and not uses.startswith("./") and not PIN.match(uses.partition("@")[2]):
            bad.append(f"job {job_id}: unpinned reusable workflow {uses}")
    return failed(subject, "40-hex refs", f"{len(bad)} unpinned", evidence=bad) if bad \
        else passed(subject, "40-hex refs", "all pinned")


@graded(STATIC)
def no_expressions_in_run(wf: Workflow) -> Finding:
    """Stricter than template-injection: no `${{ }}` in any run: script, values go through env:."""
    subject = f"{wf.name}: no expression interpolated into run: scripts"
    bad = [f"{label(j, i, s)}: template-injection risk: {m.group(0)} in run:"
           for j, i, s in wf.steps() for m in _EXPR.finditer(str(s.get("run", "")))]
    return failed(subject, "expressions only in env:/with:", f"{len(bad)} in run:", evidence=bad) if bad \
        else passed(subject, "expressions only in env:/with:", "none in run:")


@graded(STATIC)
def no_dangerous_triggers(wf: Workflow) -> Finding:
    subject = f"{wf.name}: no privileged trigger running untrusted code"
    bad = [f"dangerous trigger {t}" for t in wf.triggers() if t in DANGEROUS_TRIGGERS]
    if bad:  # and worse: the privileged run checks out the pull request's code
        bad += [f"{label(j, i, st)}: checks out the pull request head under {', '.join(wf.triggers())}"
                for j, i, st in steps_using(wf, "actions/checkout")
                if re.search(r"github\.(event\.pull_request\.head|head_ref)",
                             str((st.get("with") or {}).get("ref", "")))]
    return failed(subject, "no " + "/".join(DANGEROUS_TRIGGERS), ", ".join(bad), evidence=bad) if bad \
        else passed(subject, "no " + "/".join(DANGEROUS_TRIGGERS), ", ".join(wf.triggers()))


def _writes(perms) -> list[str]:
    if perms is None:
        return ["(token permissions not set: the repository default, possibly write)"]
    if isinstance(perms, str):
        return [] if perms == "read-all" else [perms]
    return [f"{k}: {v}" for k, v in perms.items() if v == "write"]


@graded(STATIC)
def risky_triggers(wf: Workflow) -> Finding:
    """issue_comment, workflow_run and pull_request_target run with the base repository's token and
    secrets although anyone may start them: together with write permissions or secrets they are a way in."""
    subject = f"{wf.name}: no {'/'.join(RISKY_TRIGGERS)} trigger with write permissions or secrets"
    risky = [t for t in wf.triggers() if t in RISKY_TRIGGERS]
    bad = []
    for job_id, job in (wf.jobs() if risky else {}).items():
        job = job or {}
        perms = job.get("permissions", wf.doc.get("permissions"))
        writes = _writes(perms)
        secrets = sorted({m.group(1) or "inherit" for m in _SECRET_REF.finditer(str(job))})
        if writes or secrets:
            held = ", ".join(writes + [f"secrets.{x}" if x != "inherit" else "secrets: inherit" for x in secrets])
            bad.append(f"job {job_id} runs on {', '.join(risky)} holding {held}")
    expected = "read-only token and no secrets under those triggers"
    return failed(subject, expected, f"{len(bad)} jobs", evidence=[f"FAIL {b}" for b in bad]) if bad \
        else passed(subject, expected, f"triggers {', '.join(wf.triggers()) or 'none'}")


def merge(subject: str, findings: list[Finding]) -> Finding:
    """Like findings.combine, but keeps each failing finding's own evidence, indented under it."""
    c = combine(subject, findings)
    evidence = []
    for f in [f for f in findings if not f.ok] + [f for f in findings if f.ok]:
        evidence.append(f.line())
        if not f.ok:
            evidence += [f"    {e}" for e in f.evidence]
    return Finding(c.status, c.subject, c.expected, c.actual, tuple(evidence), c.gaps, c.grade)


@graded(STATIC)
def hygiene(wf: Workflow) -> Finding:
    """The repository's own rules for every workflow."""
    return merge(f"{wf.name}: own workflow rules", [
        least_privilege(wf), pinned_actions(wf), no_expressions_in_run(wf), no_dangerous_triggers(wf),
        risky_triggers(wf), static_aws_keys([wf]),
    ])


# ---- the pull-request workflow -----------------------------------------------

@graded(STATIC)
def ci_offline(wf: Workflow, job_id: str = "test") -> Finding:
    """Pull requests run `make test` with a read-only token and no cloud credentials."""
    subject = f"{wf.name}: pull requests run `make test` with contents: read only"
    problems = []
    if "pull_request" not in wf.triggers():
        problems.append(f"triggers {list(wf.triggers())}: expected pull_request")
    for where, perms in (("workflow", wf.doc.get("permissions")), (f"job {job_id}", wf.job(job_id).get("permissions"))):
        if perms not in ({"contents": "read"}, None, {}):
            problems.append(f"{where} permissions {fmt_permissions(perms)}: expected contents: read only")
    if not any(ln == "make test" for j, _, s in wf.steps() if j == job_id for ln in run_lines(s)):
        problems.append(f"job {job_id} does not run `make test`")
    if steps_using(wf, CREDENTIALS_ACTION):
        problems.append("a pull-request workflow obtains AWS credentials")
    if problems:
        return failed(subject, "make test, contents: read", "; ".join(problems), evidence=problems)
    return passed(subject, "make test, contents: read", "ok")
