"""Read-only checks of the applied stacks: drift, status, commit tags, and "a second apply wrote nothing"."""

from __future__ import annotations

from .. import errors
from ..config import Environment
from ..findings import Finding, unverifiable, wait_until
from . import gaps as target_gaps
from .cfn import load
from .clients import client
from .stack_api import TIMEOUTS, cluster_issuer, describe, status
from .stacks import StackResult, commit_tag_key

DRIFT_GAP = "cfn-drift"
COMPLETE = ("CREATE_COMPLETE", "UPDATE_COMPLETE")


def drift(target, env: Environment, progress=print) -> Finding:
    """CloudFormation drift detection on every existing stack (a gap where the endpoint lacks it)."""
    cf = client(target, "cloudformation", attempts=1)  # an unimplemented call is not retried
    grade = target.grade("aws")
    findings_ok, evidence = True, []
    for stack in load.stacks(env.template_dir):
        name = env.stack_name(stack)
        if describe(cf, name) is None:
            evidence.append(f"{name}: absent")
            continue
        try:
            detection = cf.detect_stack_drift(StackName=name)["StackDriftDetectionId"]
        except Exception as exc:  # noqa: BLE001 - moto answers an unimplemented call with a 500 page
            # Could not look: unverifiable (with the endpoint's gap where it names one), never passed.
            return unverifiable(
                f"drift of the {env.name} stacks",
                "every stack IN_SYNC",
                "not detectable here: detect_stack_drift failed",
                evidence=[f"{name}: detect_stack_drift: {(str(exc).splitlines() or [''])[0][:200]}"],
                gaps=target_gaps.named(target, DRIFT_GAP),
                grade=grade,
            )
        got = {}

        def probe(detection=detection, name=name, got=got) -> Finding:
            got["d"] = cf.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
            return Finding(got["d"]["DetectionStatus"] != "DETECTION_IN_PROGRESS", name, "done",
                           got["d"]["DetectionStatus"])

        wait_until(f"drift detection of {name}", probe, TIMEOUTS["drift"], 5.0, progress)
        state = got["d"].get("StackDriftStatus", "UNKNOWN")
        if state != "IN_SYNC":
            findings_ok = False
            drifts = cf.describe_stack_resource_drifts(
                StackName=name, StackResourceDriftStatusFilters=["MODIFIED", "DELETED"]
            )["StackResourceDrifts"]
            evidence += [f"FAIL {name}: {d['LogicalResourceId']} {d['StackResourceDriftStatus']}"
                         for d in drifts] or [f"FAIL {name}: {state}"]
        else:
            evidence.append(f"{name}: IN_SYNC")
    return Finding(
        findings_ok,
        f"drift of the {env.name} stacks",
        "every stack IN_SYNC",
        "in sync" if findings_ok else "drifted",
        tuple(evidence),
        grade=grade,
    )


def stacks_complete(target, env: Environment) -> Finding:
    found = status(target, env)
    irsa = env.stack_name("irsa")
    excused: tuple[str, ...] = ()
    gaps: tuple[str, ...] = ()
    if found.get(irsa) is None and _cluster_issuer_gap(target, env):
        # Not applied because the emulator created no cluster: named as a gap.
        excused, gaps = (irsa,), target_gaps.irsa(target)
    # A COMPLETE stack here says nothing of the resources the endpoint's CloudFormation ignores.
    gaps += target_gaps.ignored_types(target, env.template_dir)
    return complete_verdict(env, found, excused, gaps, target.grade("aws"))


def complete_verdict(env: Environment, found: dict[str, dict | None], excused=(), gaps=(), grade="") -> Finding:
    """Every stack CREATE_ or UPDATE_COMPLETE, except the `excused` absent ones (pure, on describe_stacks)."""
    state = {n: (s or {}).get("StackStatus", "absent") for n, s in found.items()}
    bad = {n: st for n, st in state.items() if st not in COMPLETE and not (n in excused and st == "absent")}
    done = sum(st in COMPLETE for st in state.values())
    return Finding(
        not bad,
        f"stacks of {env.name} are COMPLETE",
        "CREATE_COMPLETE or UPDATE_COMPLETE",
        ", ".join(f"{n} {st}" for n, st in bad.items()) or f"{done} complete",
        tuple(f"{'FAIL ' if n in bad else ''}{n}: {st}" for n, st in state.items()),
        tuple(gaps),
        grade=grade,
    )


def _cluster_issuer_gap(target, env: Environment) -> bool:
    try:
        return cluster_issuer(target, env, client(target, "cloudformation"))[0] is None
    except errors.ProvisionError:
        return False


def commit_tags(target, env: Environment, sha: str | None = None) -> Finding:
    """Every existing stack carries the commit SHA tag (the SHA of this checkout when given)."""
    return tags_verdict(env, status(target, env), sha, target.grade("aws"))


def tags_verdict(env: Environment, found: dict[str, dict | None], sha: str | None = None, grade="") -> Finding:
    """Every existing stack of describe_stacks carries the commit tag, equal to `sha` when given (pure)."""
    key = commit_tag_key()
    evidence, bad = [], []
    for name, s in found.items():
        if s is None:
            continue
        tags = {t["Key"]: t["Value"] for t in s.get("Tags", [])}
        wrong = not tags.get(key) or (sha and tags[key] != sha)
        evidence.append(f"{'FAIL ' if wrong else ''}{name}: {key}={tags.get(key, '-')}")
        if wrong:
            bad.append(name)
    ok = bool(evidence) and not bad
    return Finding(
        ok,
        f"stacks of {env.name} carry the {key} tag",
        sha or "a commit SHA",
        ", ".join(bad) or (f"{len(evidence)} tagged" if evidence else "no stack"),
        tuple(evidence),
        grade=grade,
    )


def snapshot(target, env: Environment) -> dict[str, tuple]:
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
    """The second apply said "no changes" for every stack and wrote nothing (pure, on two snapshots)."""
    said = [r for r in results if r.action not in ("no changes", "not applied")]
    moved = [n for n in before if before[n] != after.get(n)]
    evidence = [r.line() for r in results] + [f"{n}: {before[n]} -> {after.get(n)}" for n in moved]
    return Finding(
        not said and not moved,
        "second apply of unchanged stacks",
        "no changes, no write",
        ", ".join([f"{r.stack} {r.action}" for r in said] + [f"{n} written" for n in moved]) or "no changes",
        tuple(evidence),
        grade="emulated" if any(r.gaps for r in results) else "",
    )
