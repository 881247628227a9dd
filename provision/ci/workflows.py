"""The GitHub Actions workflows, parsed, and pure predicates that judge them.

Every predicate takes a parsed `Workflow` (no I/O) and returns a Finding, so
each is unit-tested on small inline workflows (tests/test_ci_workflows.py).
The linters (actionlint, zizmor) and the seeded faults are in provision.ci.lint.
"""
from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import config, errors
from ..findings import Finding, combine, failed, passed
from ..report import signoff
from . import outputs

WORKFLOWS_DIR = config.ROOT / ".github" / "workflows"
DEPLOY = "deploy-aws-eks.yml"
LIVE = "verify-live.yml"
CI = "ci.yml"

OIDC_PERMISSIONS = {"id-token": "write", "contents": "read"}
DEPLOY_ROLE_VAR = "AWS_DEPLOY_ROLE_ARN"
VERIFY_ROLE_VAR = "AWS_VERIFY_ROLE_ARN"
CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials"
BUILD_ACTION = "docker/build-push-action"
UPLOAD_ACTION = "actions/upload-artifact"
SHA_EXPR = "${{ github.sha }}"
# The documented form of the deploy command (features/deploy.feature).
DEPLOY_FORM = "provision deploy --env <env> --image-tag <sha>"
SIGNOFF_PATH = f"reports/latest/{signoff.MD_NAME}"
DANGEROUS_TRIGGERS = ("pull_request_target", "workflow_run")

BAD_WORKFLOW = "workflow {path}: {why}"
NO_DEPLOY_COMMAND = "provision deploy is not registered in provision.cli yet: checked against the documented form `{form}` only"

_PIN = re.compile(r"^[0-9a-f]{40}$")
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_STEP_OUTPUT = re.compile(r"\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}")
_SHELL_VAR = re.compile(r"^\$\{?(\w+)\}?$")
# Access key ids of long-lived (AKIA) and temporary (ASIA) credentials.
_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
# Names that mean a workflow holds or hands out AWS keys, and commands that print them.
_KEY_NAMES = ("aws-access-key-id", "aws-secret-access-key", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
              "export-credentials", "get-session-token")


@dataclass(frozen=True)
class Workflow:
    name: str
    path: Path
    text: str
    doc: dict

    def jobs(self) -> dict:
        return self.doc.get("jobs") or {}

    def job(self, job_id: str) -> dict:
        return self.jobs().get(job_id) or {}

    def triggers(self) -> dict:
        on = self.doc.get("on")
        if isinstance(on, str):
            return {on: None}
        if isinstance(on, list):
            return {t: None for t in on}
        return on or {}

    def steps(self):
        """(job id, index, step) of every step."""
        for job_id, job in self.jobs().items():
            for i, step in enumerate((job or {}).get("steps") or []):
                yield job_id, i, step

    def line_of(self, needle: str) -> int:
        for n, line in enumerate(self.text.splitlines(), 1):
            if needle in line:
                return n
        return 0


