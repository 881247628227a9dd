"""The workflow rules: the project's own rules (provision/ci/workflow_checks.py), actionlint and zizmor
--offline (provision/ci/lint.py), and this project's deploy/live/CI rules when its settings are given."""
from __future__ import annotations

from pathlib import Path

from .. import errors
from ..ci import lint, workflow_model
from ..ci import workflow_checks as wc
from ..findings import unverifiable
from .discover import Inputs
from .issues import GENERIC, POLICY, Issue, Rule, from_finding

RULES = [
    (Rule("gha.least-privilege", "workflows", GENERIC, "permissions set, no write-all, workflow default at most "
          "contents: read; security-events: write only in the job that uploads SARIF"), wc.least_privilege),
    (Rule("gha.pinned-actions", "workflows", GENERIC, "every action and reusable workflow pinned by commit SHA"),
     wc.pinned_actions),
    (Rule("gha.expression-in-run", "workflows", GENERIC, "no ${{ }} expression inside a run: script"),
     wc.no_expressions_in_run),
    (Rule("gha.risky-trigger", "workflows", GENERIC, "no issue_comment/workflow_run/pull_request_target trigger "
          "with write permissions or secrets"), wc.risky_triggers),
    (Rule("gha.aws-keys", "workflows", GENERIC, "no AWS access key id, key input or credential-printing command"),
     lambda wf: wc.static_aws_keys([wf])),
    (Rule("gha.privileged-trigger", "workflows", POLICY, "no pull_request_target/workflow_run trigger at all"),
     wc.no_dangerous_triggers),
    (Rule("gha.project", "workflows", POLICY, "this project's deploy, live and CI workflow rules (by file name)"),
     None),
]
TOOLS = [
    Rule("gha.actionlint", "workflows", GENERIC, "actionlint (built by `provision local build`)"),
    Rule("gha.zizmor", "workflows", GENERIC, "zizmor --offline"),
]


def _tool(rule: Rule, fn, paths: list[Path]):
    try:
        return fn(paths)
    except errors.ProvisionError as exc:   # not built / not installed: say so, never pass
        return unverifiable(rule.what, "the tool runs", str(exc))


def run(inputs: Inputs, tools: bool = True) -> list[Issue]:
    issues, loaded = [], []
    for p in inputs.workflows:
        try:
            loaded.append(workflow_model.load(p))
        except errors.BadInput as exc:
            issues.append(Issue("input.malformed", str(exc), inputs.rel(p)))
    for wf in loaded:
        where = inputs.rel(wf.path)
        for rule, fn in RULES:
            if rule.scope == POLICY and not inputs.settings:
                continue
            found = lint.named_checks(wf) if fn is None else [fn(wf)]
            for f in found:
                issues += [_placed(inputs, i, [wf.path]) for i in from_finding(rule.id, f, None, where)]
    if tools and loaded:
        paths = [wf.path for wf in loaded]
        for rule, fn in zip(TOOLS, (lint.actionlint, lint.zizmor), strict=True):
            for i in from_finding(rule.id, _tool(rule, fn, paths)):
                issues.append(_placed(inputs, i, paths))
    return issues


def _placed(inputs: Inputs, issue: Issue, paths: list[Path]) -> Issue:
    """Tool output names files by path or by name: give them the input's relative path."""
    from dataclasses import replace

    for p in paths:
        if issue.file and (issue.file == str(p) or issue.file == p.name or Path(issue.file).resolve() == p.resolve()):
            return replace(issue, file=inputs.rel(p))
    return issue
