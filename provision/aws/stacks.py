"""Plan, apply, tear down and check the CloudFormation stacks of an environment.

Thin: CloudFormation holds the state. Every change goes through a change set
(ChangeSetType always explicit); an unchanged stack is reported as "no
changes" and nothing is executed. Every plan and apply appends a JSON line to
reports/audit.jsonl, and every stack carries the commit SHA as a tag (R6.4).
"""
from __future__ import annotations

import getpass
import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions

from .. import config, errors
from ..findings import Finding, passed, wait_until
from ..local.moto_server import GAPS
from ..report.results import commit_sha
from . import templates

# Messages users see (tests assert the exact text).
STACK_ROLLBACK_COMPLETE = ("stack {name} is in ROLLBACK_COMPLETE (its creation failed and was rolled back): "
                           "delete it with `provision down --env {env}`, then apply again; nothing was changed")
STACK_BUSY = "stack {name} is in {status}: wait until CloudFormation finishes, then apply again; nothing was changed"
TEMPLATE_INVALID = "template {stack}.yaml is not valid CloudFormation: {reason}; nothing was changed"
CHANGE_SET_FAILED = ("stack {name}: change set {change_set} failed: {reason}; the stack is left as CloudFormation "
                     "left it ({status}); fix the template or parameters, then run `provision up --env {env}` again")
APPLY_FAILED = ("stack {name}: change set {change_set} failed while executing: {reason}; the stack is left as "
                "CloudFormation left it ({status}); fix the cause, then run `provision up --env {env}` again "
                "(a stack in ROLLBACK_COMPLETE must be deleted first: `provision down --env {env}`)")
DELETE_FAILED = "stack {name}: delete failed ({status}): {reason}; fix the cause and run `provision down --env {env}` again"
NO_CHANGES_MARKERS = ("didn't contain changes", "No updates are to be performed")
DRIFT_GAP = GAPS["cfn-drift"]
DELETE_GAP = GAPS["cfn-delete"]
IRSA_GAP = GAPS["AWS::EKS::Cluster"] + "; so the cluster's OIDC issuer is unknown and the irsa stack is not applied (its roles are checked statically)"

TIMEOUTS = {"change_set": 600.0, "stack": 3600.0, "drift": 600.0}
AUDIT_FILE = config.REPORTS_DIR / "audit.jsonl"
STABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE",
          "IMPORT_ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS"}


@dataclass(frozen=True)
class Env:
    """One environment's settings, how its stacks are named, where the templates are."""

    name: str
    settings: dict
    prefix: str
    template_dir: Path = templates.TEMPLATE_DIR

    def stack_name(self, stack: str) -> str:
        return f"{self.prefix}-{self.name}-{stack}"

    def stacks(self) -> list[str]:
        return templates.stacks(self.template_dir)


def resolve_env(name: str, suffix: str | None = None, template_dir: Path | None = None,
                overrides: dict | None = None) -> Env:
    """The environment from settings.yaml; BadInput (nothing changed) when unknown.

    A suffix names a separate copy (stack prefix and cluster name), so tests on
    one shared emulator do not meet each other's resources.
    """
    e = config.environment(name)
    project = config.settings()["project"]
    if suffix:
        project = f"{project}-{suffix}"
        e["cluster_name"] = f"{e['cluster_name']}-{suffix}"
    e.update(overrides or {})
    e["project"] = project
    return Env(name, e, project, Path(template_dir or templates.TEMPLATE_DIR))


def isolated(target, name: str, template_dir: Path | None = None, overrides: dict | None = None) -> Env:
    """The environment as a test sees it: its own copy on a shared local emulator, the real one elsewhere."""
    shared_emulator = "moto_server" in target.local
    return resolve_env(name, uuid.uuid4().hex[:8] if shared_emulator else None, template_dir, overrides)


@dataclass(frozen=True)
class StackResult:
    stack: str
    name: str
    action: str            # created | updated | no changes | deleted | absent | not applied | planned
    change_set: str = ""
    status: str = ""
    changes: tuple[str, ...] = ()
    gaps: tuple[str, ...] = ()

    def line(self) -> str:
        text = f"{self.stack} ({self.name}): {self.action}"
        if self.status:
            text += f" [{self.status}]"
        return text


def client(target, service: str, attempts: int | None = None):
    cfg = botocore.config.Config(retries={"max_attempts": attempts, "mode": "standard"}) if attempts else None
    return boto3.client(service, region_name=target.region, endpoint_url=target.aws_endpoint_url, config=cfg)