def parse(text: str, name: str = "workflow.yml", path: Path | None = None) -> Workflow:
    """Parse workflow text; YAML 1.1 reads the key `on` as True, so it is put back."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise errors.BadInput(BAD_WORKFLOW.format(path=name, why=f"invalid YAML: {str(exc).splitlines()[0]}")) from None
    if not isinstance(doc, dict) or "jobs" not in doc:
        raise errors.BadInput(BAD_WORKFLOW.format(path=name, why="not a workflow (no jobs mapping)"))
    if True in doc:
        doc["on"] = doc.pop(True)
    return Workflow(name, path or Path(name), text, doc)


def load(path: Path) -> Workflow:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise errors.BadInput(BAD_WORKFLOW.format(path=path, why=exc.strerror or str(exc))) from None
    return parse(text, path.name, path)


def workflow(name: str, directory: Path = WORKFLOWS_DIR) -> Workflow:
    return load(Path(directory) / name)


def committed(directory: Path = WORKFLOWS_DIR) -> list[Workflow]:
    paths = sorted(Path(directory).glob("*.yml")) + sorted(Path(directory).glob("*.yaml"))
    if not paths:
        raise errors.BadInput(BAD_WORKFLOW.format(path=directory, why="no workflow files"))
    return [load(p) for p in paths]


# ---- small helpers ---------------------------------------------------------

def _action(step: dict) -> tuple[str, str]:
    """('owner/repo[/path]', ref) of a `uses:` step, ('', '') for a run step."""
    uses = step.get("uses") or ""
    name, _, ref = uses.partition("@")
    return name, ref


def _steps_using(wf: Workflow, action: str, job_id: str | None = None) -> list[tuple[str, int, dict]]:
    return [(j, i, s) for j, i, s in wf.steps() if _action(s)[0] == action and (job_id is None or j == job_id)]


def _label(job_id: str, i: int, step: dict) -> str:
    return f"job {job_id} step {i + 1} ({step.get('name') or step.get('uses') or step.get('id') or 'run'})"


def _env_of(wf: Workflow, job_id: str, step: dict) -> dict:
    return {**(wf.doc.get("env") or {}), **(wf.job(job_id).get("env") or {}), **(step.get("env") or {})}


def _is_always(cond) -> bool:
    return isinstance(cond, str) and "always()" in cond


def settings_outputs(wf: Workflow, job_id: str, env: str = "dev") -> dict[str, str]:
    """`${{ steps.<id>.outputs.<key> }}` -> value, for the steps that run provision.ci.outputs."""
    out = {}
    for j, _, step in wf.steps():
        if j == job_id and step.get("id") and "provision.ci.outputs" in str(step.get("run", "")):
            for k, v in outputs.values(env).items():
                out[f"${{{{ steps.{step['id']}.outputs.{k} }}}}"] = v
    return out


def resolve(value: str, known: dict[str, str]) -> str:
    """Replace the settings outputs a value refers to with their values."""
    return _STEP_OUTPUT.sub(lambda m: known.get(m.group(0), m.group(0)), str(value))


# ---- predicates: permissions, credentials, keys ----------------------------

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


def permissions_exact(wf: Workflow, job_id: str, expected: dict = OIDC_PERMISSIONS) -> Finding:
    """The job asks for exactly `expected`; the workflow default grants nothing more than read."""
    subject = f"{wf.name}: job {job_id} permissions are exactly {_fmt(expected)}"
    job = wf.job(job_id)
    if not job:
        return failed(subject, _fmt(expected), f"no job {job_id}")
    actual = job.get("permissions")
    problems = []
    if actual != expected:
        problems.append(f"job {job_id}: permissions {_fmt(actual) if actual is not None else '(inherited)'}")
    top = wf.doc.get("permissions")
    if isinstance(top, str):
        problems.append(f"workflow permissions: {top}")
    elif isinstance(top, dict):
        problems += [p for p in _perm_problems(top, "workflow permissions", {"contents": "read"})]
    if problems:
        return failed(subject, _fmt(expected), "; ".join(problems), evidence=problems)
    return passed(subject, _fmt(expected), _fmt(actual))


def _fmt(perms) -> str:
    if isinstance(perms, dict):
        return ", ".join(f"{k}: {v}" for k, v in sorted(perms.items())) or "{}"
    return str(perms)


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
    return failed(subject, "least privilege", "; ".join(problems), evidence=problems) if problems \
        else passed(subject, "least privilege", "ok")


def oidc_credentials(wf: Workflow, job_id: str, role_var: str) -> Finding:
    """AWS credentials only from configure-aws-credentials assuming a role held in a repository variable."""
    subject = f"{wf.name}: job {job_id} assumes vars.{role_var} through OIDC"
    found = _steps_using(wf, CREDENTIALS_ACTION, job_id)
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
    if not _PIN.match(_action(step)[1]):
        problems.append(f"{CREDENTIALS_ACTION}@{_action(step)[1]} is not pinned by commit SHA")
    actual = f"role {role}, session {w.get('role-session-name')}"
    if problems:
        return failed(subject, "OIDC role from a repository variable, session per run", actual, evidence=problems)
    return passed(subject, "OIDC role from a repository variable, session per run", actual)


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


# ---- predicates: generic hygiene ------------------------------------------

def pinned_actions(wf: Workflow) -> Finding:
    subject = f"{wf.name}: every action pinned by full commit SHA"
    bad = []
    for job_id, i, step in wf.steps():
        name, ref = _action(step)
        if name and not name.startswith("./") and not name.startswith("docker://") and not _PIN.match(ref):
            bad.append(f"{_label(job_id, i, step)}: unpinned action {step['uses']}")
    for job_id, job in wf.jobs().items():
        uses = (job or {}).get("uses")  # reusable workflows
        if uses and not uses.startswith("./") and not _PIN.match(uses.partition("@")[2]):
            bad.append(f"job {job_id}: unpinned reusable workflow {uses}")
    return failed(subject, "40-hex refs", f"{len(bad)} unpinned", evidence=bad) if bad \
        else passed(subject, "40-hex refs", "all pinned")


def no_expressions_in_run(wf: Workflow) -> Finding:
    """Stricter than template-injection: no `${{ }}` in any run: script, values go through env:."""
    subject = f"{wf.name}: no expression interpolated into run: scripts"
    bad = [f"{_label(j, i, s)}: template-injection risk: {m.group(0)} in run:"
           for j, i, s in wf.steps() for m in _EXPR.finditer(str(s.get("run", "")))]
    return failed(subject, "expressions only in env:/with:", f"{len(bad)} in run:", evidence=bad) if bad \
        else passed(subject, "expressions only in env:/with:", "none in run:")


def no_dangerous_triggers(wf: Workflow) -> Finding:
    subject = f"{wf.name}: no privileged trigger running untrusted code"
    bad = [f"dangerous trigger {t}" for t in wf.triggers() if t in DANGEROUS_TRIGGERS]
    if bad:  # and worse: the privileged run checks out the pull request's code
        bad += [f"{_label(j, i, st)}: checks out the pull request head under {', '.join(wf.triggers())}"
                for j, i, st in _steps_using(wf, "actions/checkout")
                if re.search(r"github\.(event\.pull_request\.head|head_ref)", str((st.get("with") or {}).get("ref", "")))]
    return failed(subject, "no " + "/".join(DANGEROUS_TRIGGERS), ", ".join(bad), evidence=bad) if bad \
        else passed(subject, "no " + "/".join(DANGEROUS_TRIGGERS), ", ".join(wf.triggers()))


def merge(subject: str, findings: list[Finding]) -> Finding:
    """Like findings.combine, but keeps each failing finding's own evidence, indented under it."""
    c = combine(subject, findings)
    evidence = []
    for f in [f for f in findings if not f.ok] + [f for f in findings if f.ok]:
        evidence.append(f.line())
        if not f.ok:
            evidence += [f"    {e}" for e in f.evidence]
    return Finding(c.ok, c.subject, c.expected, c.actual, tuple(evidence), c.gaps)


