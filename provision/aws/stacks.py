"""Plan, apply and tear down the CloudFormation stacks of an environment.

Thin: CloudFormation holds the state. Every change goes through a change set
(ChangeSetType always explicit); an unchanged stack is reported as "no
changes" and nothing is executed. Every plan and apply appends a JSON line to
reports/audit.jsonl (audit.py), and every stack carries the commit SHA as a tag (R6.4).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import botocore.exceptions

from .. import config, errors
from ..config import Environment
from ..report.results import commit_sha
from . import gaps as target_gaps
from .audit import audit, who
from .cfn import load, parameters
from .clients import client
from .stack_api import (
    change_lines,
    cluster_issuer,
    describe,
    failure_reason,
    new_events,
    stack_outputs,
    status,
    wait_change_set,
    wait_stack,
)

# Messages users see (tests assert the exact text).
STACK_ROLLBACK_COMPLETE = (
    "stack {name} is in ROLLBACK_COMPLETE (its creation failed and was rolled back): "
    "delete it with `provision stacks down --env {env}`, then apply again; nothing was changed"
)
STACK_BUSY = "stack {name} is in {status}: wait until CloudFormation finishes, then apply again; nothing was changed"
TEMPLATE_INVALID = "template {stack}.yaml is not valid CloudFormation: {reason}; nothing was changed"
CHANGE_SET_FAILED = (
    "stack {name}: change set {change_set} failed: {reason}; the stack is left as CloudFormation "
    "left it ({status}); fix the template or parameters, then run `provision stacks up --env {env}` again"
)
APPLY_FAILED = (
    "stack {name}: change set {change_set} failed while executing: {reason}; the stack is left as "
    "CloudFormation left it ({status}); fix the cause, then run `provision stacks up --env {env}` again "
    "(a stack in ROLLBACK_COMPLETE must be deleted first: `provision stacks down --env {env}`)"
)
DELETE_FAILED = (
    "stack {name}: delete failed ({status}): {reason}; fix the cause and run `provision stacks down --env {env}` again"
)
NO_CHANGES_MARKERS = ("didn't contain changes", "No updates are to be performed")
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]


@dataclass(frozen=True)
class StackResult:
    stack: str
    name: str
    action: str  # created | updated | no changes | deleted | absent | not applied | planned
    change_set: str = ""
    status: str = ""
    changes: tuple[str, ...] = ()
    gaps: tuple[str, ...] = ()

    def line(self) -> str:
        text = f"{self.stack} ({self.name}): {self.action}"
        if self.status:
            text += f" [{self.status}]"
        return text


def _tags(env: Environment, sha: str) -> list[dict]:
    project = config.settings()["project"]
    return [
        {"Key": commit_tag_key(), "Value": sha},
        {"Key": f"{project}:environment", "Value": env.name},
        {"Key": f"{project}:managed-by", "Value": "provision"},
    ]


def commit_tag_key() -> str:
    return f"{config.settings()['project']}:commit"


# -- checks before anything changes --------------------------------------------


def _prepare(env: Environment, cf) -> dict[str, dict]:
    """Load, validate and parameter-check every template, and refuse stacks that
    cannot be updated, all before the first change: bad input changes nothing."""
    loaded = {}
    placeholders = {n: f"<{src} output>" for n, src in parameters.FROM_OUTPUTS.items()}
    for stack in load.stacks(env.template_dir):
        p = load.path(stack, env.template_dir)
        body = p.read_text()
        doc = load.load(p)
        parameters.for_template(stack, doc, env, placeholders)
        # Checked here rather than by ValidateTemplate, which moto runs through
        # cfn-lint (seconds per template); cfn-lint itself runs in the static checks.
        problem = load.structure_problem(doc)
        if problem:
            raise errors.BadInput(TEMPLATE_INVALID.format(stack=stack, reason=problem))
        current = describe(cf, env.stack_name(stack))
        refusal = status_refusal(env.stack_name(stack), (current or {}).get("StackStatus"), env.name)
        if refusal:
            raise refusal
        loaded[stack] = {"body": body, "doc": doc, "current": current}
    return loaded


def status_refusal(name: str, status: str | None, env_name: str) -> errors.Refused | None:
    """Why a stack in this status cannot be changed now (None if it can). Pure."""
    if status == "ROLLBACK_COMPLETE":
        return errors.Refused(STACK_ROLLBACK_COMPLETE.format(name=name, env=env_name))
    if status and status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        return errors.Refused(STACK_BUSY.format(name=name, status=status))
    return None


def _create_change_set(
    cf, env: Environment, stack: str, prepared: dict, outputs: dict, sha: str, kind: str = ""
) -> tuple[str, str, str | None]:
    """A change set of the stack (CREATE or UPDATE as its status says): (name, type, status before)."""
    name = env.stack_name(stack)
    status = (describe(cf, name) or {}).get("StackStatus")
    cs_type = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
    params = parameters.for_template(stack, prepared["doc"], env, outputs)
    cs_name = f"ctl-{kind}{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    extra = {} if kind else {"Description": f"provision stacks up --env {env.name} at {sha}"[:1024]}
    cf.create_change_set(
        StackName=name,
        ChangeSetName=cs_name,
        ChangeSetType=cs_type,
        TemplateBody=prepared["body"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=CAPABILITIES,
        Tags=_tags(env, sha),
        **extra,
    )
    return cs_name, cs_type, status


# -- apply ----------------------------------------------------------------------


def _apply_one(
    target, env: Environment, cf, stack: str, prepared: dict, outputs: dict, sha: str, progress, actor
) -> StackResult:
    name = env.stack_name(stack)
    current = describe(cf, name)
    cs_name, cs_type, status = _create_change_set(cf, env, stack, prepared, outputs, sha)
    cs = wait_change_set(cf, name, cs_name, progress)
    if cs["Status"] == "FAILED":
        reason = cs.get("StatusReason", "")
        if any(m in reason for m in NO_CHANGES_MARKERS):
            cf.delete_change_set(StackName=name, ChangeSetName=cs_name)
            progress(f"{stack}: no changes")
            audit(target, env, "up", name, cs_name, "no changes", sha, actor=actor)
            return StackResult(stack, name, "no changes", cs_name, status or "")
        now = (describe(cf, name) or {}).get("StackStatus", "absent")
        audit(target, env, "up", name, cs_name, f"change set failed: {reason}", sha, actor=actor)
        raise errors.ProvisionError(
            CHANGE_SET_FAILED.format(name=name, change_set=cs_name, reason=reason, status=now, env=env.name)
        )
    changes = change_lines(cs)
    progress(f"{stack}: change set {cs_name} ({cs_type}): {len(changes)} changes")
    for line in changes:
        progress(f"{stack}:   {line}")
    seen = {e["EventId"] for e in new_events(cf, name, set())} if current else set()
    try:
        cf.execute_change_set(StackName=name, ChangeSetName=cs_name)
        final, events = wait_stack(cf, name, stack, progress, seen)
        reason = failure_reason(events, final)
    except botocore.exceptions.ClientError as exc:
        final = (describe(cf, name) or {}).get("StackStatus", "absent")
        reason = exc.response["Error"]["Message"]
    if final not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        audit(target, env, "up", name, cs_name, f"failed: {final}: {reason}", sha, actor=actor)
        raise errors.ProvisionError(
            APPLY_FAILED.format(name=name, change_set=cs_name, reason=reason, status=final, env=env.name)
        )
    action = "created" if cs_type == "CREATE" else "updated"
    audit(target, env, "up", name, cs_name, action, sha, actor=actor)
    return StackResult(stack, name, action, cs_name, final, changes)


def _begin(target, env: Environment):
    """What up and plan start from: the client, every template checked, the commit and who acts."""
    cf = client(target, "cloudformation")
    return cf, _prepare(env, cf), commit_sha(), who(target)


def up(target, env: Environment, progress=print) -> list[StackResult]:
    """Create or update every stack in dependency order through change sets."""
    cf, prepared, sha, actor = _begin(target, env)
    outputs: dict[str, str] = {}
    results = []
    for stack in load.stacks(env.template_dir):
        if stack == "irsa":
            issuer, gaps = cluster_issuer(target, env, cf)
            if issuer is None:
                name = env.stack_name(stack)
                progress(f"{stack}: not applied: {gaps[0]}")
                audit(target, env, "up", name, "", "not applied: " + gaps[0], sha, actor=actor)
                results.append(StackResult(stack, name, "not applied", gaps=gaps))
                continue
            outputs["ClusterOidcIssuerUrl"] = issuer
        result = _apply_one(target, env, cf, stack, prepared[stack], outputs, sha, progress, actor)
        outputs.update(stack_outputs(target, cf, result.name, prepared[stack]["doc"], env, outputs))
        results.append(result)
    return results


def _plan_one(
    target, env: Environment, cf, stack: str, prepared: dict, outputs: dict, sha: str, progress, actor
) -> StackResult:
    name = env.stack_name(stack)
    current = prepared["current"]
    cs_name, cs_type, status = _create_change_set(cf, env, stack, prepared, outputs, sha, kind="plan-")
    cs = wait_change_set(cf, name, cs_name, progress)
    reason = cs.get("StatusReason", "")
    if cs["Status"] == "FAILED" and any(m in reason for m in NO_CHANGES_MARKERS):
        action, changes = "no changes", ()
    elif cs["Status"] == "FAILED":
        action, changes = "change set failed", (reason,)
    else:
        action, changes = ("would create" if cs_type == "CREATE" else "would update"), change_lines(cs)
    # A plan changes nothing: drop the change set, and the empty stack a CREATE change set made.
    cf.delete_change_set(StackName=name, ChangeSetName=cs_name)
    if cs_type == "CREATE" and status is None:
        cf.delete_stack(StackName=name)
    audit(target, env, "plan", name, cs_name, action, sha, actor=actor)
    if current:
        outputs.update(stack_outputs(target, cf, name, prepared["doc"], env, outputs))
    return StackResult(stack, name, action, cs_name, status or "absent", changes)


def plan(target, env: Environment, progress=print) -> list[StackResult]:
    """What `up` would change, stack by stack, read from change sets that are then deleted."""
    cf, prepared, sha, actor = _begin(target, env)
    outputs: dict[str, str] = {}
    results = []
    for stack in load.stacks(env.template_dir):
        name = env.stack_name(stack)
        doc = prepared[stack]["doc"]
        if stack == "irsa" and "ClusterOidcIssuerUrl" in doc.get("Parameters", {}):
            issuer, gaps = cluster_issuer(target, env, cf) if describe(cf, env.stack_name("eks")) else (None, ())
            if issuer is None:
                note = gaps[0] if gaps else "created after eks: its issuer URL comes from the EKS API"
                results.append(StackResult(stack, name, "not planned", changes=(note,), gaps=gaps))
                continue
            outputs["ClusterOidcIssuerUrl"] = issuer
        waiting = sorted(
            {
                parameters.FROM_OUTPUTS[p]
                for p in doc.get("Parameters", {})
                if p in parameters.FROM_OUTPUTS and p not in outputs
            }
        )
        if waiting:
            results.append(
                StackResult(
                    stack,
                    name,
                    "not planned",
                    changes=(f"created after {', '.join(waiting)}: parameters come from its outputs",),
                )
            )
            continue
        results.append(_plan_one(target, env, cf, stack, prepared[stack], outputs, sha, progress, actor))
    return results


# Stacks that hold data a teardown must not take with it: the backups are what a recreated
# environment restores from (docs/disaster-recovery.md). `down` keeps them unless asked.
DATA_STACKS = ("backup",)


def down(target, env: Environment, progress=print, include_data: bool = False) -> list[StackResult]:
    """Delete the stacks in reverse dependency order; absent ones are said so. The data stacks
    (DATA_STACKS) are kept unless `include_data`: a teardown and `up` again finds them as they were."""
    cf = client(target, "cloudformation")
    sha, actor = commit_sha(), who(target)
    results = []
    for stack in reversed(load.stacks(env.template_dir)):
        name = env.stack_name(stack)
        current = describe(cf, name)
        if current is None:
            results.append(StackResult(stack, name, "absent"))
            continue
        if stack in DATA_STACKS and not include_data:
            progress(f"{stack}: kept (it holds the backups; `stacks down --include-backups` deletes it)")
            results.append(StackResult(stack, name, "kept", status=current["StackStatus"]))
            continue
        seen = {e["EventId"] for e in new_events(cf, name, set())}
        gaps: tuple[str, ...] = ()
        try:
            cf.delete_stack(StackName=name)
        except botocore.exceptions.ClientError as exc:
            # CloudFormation deletes asynchronously and never answers DeleteStack with
            # a resource's error; moto does, after dropping the stack but leaving
            # resources it cannot delete. Named as a gap, or a failure if the stack stays.
            gaps = target_gaps.named(target, "cfn-delete")
            if describe(cf, name) is not None or not gaps:
                raise
            progress(f"{stack}: {exc.response['Error']['Message']}")
        final, events = wait_stack(cf, name, stack, progress, seen, stack_id=current["StackId"])
        if final != "DELETE_COMPLETE":
            reason = failure_reason(events, final)
            audit(target, env, "down", name, "", f"failed: {reason}", sha, actor=actor)
            raise errors.ProvisionError(DELETE_FAILED.format(name=name, status=final, reason=reason, env=env.name))
        progress(f"{stack}: deleted" + (f" (gap: {gaps[0]})" if gaps else ""))
        audit(target, env, "down", name, "", "deleted", sha, actor=actor)
        results.append(StackResult(stack, name, "deleted", status=final, gaps=gaps))
    return results


READ_ONLY_ACTIONS = ("as applied", "absent")  # what `as_applied` reports: nothing was applied


def as_applied(target, env: Environment) -> list[StackResult]:
    """The stacks as they stand, read only (what a read-only job may know): "as applied" or "absent"."""
    out = []
    for name, st in status(target, env).items():
        stack = name.rsplit("-", 1)[-1]
        out.append(StackResult(stack, name, "as applied" if st else "absent", status=(st or {}).get("StackStatus", "")))
    return out


def up_or_read(target, env: Environment, progress=print) -> list[StackResult]:
    """Apply the stacks, or, where the job may not write to AWS (the nightly run: `cannot["aws_writes"]`),
    read them as they stand: the same check then judges what the deploy side applied."""
    return as_applied(target, env) if target.cannot.get("aws_writes") else up(target, env, progress)


def ensure_applied(target, env: Environment, progress=print) -> list[StackResult]:
    """Apply only when a stack of the environment is missing (reads the existing ones as they are).
    A target whose job may not write to AWS (the nightly run: `cannot["aws_writes"]`) only reads them."""
    if target.cannot.get("aws_writes"):
        return as_applied(target, env)
    found = status(target, env)
    missing = [n for n, s in found.items() if s is None and not n.endswith("-irsa")]
    return up(target, env, progress) if missing else []
