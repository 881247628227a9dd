"""Read-only checks of the applied stacks: drift, status, commit tags, and "a second apply wrote nothing"."""

from __future__ import annotations

from .. import errors
from ..config import Environment
from ..findings import Finding, passed, wait_until
from . import gaps as target_gaps
from .cfn import load
from .clients import client
from .stack_api import TIMEOUTS, cluster_issuer, describe, status
from .stacks import StackResult, commit_tag_key

DRIFT_GAP = "cfn-drift"


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
            gaps = target_gaps.named(target, DRIFT_GAP)
            if not gaps:
                raise
            return passed(
                f"drift of the {env.name} stacks",
                "no drift",
                "not detectable here",
                evidence=[f"{name}: detect_stack_drift: {str(exc).splitlines()[0][:200]}"],
                gaps=gaps,
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
            evidence += [f"{name}: {d['LogicalResourceId']} {d['StackResourceDriftStatus']}" for d in drifts] or [
                f"{name}: {state}"
            ]
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
    bad = {
        n: (s or {}).get("StackStatus", "absent")
        for n, s in found.items()
        if (s or {}).get("StackStatus") not in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    }
    irsa = env.stack_name("irsa")
    gaps: tuple[str, ...] = ()
    if irsa in bad and bad[irsa] == "absent" and _cluster_issuer_gap(target, env):
        # Not applied because the emulator created no cluster: named as a gap.
        bad.pop(irsa)
        gaps = target_gaps.irsa(target)
    return Finding(
        not bad,
        f"stacks of {env.name} are COMPLETE",
        "CREATE_COMPLETE or UPDATE_COMPLETE",
        ", ".join(f"{n} {s}" for n, s in bad.items()) or f"{len(found) - len(gaps)} complete",
        tuple(f"{n}: {(s or {}).get('StackStatus', 'absent')}" for n, s in found.items()),
        gaps,
        grade=target.grade("aws"),
    )


def _cluster_issuer_gap(target, env: Environment) -> bool:
    try:
        return cluster_issuer(target, env, client(target, "cloudformation"))[0] is None
    except errors.ProvisionError:
        return False


def commit_tags(target, env: Environment, sha: str | None = None) -> Finding:
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
    return Finding(
        ok,
        f"stacks of {env.name} carry the {key} tag",
        sha or "a commit SHA",
        ", ".join(bad) or f"{len(evidence)} tagged",
        tuple(evidence),
        grade=target.grade("aws"),
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
    )