def _describe(cf, name: str) -> dict | None:
    try:
        return cf.describe_stacks(StackName=name)["Stacks"][0]
    except botocore.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def _outputs(stack: dict | None) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs", []) or []}


def stack_outputs(cf, name: str, doc: dict, env: Env, known: dict) -> dict[str, str]:
    """The stack's outputs. moto keeps no outputs for stacks made through change
    sets, so missing ones are resolved from the template and the stack's resources."""
    got = _outputs(_describe(cf, name))
    if set(doc.get("Outputs", {})) - set(got):
        physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in _resources(cf, name)}
        params = templates.parameters(name, doc, env.settings, known)
        got = {**templates.outputs(doc, params, physical), **got}
    return got


def _tags(env: Env, sha: str) -> list[dict]:
    project = config.settings()["project"]
    return [{"Key": f"{project}:commit", "Value": sha},
            {"Key": f"{project}:environment", "Value": env.name},
            {"Key": f"{project}:managed-by", "Value": "provision"}]


def commit_tag_key() -> str:
    return f"{config.settings()['project']}:commit"


# -- audit trail (R6.4) -------------------------------------------------------

def _who(target) -> tuple[str, str]:
    actor = os.environ.get("GITHUB_ACTOR") or getpass.getuser()
    try:
        principal = client(target, "sts").get_caller_identity()["Arn"]
    except Exception:  # the audit must never hide the action's own outcome
        principal = "unknown"
    return actor, principal


