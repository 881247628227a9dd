"""Thin reads and waits on a target's CloudFormation: a stack, its outputs, resources, events, change sets."""

from __future__ import annotations

import botocore.exceptions

from .. import errors
from ..config import Environment
from ..findings import Finding, wait_until
from . import gaps as target_gaps
from .cfn import load, parameters
from .cfn.resolve import outputs as resolved_outputs
from .clients import client

TIMEOUTS = {"change_set": 600.0, "stack": 3600.0, "drift": 600.0}


def describe(cf, name: str) -> dict | None:
    """The describe_stacks entry, or None when the stack does not exist."""
    try:
        return cf.describe_stacks(StackName=name)["Stacks"][0]
    except botocore.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def resources(cf, name: str) -> list[dict]:
    """The stack's resource summaries ([] when the stack does not exist). Any other refusal (AccessDenied)
    is raised as what it is: a probe must never read "no resources" into a role that may not look."""
    try:
        pages = cf.get_paginator("list_stack_resources").paginate(StackName=name)
        return [r for page in pages for r in page["StackResourceSummaries"] if r.get("LogicalResourceId")]
    except botocore.exceptions.ClientError as exc:
        if "does not exist" in str(exc.response.get("Error", {}).get("Message", "")):
            return []
        raise


def listed(target, env: Environment, stack: str) -> dict[str, str]:
    """Logical id -> physical id of what the stack lists."""
    cf = client(target, "cloudformation")
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources(cf, env.stack_name(stack))}


def status(target, env: Environment) -> dict[str, dict | None]:
    """Stack name -> describe_stacks entry (None when absent)."""
    cf = client(target, "cloudformation")
    return {env.stack_name(s): describe(cf, env.stack_name(s)) for s in load.stacks(env.template_dir)}


def stack_outputs(target, cf, name: str, doc: dict, env: Environment, known: dict) -> dict[str, str]:
    """The stack's outputs. moto keeps no outputs for stacks made through change
    sets, so missing ones are resolved from the template and the stack's resources."""
    got = {o["OutputKey"]: o["OutputValue"] for o in (describe(cf, name) or {}).get("Outputs", []) or []}
    if set(doc.get("Outputs", {})) - set(got):
        physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources(cf, name)}
        params = parameters.for_template(name, doc, env, known)
        got = {**resolved_outputs(doc, params, physical, target.account_id, target.region), **got}
    return got


def outputs(target, env: Environment, stack: str) -> dict[str, str]:
    """The outputs of one stack of the environment."""
    doc = load.load(load.path(stack, env.template_dir))
    return stack_outputs(target, client(target, "cloudformation"), env.stack_name(stack), doc, env, {})


def change_lines(cs: dict) -> tuple[str, ...]:
    out = []
    for c in cs.get("Changes", []):
        rc = c.get("ResourceChange", {})
        line = f"{rc.get('Action', '?')} {rc.get('LogicalResourceId', '?')} ({rc.get('ResourceType', '?')})"
        if rc.get("Replacement") in ("True", "Conditional"):
            line += f" replacement: {rc['Replacement']}"
        out.append(line)
    return tuple(out)


def wait_change_set(cf, name: str, cs_name: str, progress) -> dict:
    got = {}

    def probe() -> Finding:
        got["cs"] = cf.describe_change_set(StackName=name, ChangeSetName=cs_name)
        status = got["cs"]["Status"]
        ok = status in ("CREATE_COMPLETE", "FAILED", "DELETE_COMPLETE")
        return Finding(ok, f"change set {cs_name}", "CREATE_COMPLETE or FAILED", status)

    wait_until(f"change set {cs_name} of {name}", probe, TIMEOUTS["change_set"], 2.0, progress)
    return got["cs"]


def new_events(cf, name: str, seen: set) -> list[dict]:
    try:
        events = cf.describe_stack_events(StackName=name)["StackEvents"]
    except botocore.exceptions.ClientError:
        return []
    new = [e for e in events if e["EventId"] not in seen]
    seen.update(e["EventId"] for e in new)
    return list(reversed(new))  # oldest first


def wait_stack(cf, name: str, stack: str, progress, seen: set, stack_id: str | None = None) -> tuple[str, list[dict]]:
    events: list[dict] = []
    state = {}

    def probe() -> Finding:
        for e in new_events(cf, stack_id or name, seen):
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


def failure_reason(events: list[dict], fallback: str) -> str:
    for e in events:
        if e.get("ResourceStatus", "").endswith("_FAILED") and e.get("ResourceStatusReason"):
            return f"{e.get('LogicalResourceId')}: {e['ResourceStatusReason']}"
    return fallback


def cluster_issuer(target, env: Environment, cf) -> tuple[str | None, tuple[str, ...]]:
    """The cluster's OIDC issuer from the EKS API; a gap when CloudFormation here
    did not create the cluster at all (the stack does not list it)."""
    try:
        cluster = client(target, "eks").describe_cluster(name=env.cluster_name)["cluster"]
        return cluster["identity"]["oidc"]["issuer"], ()
    except botocore.exceptions.ClientError:
        pass
    have = {r["LogicalResourceId"] for r in resources(cf, env.stack_name("eks"))}
    if "Cluster" in have:
        raise errors.ProvisionError(
            f"stack {env.stack_name('eks')} lists the EKS cluster but the EKS API does not "
            f"show {env.cluster_name}; check the eks stack's events"
        )
    gaps = target_gaps.irsa(target)
    if gaps:
        return None, gaps
    raise errors.ProvisionError(
        f"the EKS API does not show {env.cluster_name} and stack {env.stack_name('eks')} "
        f"does not list it; apply the eks stack first"
    )