def hygiene(wf: Workflow) -> Finding:
    """The repository's own rules for every workflow."""
    return merge(f"{wf.name}: own workflow rules", [
        least_privilege(wf), pinned_actions(wf), no_expressions_in_run(wf), no_dangerous_triggers(wf),
        static_aws_keys([wf]),
    ])


# ---- predicates: the deploy workflow ---------------------------------------

def _env_expr(wf: Workflow) -> str:
    """The expression naming the environment of a dispatched run (input choices = settings environments)."""
    return "inputs.environment"


def deploy_triggers(wf: Workflow) -> Finding:
    subject = f"{wf.name}: push to main and dispatch with an environment of settings.yaml"
    on = wf.triggers()
    problems = []
    push = on.get("push") or {}
    if "push" not in on or (push.get("branches") or []) != ["main"]:
        problems.append(f"push trigger {push or '(missing)'}: expected branches [main]")
    inp = ((on.get("workflow_dispatch") or {}).get("inputs") or {}).get("environment") or {}
    if inp.get("type") != "choice" or list(inp.get("options") or []) != config.environments():
        problems.append(f"workflow_dispatch input environment {inp or '(missing)'}: "
                        f"expected a choice of {config.environments()}")
    return failed(subject, "push main + dispatch(environment)", "; ".join(problems), evidence=problems) \
        if problems else passed(subject, "push main + dispatch(environment)", ", ".join(on))