def audit(target, env: Env, action: str, stack: str, change_set: str, result: str, sha: str,
          audit_file: Path | None = None, who: tuple[str, str] | None = None) -> dict:
    actor, principal = who or _who(target)
    record = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "who": actor,
              "principal": principal, "action": action, "env": env.name, "stack": stack,
              "change_set": change_set, "result": result, "commit": sha}
    path = Path(audit_file or os.environ.get("CTL_AUDIT_FILE") or AUDIT_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:  # one write per line: appends stay whole
        fh.write(json.dumps(record, sort_keys=True) + "\n")
    return record


def audit_records(audit_file: Path | None = None) -> list[dict]:
    path = Path(audit_file or os.environ.get("CTL_AUDIT_FILE") or AUDIT_FILE)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# -- checks before anything changes --------------------------------------------

def _prepare(target, env: Env, cf) -> dict[str, dict]:
    """Load, validate and parameter-check every template, and refuse stacks that
    cannot be updated, all before the first change: bad input changes nothing."""
    loaded = {}
    placeholders = {n: f"<{src} output>" for n, src in templates.FROM_OUTPUTS.items()}
    for stack in env.stacks():
        p = templates.path(stack, env.template_dir)
        body = p.read_text()
        doc = templates.load(p)
        templates.parameters(stack, doc, env.settings, placeholders)
        # Checked here rather than by ValidateTemplate, which moto runs through
        # cfn-lint (seconds per template); cfn-lint itself runs in the static checks.
        problem = templates.structure_problem(doc)
        if problem:
            raise errors.BadInput(TEMPLATE_INVALID.format(stack=stack, reason=problem))
        current = _describe(cf, env.stack_name(stack))
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


def _cluster_issuer(target, env: Env, cf) -> tuple[str | None, tuple[str, ...]]:
    """The cluster's OIDC issuer from the EKS API; a gap when CloudFormation here
    did not create the cluster at all (the stack does not list it)."""
    try:
        cluster = client(target, "eks").describe_cluster(name=env.settings["cluster_name"])["cluster"]
        return cluster["identity"]["oidc"]["issuer"], ()
    except botocore.exceptions.ClientError:
        pass
    listed = {r["LogicalResourceId"] for r in _resources(cf, env.stack_name("eks"))}
    if "Cluster" not in listed:
        return None, (IRSA_GAP,)
    raise errors.ProvisionError(f"stack {env.stack_name('eks')} lists the EKS cluster but the EKS API does not show "
                                f"{env.settings['cluster_name']}; check the eks stack's events")


def _resources(cf, name: str) -> list[dict]:
    try:
        pages = cf.get_paginator("list_stack_resources").paginate(StackName=name)
        return [r for page in pages for r in page["StackResourceSummaries"] if r.get("LogicalResourceId")]
    except botocore.exceptions.ClientError:
        return []


# -- change sets --------------------------------------------------------------

def _change_lines(cs: dict) -> tuple[str, ...]:
    out = []
    for c in cs.get("Changes", []):
        rc = c.get("ResourceChange", {})
        line = f"{rc.get('Action', '?')} {rc.get('LogicalResourceId', '?')} ({rc.get('ResourceType', '?')})"
        if rc.get("Replacement") in ("True", "Conditional"):
            line += f" replacement: {rc['Replacement']}"
        out.append(line)
    return tuple(out)


def _wait_change_set(cf, name: str, cs_name: str, progress) -> dict:
    got = {}

    def probe() -> Finding:
        got["cs"] = cf.describe_change_set(StackName=name, ChangeSetName=cs_name)
        status = got["cs"]["Status"]
        ok = status in ("CREATE_COMPLETE", "FAILED", "DELETE_COMPLETE")
        return Finding(ok, f"change set {cs_name}", "CREATE_COMPLETE or FAILED", status)

    wait_until(f"change set {cs_name} of {name}", probe, TIMEOUTS["change_set"], 2.0, progress)
    return got["cs"]


def _new_events(cf, name: str, seen: set) -> list[dict]:
    try:
        events = cf.describe_stack_events(StackName=name)["StackEvents"]
    except botocore.exceptions.ClientError:
        return []
    new = [e for e in events if e["EventId"] not in seen]
    seen.update(e["EventId"] for e in new)
    return list(reversed(new))  # oldest first


def _wait_stack(cf, name: str, stack: str, progress, seen: set, stack_id: str | None = None) -> tuple[str, list[dict]]:
    events: list[dict] = []
    state = {}

    def probe() -> Finding:
        for e in _new_events(cf, stack_id or name, seen):
            events.append(e)
            reason = f": {e['ResourceStatusReason']}" if e.get("ResourceStatusReason") else ""
            progress(f"{stack}: {e.get('LogicalResourceId')} {e.get('ResourceStatus')}{reason}")
        try:
            current = cf.describe_stacks(StackName=stack_id or name)["Stacks"][0]
            state["status"] = current["StackStatus"]
        except botocore.exceptions.ClientError as exc:
            if "does not exist" not in str(exc):
                raise
            state["status"] = "DELETE_COMPLETE"
        done = not state["status"].endswith("_IN_PROGRESS")
        return Finding(done, f"stack {name}", "a final status", state["status"])

    wait_until(f"stack {name}", probe, TIMEOUTS["stack"], 5.0, progress)
    return state["status"], events


def _failure_reason(events: list[dict], fallback: str) -> str:
    for e in events:
        if e.get("ResourceStatus", "").endswith("_FAILED") and e.get("ResourceStatusReason"):
            return f"{e.get('LogicalResourceId')}: {e['ResourceStatusReason']}"
    return fallback


def _apply_one(target, env: Env, cf, stack: str, prepared: dict, outputs: dict, sha: str, progress, who) -> StackResult:
    name = env.stack_name(stack)
    current = _describe(cf, name)
    status = (current or {}).get("StackStatus")
    cs_type = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
    params = templates.parameters(stack, prepared["doc"], env.settings, outputs)
    cs_name = f"ctl-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    cf.create_change_set(
        StackName=name, ChangeSetName=cs_name, ChangeSetType=cs_type, TemplateBody=prepared["body"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"], Tags=_tags(env, sha),
        Description=f"provision up --env {env.name} at {sha}"[:1024])
    cs = _wait_change_set(cf, name, cs_name, progress)
    if cs["Status"] == "FAILED":
        reason = cs.get("StatusReason", "")
        if any(m in reason for m in NO_CHANGES_MARKERS):
            cf.delete_change_set(StackName=name, ChangeSetName=cs_name)
            progress(f"{stack}: no changes")
            audit(target, env, "up", name, cs_name, "no changes", sha, who=who)
            return StackResult(stack, name, "no changes", cs_name, status or "")
        now = (_describe(cf, name) or {}).get("StackStatus", "absent")
        audit(target, env, "up", name, cs_name, f"change set failed: {reason}", sha, who=who)
        raise errors.ProvisionError(CHANGE_SET_FAILED.format(name=name, change_set=cs_name, reason=reason,
                                                             status=now, env=env.name))
    changes = _change_lines(cs)
    progress(f"{stack}: change set {cs_name} ({cs_type}): {len(changes)} changes")
    for line in changes:
        progress(f"{stack}:   {line}")
    seen = {e["EventId"] for e in _new_events(cf, name, set())} if current else set()
    try:
        cf.execute_change_set(StackName=name, ChangeSetName=cs_name)
        final, events = _wait_stack(cf, name, stack, progress, seen)
        reason = _failure_reason(events, final)
    except botocore.exceptions.ClientError as exc:
        final = (_describe(cf, name) or {}).get("StackStatus", "absent")
        reason = exc.response["Error"]["Message"]
    if final not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        audit(target, env, "up", name, cs_name, f"failed: {final}: {reason}", sha, who=who)
        raise errors.ProvisionError(APPLY_FAILED.format(name=name, change_set=cs_name, reason=reason,
                                                        status=final, env=env.name))
    action = "created" if cs_type == "CREATE" else "updated"
    audit(target, env, "up", name, cs_name, action, sha, who=who)
    return StackResult(stack, name, action, cs_name, final, changes)


def up(target, env: Env, progress=print) -> list[StackResult]:
    """Create or update every stack in dependency order through change sets."""
    cf = client(target, "cloudformation")
    prepared = _prepare(target, env, cf)
    sha, who = commit_sha(), _who(target)
    outputs: dict[str, str] = {}
    results = []
    for stack in env.stacks():
        if stack == "irsa":
            issuer, gaps = _cluster_issuer(target, env, cf)
            if issuer is None:
                name = env.stack_name(stack)
                progress(f"{stack}: not applied: {gaps[0]}")
                audit(target, env, "up", name, "", "not applied: " + gaps[0], sha, who=who)
                results.append(StackResult(stack, name, "not applied", gaps=gaps))
                continue
            outputs["ClusterOidcIssuerUrl"] = issuer
        result = _apply_one(target, env, cf, stack, prepared[stack], outputs, sha, progress, who)
        outputs.update(stack_outputs(cf, result.name, prepared[stack]["doc"], env, outputs))
        results.append(result)
    return results


def plan(target, env: Env, progress=print) -> list[StackResult]:
    """What `up` would change, stack by stack, read from change sets that are then deleted."""
    cf = client(target, "cloudformation")
    prepared = _prepare(target, env, cf)
    sha, who = commit_sha(), _who(target)
    outputs: dict[str, str] = {}
    results = []
    for stack in env.stacks():
        name = env.stack_name(stack)
        doc = prepared[stack]["doc"]
        if stack == "irsa" and "ClusterOidcIssuerUrl" in doc.get("Parameters", {}):
            issuer, gaps = _cluster_issuer(target, env, cf) if _describe(cf, env.stack_name("eks")) else (None, ())
            if issuer is None:
                note = gaps[0] if gaps else "created after eks: its issuer URL comes from the EKS API"
                results.append(StackResult(stack, name, "not planned", changes=(note,), gaps=gaps))
                continue
            outputs["ClusterOidcIssuerUrl"] = issuer
        waiting = sorted({templates.FROM_OUTPUTS[p] for p in doc.get("Parameters", {})
                          if p in templates.FROM_OUTPUTS and p not in outputs})
        if waiting:
            results.append(StackResult(stack, name, "not planned",
                                       changes=(f"created after {', '.join(waiting)}: parameters come from its outputs",)))
            continue
        current = prepared[stack]["current"]
        status = (current or {}).get("StackStatus")
        cs_type = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
        params = templates.parameters(stack, doc, env.settings, outputs)
        cs_name = f"ctl-plan-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        cf.create_change_set(
            StackName=name, ChangeSetName=cs_name, ChangeSetType=cs_type, TemplateBody=prepared[stack]["body"],
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"], Tags=_tags(env, sha))
        cs = _wait_change_set(cf, name, cs_name, progress)
        reason = cs.get("StatusReason", "")
        if cs["Status"] == "FAILED" and any(m in reason for m in NO_CHANGES_MARKERS):
            action, changes = "no changes", ()
        elif cs["Status"] == "FAILED":
            action, changes = "change set failed", (reason,)
        else:
            action, changes = ("would create" if cs_type == "CREATE" else "would update"), _change_lines(cs)
        # A plan changes nothing: drop the change set, and the empty stack a CREATE change set made.
        cf.delete_change_set(StackName=name, ChangeSetName=cs_name)
        if cs_type == "CREATE" and status is None:
            cf.delete_stack(StackName=name)
        audit(target, env, "plan", name, cs_name, action, sha, who=who)
        if current:
            outputs.update(stack_outputs(cf, name, doc, env, outputs))
        results.append(StackResult(stack, name, action, cs_name, status or "absent", changes))
    return results


def down(target, env: Env, progress=print) -> list[StackResult]:
    """Delete the stacks in reverse dependency order; absent ones are said so."""
    cf = client(target, "cloudformation")
    sha, who = commit_sha(), _who(target)
    results = []
    for stack in reversed(env.stacks()):
        name = env.stack_name(stack)
        current = _describe(cf, name)
        if current is None:
            results.append(StackResult(stack, name, "absent"))
            continue
        seen = {e["EventId"] for e in _new_events(cf, name, set())}
        gaps: tuple[str, ...] = ()
        try:
            cf.delete_stack(StackName=name)
        except botocore.exceptions.ClientError as exc:
            # CloudFormation deletes asynchronously and never answers DeleteStack with
            # a resource's error; moto does, after dropping the stack but leaving
            # resources it cannot delete. Named as a gap, or a failure if the stack stays.
            if _describe(cf, name) is not None:
                raise
            progress(f"{stack}: {exc.response['Error']['Message']}")
            gaps = (DELETE_GAP,)
        final, events = _wait_stack(cf, name, stack, progress, seen, stack_id=current["StackId"])
        if final != "DELETE_COMPLETE":
            reason = _failure_reason(events, final)
            audit(target, env, "down", name, "", f"failed: {reason}", sha, who=who)
            raise errors.ProvisionError(DELETE_FAILED.format(name=name, status=final, reason=reason, env=env.name))
        progress(f"{stack}: deleted" + (f" (gap: {gaps[0]})" if gaps else ""))
        audit(target, env, "down", name, "", "deleted", sha, who=who)
        results.append(StackResult(stack, name, "deleted", status=final, gaps=gaps))
    return results


def drift(target, env: Env, progress=print) -> Finding:
    """CloudFormation drift detection on every existing stack (a gap where the endpoint lacks it)."""
    cf = client(target, "cloudformation", attempts=1)  # an unimplemented call is not retried
    findings_ok, evidence = True, []
    for stack in env.stacks():
        name = env.stack_name(stack)
        if _describe(cf, name) is None:
            evidence.append(f"{name}: absent")
            continue
        try:
            detection = cf.detect_stack_drift(StackName=name)["StackDriftDetectionId"]
        except Exception as exc:  # noqa: BLE001 - moto answers an unimplemented call with a 500 page
            return passed(f"drift of the {env.name} stacks", "no drift", "not detectable here",
                          evidence=[f"{name}: detect_stack_drift: {str(exc).splitlines()[0][:200]}"], gaps=[DRIFT_GAP])
        got = {}

        def probe() -> Finding:
            got["d"] = cf.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
            return Finding(got["d"]["DetectionStatus"] != "DETECTION_IN_PROGRESS", name, "done", got["d"]["DetectionStatus"])

        wait_until(f"drift detection of {name}", probe, TIMEOUTS["drift"], 5.0, progress)
        state = got["d"].get("StackDriftStatus", "UNKNOWN")
        if state != "IN_SYNC":
            findings_ok = False
            drifts = cf.describe_stack_resource_drifts(
                StackName=name, StackResourceDriftStatusFilters=["MODIFIED", "DELETED"])["StackResourceDrifts"]
            evidence += [f"{name}: {d['LogicalResourceId']} {d['StackResourceDriftStatus']}" for d in drifts] or [f"{name}: {state}"]
        else:
            evidence.append(f"{name}: IN_SYNC")
    return Finding(findings_ok, f"drift of the {env.name} stacks", "every stack IN_SYNC",
                   "in sync" if findings_ok else "drifted", tuple(evidence))


def status(target, env: Env) -> dict[str, dict | None]:
    """Stack name -> describe_stacks entry (None when absent)."""
    cf = client(target, "cloudformation")
    return {env.stack_name(s): _describe(cf, env.stack_name(s)) for s in env.stacks()}


def stacks_complete(target, env: Env) -> Finding:
    found = status(target, env)
    bad = {n: (s or {}).get("StackStatus", "absent") for n, s in found.items()
           if (s or {}).get("StackStatus") not in ("CREATE_COMPLETE", "UPDATE_COMPLETE")}
    irsa = env.stack_name("irsa")
    gaps = ()
    if irsa in bad and bad[irsa] == "absent" and _cluster_issuer_gap(target, env):
        # Not applied because the emulator created no cluster: named as a gap.
        bad.pop(irsa)
        gaps = (IRSA_GAP,)
    return Finding(not bad, f"stacks of {env.name} are COMPLETE", "CREATE_COMPLETE or UPDATE_COMPLETE",
                   ", ".join(f"{n} {s}" for n, s in bad.items()) or f"{len(found) - len(gaps)} complete",
                   tuple(f"{n}: {(s or {}).get('StackStatus', 'absent')}" for n, s in found.items()), gaps)


def _cluster_issuer_gap(target, env: Env) -> bool:
    try:
        return _cluster_issuer(target, env, client(target, "cloudformation"))[0] is None
    except errors.ProvisionError:
        return False


def commit_tags(target, env: Env, sha: str | None = None) -> Finding:
    """Every existing stack carries the commit SHA tag (the SHA of this checkout when given)."""
    key = commit_tag_key()
    evidence, bad = [], []
    for name, s in status(target, env).items():
        if s is None:
            continue
        tags = {t["Key"]: t["Value"] for t in s.get("Tags", [])}
        evidence.append(f"{name}: {key}={tags.get(key, '-')}")
        if not tags.get(key) or (sha and tags[key] != sha):
            bad.append(name)
    ok = bool(evidence) and not bad
    return Finding(ok, f"stacks of {env.name} carry the {key} tag", sha or "a commit SHA",
                   ", ".join(bad) or f"{len(evidence)} tagged", tuple(evidence))


def audit_trail(env: Env, change_sets: list[str], audit_file: Path | None = None) -> Finding:
    """Each change set has an audit record naming who, when, env, stack, result and commit."""
    records = {r.get("change_set"): r for r in audit_records(audit_file)}
    needed = ("who", "when", "env", "stack", "change_set", "result", "commit")
    missing, evidence = [], []
    for cs in change_sets:
        r = records.get(cs)
        if r is None or any(not r.get(k) for k in needed) or r.get("env") != env.name:
            missing.append(cs)
            evidence.append(f"{cs}: {'no record' if r is None else 'incomplete: ' + json.dumps(r)}")
        else:
            evidence.append(f"{cs}: {r['who']} ({r['principal']}) {r['action']} {r['stack']} -> {r['result']} at {r['commit'][:12]}")
    ok = bool(change_sets) and not missing
    return Finding(ok, "audit records of the change sets", f"{len(change_sets)} complete records",
                   f"{len(change_sets) - len(missing)} complete", tuple(evidence))


def demo_step(target, progress) -> list[str]:
    """`provision demo`: apply dev (then again: no changes) and summarise."""
    env = resolve_env("dev")
    t0 = time.monotonic()
    first = up(target, env, progress)
    second = up(target, env, progress)
    lines = [r.line() for r in first]
    lines.append(f"applied {len(first)} stacks in {time.monotonic() - t0:.1f}s; second apply: "
                 + ", ".join(f"{r.stack} {r.action}" for r in second))
    lines += [f"gap: {g}" for g in dict.fromkeys(g for r in first for g in r.gaps)]
    return lines


def ensure_applied(target, env: Env, progress=print) -> list[StackResult]:
    """Apply only when a stack of the environment is missing (reads the existing ones as they are)."""
    found = status(target, env)
    missing = [n for n, s in found.items() if s is None and not n.endswith("-irsa")]
    return up(target, env, progress) if missing else []


def snapshot(target, env: Env) -> dict[str, tuple]:
    """Per stack: status, last update and number of events (what a write would change)."""
    cf = client(target, "cloudformation")
    out = {}
    for name, s in status(target, env).items():
        if s is None:
            out[name] = ("absent",)
            continue
        events = len(cf.describe_stack_events(StackName=name)["StackEvents"])
        out[name] = (s["StackStatus"], str(s.get("LastUpdatedTime", s.get("CreationTime"))), events)
    return out


def unchanged(before: dict, after: dict, results: list[StackResult]) -> Finding:
    """The second apply said "no changes" for every stack and wrote nothing (pure)."""
    said = [r for r in results if r.action not in ("no changes", "not applied")]
    moved = [n for n in before if before[n] != after.get(n)]
    evidence = [r.line() for r in results] + [f"{n}: {before[n]} -> {after.get(n)}" for n in moved]
    return Finding(not said and not moved, "second apply of unchanged stacks", "no changes, no write",
                   ", ".join([f"{r.stack} {r.action}" for r in said] + [f"{n} written" for n in moved]) or "no changes",
                   tuple(evidence))
