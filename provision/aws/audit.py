"""The audit trail of plan, up and down (R6.4): one JSON line per change set in reports/audit.jsonl."""

from __future__ import annotations

import getpass
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from .. import config
from ..config import Environment
from ..findings import Finding
from .clients import client

AUDIT_FILE = config.REPORTS_DIR / "audit.jsonl"


def who(target) -> tuple[str, str]:
    """The person (or workflow actor) and the AWS principal making the change."""
    actor = os.environ.get("GITHUB_ACTOR") or getpass.getuser()
    try:
        principal = client(target, "sts").get_caller_identity()["Arn"]
    except Exception:  # the audit must never hide the action's own outcome
        principal = "unknown"
    return actor, principal


def _path(audit_file: Path | None) -> Path:
    return Path(audit_file or os.environ.get("CTL_AUDIT_FILE") or AUDIT_FILE)


def audit(
    target,
    env: Environment,
    action: str,
    stack: str,
    change_set: str,
    result: str,
    sha: str,
    audit_file: Path | None = None,
    actor: tuple[str, str] | None = None,
) -> dict:
    person, principal = actor or who(target)
    record = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "who": person,
        "principal": principal,
        "action": action,
        "env": env.name,
        "stack": stack,
        "change_set": change_set,
        "result": result,
        "commit": sha,
    }
    path = _path(audit_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:  # one write per line: appends stay whole
        fh.write(json.dumps(record, sort_keys=True) + "\n")
    return record


def audit_records(audit_file: Path | None = None) -> list[dict]:
    path = _path(audit_file)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def audit_trail(env: Environment, change_sets: list[str], audit_file: Path | None = None) -> Finding:
    """Each change set has an audit record naming who, when, env, stack, result and commit (read from the file)."""
    records = {r.get("change_set"): r for r in audit_records(audit_file)}
    needed = ("who", "when", "env", "stack", "change_set", "result", "commit")
    missing, evidence = [], []
    for cs in change_sets:
        r = records.get(cs)
        if r is None or any(not r.get(k) for k in needed) or r.get("env") != env.name:
            missing.append(cs)
            evidence.append(f"FAIL {cs}: {'no record' if r is None else 'incomplete: ' + json.dumps(r)}")
        else:
            evidence.append(
                f"{cs}: {r['who']} ({r['principal']}) {r['action']} {r['stack']} -> {r['result']} at {r['commit'][:12]}"
            )
    ok = bool(change_sets) and not missing
    return Finding(
        ok,
        "audit records of the change sets",
        f"{len(change_sets)} complete records",
        f"{len(change_sets) - len(missing)} complete",
        tuple(evidence),
        grade="static",
    )