def concurrency_per_cluster(wf: Workflow, job_id: str = "deploy") -> Finding:
    """The deploy job's group is keyed by the environment (one cluster each) and never cancels a deploy."""
    subject = f"{wf.name}: job {job_id} has a concurrency group per cluster, cancel-in-progress false"
    conc = wf.job(job_id).get("concurrency") or wf.doc.get("concurrency")
    expected = "group keyed by the environment, cancel-in-progress: false"
    if not isinstance(conc, dict):
        return failed(subject, expected, f"concurrency {conc!r}" if conc else "no concurrency")
    group, cancel = str(conc.get("group", "")), conc.get("cancel-in-progress")
    problems = []
    if _env_expr(wf) not in group:
        problems.append(f"group {group!r} is not keyed by {_env_expr(wf)}")
    for unique in ("github.sha", "github.run_id", "github.run_number", "github.ref"):
        if unique in group:
            problems.append(f"group {group!r} contains {unique}: every run gets its own group, nothing queues")
    if cancel is not False:
        problems.append(f"cancel-in-progress: {str(cancel).lower()} (a running deploy could be cancelled mid-rollout)")
    clusters = [config.environment(e)["cluster_name"] for e in config.environments()]
    if len(set(clusters)) != len(clusters):
        problems.append(f"environments share a cluster ({clusters}): a group per environment is not one per cluster")
    gaps = ("GitHub keeps one pending run per concurrency group: a newer push replaces an older pending one, "
            "so intermediate commits are superseded by the latest (never two deploys at once)",)
    actual = f"group {group!r}, cancel-in-progress {cancel}"
    if problems:
        return failed(subject, expected, actual, evidence=problems, gaps=gaps)
    return passed(subject, expected, actual, gaps=gaps)


def image_tags(wf: Workflow, job_id: str = "build", deploy_job: str = "deploy") -> Finding:
    """Both images of settings.yaml are built and pushed tagged with github.sha, before the deploy job."""
    subject = f"{wf.name}: web and api images pushed tagged with github.sha"
    s = config.settings()["images"]
    known = settings_outputs(wf, job_id)
    problems, seen = [], []
    for component in ("web", "api"):
        want = f"{s[component]}:{SHA_EXPR}"
        steps = []
        for j, i, step in _steps_using(wf, BUILD_ACTION, job_id):
            w = step.get("with") or {}
            tags = [resolve(t.strip(), known) for t in str(w.get("tags", "")).replace(",", "\n").splitlines() if t.strip()]
            if want in tags:
                steps.append((i, step, w))
                if not _PIN.match(_action(step)[1]):
                    problems.append(f"{_label(j, i, step)}: {BUILD_ACTION} not pinned")
        if not steps:
            problems.append(f"no {BUILD_ACTION} step in job {job_id} tags {want}")
        for i, step, w in steps:
            if w.get("push") is not True:
                problems.append(f"{_label(job_id, i, step)}: push is {w.get('push')!r}, the {component} image is never pushed")
            else:
                seen.append(want)
    needs = wf.job(deploy_job).get("needs") or []
    needs = [needs] if isinstance(needs, str) else needs
    if job_id not in needs:
        problems.append(f"job {deploy_job} does not need {job_id}: it could deploy a tag not pushed yet")
    if problems:
        return failed(subject, f"{s['web']}:<sha> and {s['api']}:<sha> pushed", ", ".join(seen) or "none", evidence=problems)
    return passed(subject, f"{s['web']}:<sha> and {s['api']}:<sha> pushed", ", ".join(seen))


def _run_lines(step: dict) -> list[str]:
    return [ln.strip() for ln in str(step.get("run", "")).splitlines() if ln.strip()]


def _resolve_word(word: str, env: dict) -> str:
    m = _SHELL_VAR.match(word)
    return str(env.get(m.group(1), word)) if m else word


def deploy_command(wf: Workflow, job_id: str = "deploy",
                   make_parser: Callable | None = None) -> Finding:
    """The deploy step runs `provision deploy --env <env> --image-tag <github.sha>` and the CLI parses it."""
    subject = f"{wf.name}: job {job_id} deploys with `{DEPLOY_FORM}`, image tag github.sha"
    found = [(i, s, ln) for j, i, s in wf.steps() if j == job_id for ln in _run_lines(s)
             if ln.startswith("provision deploy")]
    if len(found) != 1:
        return failed(subject, f"one `{DEPLOY_FORM}` line in job {job_id}", f"{len(found)} lines")
    i, step, line = found[0]
    env = _env_of(wf, job_id, step)
    argv = [_resolve_word(w, env) for w in shlex.split(line)]
    problems = []
    opts = dict(zip(argv[2::2], argv[3::2])) if len(argv) % 2 == 0 else {}
    if argv[:2] != ["provision", "deploy"] or set(opts) != {"--env", "--image-tag"}:
        problems.append(f"command {line!r} is not of the form `{DEPLOY_FORM}`")
    if opts.get("--image-tag") != SHA_EXPR:
        problems.append(f"--image-tag resolves to {opts.get('--image-tag')!r}, not {SHA_EXPR}")
    env_value = str(opts.get("--env", ""))
    if _env_expr(wf) not in env_value and env_value not in config.environments():
        problems.append(f"--env resolves to {env_value!r}, not the dispatched environment")
    if step.get("continue-on-error"):
        problems.append("the deploy step has continue-on-error: a failed deploy would look green")
    actual = f"{line}  (IMAGE_TAG={opts.get('--image-tag')}, env={env_value})"
    if problems:
        return failed(subject, DEPLOY_FORM, actual, evidence=problems)
    # The CLI must accept the very command, with a real environment and SHA.
    concrete = ["deploy", "--env", config.environments()[0], "--image-tag", "0" * 40]
    parse_problem, gap = cli_accepts(concrete, make_parser)
    if parse_problem:
        return failed(subject, DEPLOY_FORM, actual, evidence=[parse_problem])
    return passed(subject, DEPLOY_FORM, actual, gaps=(gap,) if gap else ())


