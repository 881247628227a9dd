"""Checks of the deploy workflow: triggers, one concurrency group per cluster, image tags, the deploy
command (parsed by the real CLI), the job summary and the failure alert."""
from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections.abc import Callable

from .. import config
from ..findings import STATIC, Finding, failed, graded, passed
from .workflow_model import (
    PIN,
    Workflow,
    action_of,
    env_of,
    is_always,
    label,
    resolve,
    run_lines,
    settings_outputs,
    steps_using,
)

BUILD_ACTION = "docker/build-push-action"
DEPLOY_TRIGGERS = ("push", "workflow_dispatch")
SHA_EXPR = "${{ github.sha }}"
# The documented form of the deploy command (features/deploy.feature, docs/workflows.md).
DEPLOY_COMMAND = ("provision", "app", "deploy")
DEPLOY_FORM = " ".join(DEPLOY_COMMAND) + " --env <env> --image-tag <sha>"

_SHELL_VAR = re.compile(r"^\$\{?(\w+)\}?$")


def _env_expr(wf: Workflow) -> str:
    """The expression naming the environment of a dispatched run (input choices = settings environments)."""
    return "inputs.environment"


@graded(STATIC)
def deploy_triggers(wf: Workflow) -> Finding:
    subject = f"{wf.name}: push to main and dispatch with an environment of settings.yaml"
    on = wf.triggers()
    problems = []
    push = on.get("push") or {}
    if "push" not in on or (push.get("branches") or []) != ["main"] or push.get("branches-ignore"):
        problems.append(f"push trigger {push or '(missing)'}: expected branches [main]")
    # A deploy runs for main and on purpose, never for a pull request, a tag or a schedule.
    problems += [f"runs on {t}: a deploy runs only on pushes to main and on dispatch"
                 for t in on if t not in DEPLOY_TRIGGERS]
    inp = ((on.get("workflow_dispatch") or {}).get("inputs") or {}).get("environment") or {}
    if inp.get("type") != "choice" or list(inp.get("options") or []) != config.environments():
        problems.append(f"workflow_dispatch input environment {inp or '(missing)'}: "
                        f"expected a choice of {config.environments()}")
    return failed(subject, "push main + dispatch(environment)", "; ".join(problems),
                  evidence=[f"FAIL {p}" for p in problems]) \
        if problems else passed(subject, "push main + dispatch(environment)", ", ".join(on))


@graded(STATIC)
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


@graded(STATIC)
def image_tags(wf: Workflow, job_id: str = "build", deploy_job: str = "deploy") -> Finding:
    """Both images of settings.yaml are built and pushed tagged with github.sha, before the deploy job."""
    subject = f"{wf.name}: web and api images pushed tagged with github.sha"
    s = config.settings()["images"]
    known = settings_outputs(wf, job_id)
    problems, seen = [], []
    for component in ("web", "api"):
        want = f"{s[component]}:{SHA_EXPR}"
        steps = []
        for j, i, step in steps_using(wf, BUILD_ACTION, job_id):
            w = step.get("with") or {}
            words = str(w.get("tags", "")).replace(",", "\n").splitlines()
            tags = [resolve(t.strip(), known) for t in words if t.strip()]
            if want in tags:
                steps.append((i, step, w))
                if not PIN.match(action_of(step)[1]):
                    problems.append(f"{label(j, i, step)}: {BUILD_ACTION} not pinned")
        if not steps:
            problems.append(f"no {BUILD_ACTION} step in job {job_id} tags {want}")
        for i, step, w in steps:
            if w.get("push") is not True:
                problems.append(f"{label(job_id, i, step)}: push is {w.get('push')!r}, "
                                f"the {component} image is never pushed")
            else:
                seen.append(want)
    needs = wf.job(deploy_job).get("needs") or []
    needs = [needs] if isinstance(needs, str) else needs
    if job_id not in needs:
        problems.append(f"job {deploy_job} does not need {job_id}: it could deploy a tag not pushed yet")
    expected = f"{s['web']}:<sha> and {s['api']}:<sha> pushed"
    if problems:
        return failed(subject, expected, ", ".join(seen) or "none", evidence=problems)
    return passed(subject, expected, ", ".join(seen))


def _resolve_word(word: str, env: dict) -> str:
    m = _SHELL_VAR.match(word)
    return str(env.get(m.group(1), word)) if m else word


@graded(STATIC)
def deploy_command(wf: Workflow, job_id: str = "deploy",
                   make_parser: Callable | None = None) -> Finding:
    """The deploy step runs `provision app deploy --env <env> --image-tag <github.sha>` and the CLI parses it."""
    subject = f"{wf.name}: job {job_id} deploys with `{DEPLOY_FORM}`, image tag github.sha"
    found = [(i, s, ln) for j, i, s in wf.steps() if j == job_id for ln in run_lines(s)
             if ln.split()[:3] == list(DEPLOY_COMMAND)]
    if len(found) != 1:
        return failed(subject, f"one `{DEPLOY_FORM}` line in job {job_id}", f"{len(found)} lines")
    i, step, line = found[0]
    env = env_of(wf, job_id, step)
    argv = [_resolve_word(w, env) for w in shlex.split(line)]
    problems = []
    n = len(DEPLOY_COMMAND)
    opts = dict(zip(argv[n::2], argv[n + 1::2], strict=True)) if (len(argv) - n) % 2 == 0 else {}
    if tuple(argv[:n]) != DEPLOY_COMMAND or set(opts) != {"--env", "--image-tag"}:
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
    concrete = [*DEPLOY_COMMAND[1:], "--env", config.environments()[0], "--image-tag", "0" * 40]
    problem = cli_accepts(concrete, make_parser)
    if problem:
        return failed(subject, DEPLOY_FORM, actual, evidence=[problem])
    return passed(subject, DEPLOY_FORM, actual)


def cli_accepts(argv: list[str], make_parser: Callable | None = None) -> str:
    """'' when provision.cli's parser (or `make_parser()`'s) accepts `argv` and keeps every option's value,
    else the problem: what argparse printed, or the values it lost."""
    if make_parser is None:
        from .. import cli
        make_parser = cli.parser
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            ns = make_parser().parse_args(argv)
    except SystemExit:
        msg = err.getvalue().strip().splitlines()
        return f"provision {' '.join(argv)}: the CLI rejects it: {msg[-1] if msg else 'usage error'}"
    values = {str(v) for v in vars(ns).values()}
    given = [v for opt, v in zip(argv, argv[1:], strict=False) if opt.startswith("--")]
    missing = [v for v in given if v not in values]
    if missing:
        return f"provision {' '.join(argv)}: parsed, but {missing} not in {sorted(vars(ns))}"
    return ""


@graded(STATIC)
def summary_and_alert(wf: Workflow, job_id: str = "deploy") -> Finding:
    """The outcome always lands in the job summary; a failure raises ::error and an alert."""
    subject = f"{wf.name}: outcome in the job summary, ::error and an alert on failure"
    problems = []
    deploy_ids = [s.get("id") for j, _, s in wf.steps()
                  if j == job_id and " ".join(DEPLOY_COMMAND) in str(s.get("run", ""))]
    summary = [s for j, _, s in wf.steps() if j == job_id and is_always(s.get("if"))
               and "GITHUB_STEP_SUMMARY" in str(s.get("run", ""))]
    if not summary:
        problems.append(f"no `if: always()` step of job {job_id} writes $GITHUB_STEP_SUMMARY")
    elif not any(f"steps.{d}.outcome" in str(env_of(wf, job_id, s)) for s in summary for d in deploy_ids if d):
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