def cli_accepts(argv: list[str], make_parser: Callable | None = None) -> tuple[str, str]:
    """(problem, gap): parse `argv` with provision.cli's parser; gap when the subcommand is not there yet."""
    if make_parser is None:
        from .. import cli
        make_parser = cli.parser
    p = make_parser()
    subs = [a for a in p._actions if a.__class__.__name__ == "_SubParsersAction"]
    if not subs or argv[0] not in subs[0].choices:
        return "", NO_DEPLOY_COMMAND.format(form=DEPLOY_FORM)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            ns = p.parse_args(argv)
    except SystemExit:
        msg = err.getvalue().strip().splitlines()
        return f"provision {' '.join(argv)}: the CLI rejects it: {msg[-1] if msg else 'usage error'}", ""
    values = {str(v) for v in vars(ns).values()}
    missing = [v for v in (argv[2], argv[4]) if v not in values]
    if missing:
        return f"provision {' '.join(argv)}: parsed, but {missing} not in {sorted(vars(ns))}", ""
    return "", ""


def summary_and_alert(wf: Workflow, job_id: str = "deploy") -> Finding:
    """The outcome always lands in the job summary; a failure raises ::error and an alert."""
    subject = f"{wf.name}: outcome in the job summary, ::error and an alert on failure"
    problems = []
    deploy_ids = [s.get("id") for j, _, s in wf.steps() if j == job_id and "provision deploy" in str(s.get("run", ""))]
    summary = [s for j, _, s in wf.steps() if j == job_id and _is_always(s.get("if"))
               and "GITHUB_STEP_SUMMARY" in str(s.get("run", ""))]
    if not summary:
        problems.append(f"no `if: always()` step of job {job_id} writes $GITHUB_STEP_SUMMARY")
    elif not any(f"steps.{d}.outcome" in str(_env_of(wf, job_id, s)) for s in summary for d in deploy_ids if d):
        problems.append("the summary step does not report the deploy step's outcome (steps.<id>.outcome)")
    if not any("::error" in str(s.get("run", "")) for j, _, s in wf.steps() if j == job_id):
        problems.append(f"job {job_id} raises no ::error annotation")
    alerts = [j for j, job in wf.jobs().items()
              if "failure()" in str((job or {}).get("if", "")) and job_id in ((job or {}).get("needs") or [])
              and any("gh issue create" in str(s.get("run", "")) or "notify" in str(s.get("uses", ""))
                      or "slack" in str(s.get("uses", "")) for s in (job or {}).get("steps") or [])]
    if not alerts:
        problems.append(f"no `if: failure()` job after {job_id} opens an issue or sends a notification")
    if problems:
        return failed(subject, "summary + ::error + alert", "; ".join(problems), evidence=problems)
    return passed(subject, "summary + ::error + alert", f"summary step, ::error, alert job {alerts[0]}")


# ---- predicates: the live verification workflow ----------------------------

def live_run(wf: Workflow, job_id: str = "verify") -> Finding:
    """Nightly and dispatched; runs `pytest --target live -m live` with what the live target needs."""
    subject = f"{wf.name}: nightly `pytest --target live -m live` with the live settings"
    problems = []
    on = wf.triggers()
    if not on.get("schedule") or "workflow_dispatch" not in on:
        problems.append(f"triggers {list(on)}: expected schedule and workflow_dispatch")
    runs = [(i, s, ln) for j, i, s in wf.steps() if j == job_id for ln in _run_lines(s) if "pytest" in ln]
    if len(runs) != 1:
        problems.append(f"{len(runs)} pytest lines in job {job_id}, expected 1")
    else:
        i, step, line = runs[0]
        argv = shlex.split(line)
        pairs = set(zip(argv, argv[1:])) | {tuple(a.split("=", 1)) for a in argv if a.startswith("--target=")}
        if ("--target", "live") not in pairs:
            problems.append(f"{line!r} does not pass --target live")
        if ("-m", "live") not in pairs:
            problems.append(f"{line!r} does not select -m live")
        env = _env_of(wf, job_id, step)
        for name in config.LIVE_REQUIRED:
            if name not in env:
                problems.append(f"the pytest step does not set {name} ({config.LIVE_REQUIRED[name]})")
        if "secrets.CLOUDFLARE_API_TOKEN" not in str(env.get("CLOUDFLARE_API_TOKEN", "")):
            problems.append("CLOUDFLARE_API_TOKEN does not come from secrets.CLOUDFLARE_API_TOKEN")
        if "vars." not in str(env.get("CLOUDFLARE_ZONE_ID", "")):
            problems.append("CLOUDFLARE_ZONE_ID does not come from a repository variable")
        if step.get("continue-on-error"):
            problems.append("the pytest step has continue-on-error: a failed verification would look green")
    if not any("aws eks update-kubeconfig" in ln for j, _, s in wf.steps() if j == job_id for ln in _run_lines(s)):
        problems.append("no `aws eks update-kubeconfig` step")
    oidc = oidc_credentials(wf, job_id, VERIFY_ROLE_VAR)
    if not oidc.ok:
        problems += list(oidc.evidence) or [oidc.line()]
    if problems:
        return failed(subject, "pytest --target live -m live", "; ".join(problems), evidence=problems)
    return passed(subject, "pytest --target live -m live", runs[0][2])


def live_publish(wf: Workflow, job_id: str = "verify") -> Finding:
    """reports/ uploaded as an artifact and the sign-off report in the job summary, even on failure."""
    subject = f"{wf.name}: uploads reports/ and writes {SIGNOFF_PATH} to the job summary"
    problems = []
    uploads = [(i, s) for j, i, s in _steps_using(wf, UPLOAD_ACTION, job_id)
               if str((s.get("with") or {}).get("path", "")).rstrip("/") == "reports"]
    if not uploads:
        problems.append(f"no {UPLOAD_ACTION} step uploads reports/")
    for i, s in uploads:
        if not _is_always(s.get("if")):
            problems.append(f"{_label(job_id, i, s)}: runs only on success (needs if: always())")
        if not _PIN.match(_action(s)[1]):
            problems.append(f"{_label(job_id, i, s)}: {UPLOAD_ACTION} not pinned")
    # One line of the script both reads the sign-off report and appends to the summary.
    summary = [s for j, _, s in wf.steps() if j == job_id
               and any(SIGNOFF_PATH in ln and "GITHUB_STEP_SUMMARY" in ln for ln in _run_lines(s))]
    if not summary:
        problems.append(f"no step appends {SIGNOFF_PATH} to $GITHUB_STEP_SUMMARY")
    elif not all(_is_always(s.get("if")) for s in summary):
        problems.append("the sign-off summary step runs only on success (needs if: always())")
    if problems:
        return failed(subject, "artifact + summary", "; ".join(problems), evidence=problems)
    return passed(subject, "artifact + summary", f"upload of reports/, {SIGNOFF_PATH} in the summary")


def ci_offline(wf: Workflow, job_id: str = "test") -> Finding:
    """Pull requests run `make test` with a read-only token and no cloud credentials."""
    subject = f"{wf.name}: pull requests run `make test` with contents: read only"
    problems = []
    if "pull_request" not in wf.triggers():
        problems.append(f"triggers {list(wf.triggers())}: expected pull_request")
    for where, perms in (("workflow", wf.doc.get("permissions")), (f"job {job_id}", wf.job(job_id).get("permissions"))):
        if perms not in ({"contents": "read"}, None, {}):
            problems.append(f"{where} permissions {_fmt(perms)}: expected contents: read only")
    if not any(ln == "make test" for j, _, s in wf.steps() if j == job_id for ln in _run_lines(s)):
        problems.append(f"job {job_id} does not run `make test`")
    if _steps_using(wf, CREDENTIALS_ACTION):
        problems.append("a pull-request workflow obtains AWS credentials")
    if problems:
        return failed(subject, "make test, contents: read", "; ".join(problems), evidence=problems)
    return passed(subject, "make test, contents: read", "ok")
