"""Build a run's sign-off report from its results and the catalog.

Per catalog ID: the scenarios that cite it, each one's outcome on the run's
target, the evidence lines (status mark ok, FAIL, N/V and grade) and the
strongest grade; per ID the strict rule (outcomes.for_id) on the scenarios
tagged for the target, the strongest evidence reached, its weaker links and
the grade a release needs (catalog `release:`). The verdict is "sign-off"
only when every ID passed and reached its release grade on this target. One
run's sign-off is not a release sign-off: that combines the offline,
rehearsal and live runs of one commit (`provision signoff release`).
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .. import findings as findings_mod
from . import catalog as cat_mod
from . import outcomes
from .results import RESULTS_NAME, load
from .signoff_html import to_html
from .signoff_md import to_markdown

SIGNOFF = "sign-off"
REFUSED = "refused"
MD_NAME = "signoff.md"
HTML_NAME = "signoff.html"
JSON_NAME = "signoff.json"
MARKS = {findings_mod.PASSED: "ok", findings_mod.FAILED: "FAIL", findings_mod.UNVERIFIABLE: "N/V"}
WEAK_GRADES = (findings_mod.STATIC, findings_mod.MODEL)  # an ID passed on these alone is marked so
RELEASE_COMMAND = "provision signoff release"


@dataclass
class ScenarioRow:
    feature: str
    name: str
    outcome: str
    reasons: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    # The strongest grade of the findings that agree with its outcome (passed ones for a
    # pass, failed ones for a failure); '' when none is graded.
    grade: str = ""
    counted: bool = True  # tagged for the run's target: only these decide its IDs
    unverifiable: list[str] = field(default_factory=list)  # subjects of its unverifiable findings

    def label(self) -> str:
        """`outcome` or `outcome, evidence: <grade>` (and that it does not count on this target)."""
        text = f"{self.outcome}, evidence: {self.grade}" if self.grade else self.outcome
        return text if self.counted else f"{text} (not tagged for this target: not counted)"


@dataclass
class IdRow:
    id: str
    text: str
    outcome: str
    scenarios: list[ScenarioRow]
    grade: str = ""  # the strongest evidence its passing scenarios reached on this target
    need: str = ""  # the grade a release needs from this target ('' none)
    release: dict = field(default_factory=dict)  # target -> grade, every target of the release
    weaker: list[str] = field(default_factory=list)  # weaker links: what its evidence does not cover as strongly
    why: list[str] = field(default_factory=list)  # why it did not pass
    target: str = ""
    # Whether this run's verdict needs the ID: the release asks this target for a grade of it (catalog
    # `release:`), or the catalog gives no release grades at all. A run on the rehearsal need not show
    # what only the offline and live runs can; it still refuses when one of its scenarios fails.
    required: bool = True

    @property
    def meets(self) -> bool | None:
        """Whether the evidence reached meets this target's release grade (None: no need here)."""
        if not self.need:
            return None
        return bool(self.grade) and rank(self.grade) <= rank(self.need)

    @property
    def below(self) -> bool:
        """Passed, but on weaker evidence than a release needs from this target."""
        return self.outcome == outcomes.PASSED and self.meets is False

    @property
    def signed(self) -> bool:
        return self.outcome == outcomes.PASSED and self.meets is not False

    @property
    def refuses(self) -> bool:
        """Whether this ID refuses the run's sign-off: a required ID that is not signed off, or any
        ID whose scenario tagged for this target failed, was skipped or is not implemented."""
        if self.required:
            return not self.signed
        return self.outcome in (outcomes.FAILED, outcomes.SKIPPED, outcomes.NOT_IMPLEMENTED)

    def label(self) -> str:
        """The outcome, never a plain "passed" for static, model or ungraded evidence or below the release grade."""
        if not self.required and self.outcome != outcomes.PASSED:
            return f"{self.outcome} (not required on {self.target})"
        if self.outcome != outcomes.PASSED:
            return self.outcome
        if self.grade in WEAK_GRADES:
            text = f"passed on {self.grade} evidence only"
        elif not self.grade:
            text = "passed without graded evidence"
        else:
            text = outcomes.PASSED
        if self.below:
            text += f", below the release grade ({self.need} on {self.target})"
        return text

    def needs_elsewhere(self) -> list[str]:
        """What the release needs from the other targets' runs: `needs real on live`."""
        return [f"needs {g} on {t}" for t, g in self.release.items() if t != self.target]

    def as_dict(self) -> dict:
        return {"id": self.id, "text": self.text, "outcome": self.outcome, "label": self.label(),
                "signed": self.signed, "required": self.required, "refuses": self.refuses,
                "grade": self.grade, "need": self.need, "meets_need": self.meets,
                "release": self.release, "weaker_links": self.weaker, "why": self.why,
                "scenarios": [s.__dict__ for s in self.scenarios]}


@dataclass
class Report:
    run: dict
    verdict: str
    reasons: list[str]
    rows: list[IdRow]
    counts: dict
    gaps: list[str]
    groups: dict = field(default_factory=dict)

    @property
    def target(self) -> str:
        return self.run.get("target") or "offline"

    @property
    def title(self) -> str:
        """`Offline run sign-off`: one run's report never calls itself a release sign-off."""
        return f"{self.target.capitalize()} run sign-off"

    def as_dict(self) -> dict:
        return {
            "kind": "run", "target": self.target, "rule": "strict",
            "run": self.run, "verdict": self.verdict, "reasons": self.reasons, "counts": self.counts,
            "gaps": self.gaps, "ids": [r.as_dict() for r in self.rows],
        }


def rank(grade: str) -> int:
    """0 for real ... 3 for model; an unknown or missing grade ranks below model."""
    return findings_mod.GRADES.index(grade) if grade in findings_mod.GRADES else len(findings_mod.GRADES)


def status_of(f: dict) -> str:
    """A saved finding's status; results written before statuses existed carry only "ok"."""
    return f.get("status") or (findings_mod.PASSED if f["ok"] else findings_mod.FAILED)


def finding_line(f: dict) -> str:
    """`FAIL [real] subject: expected X, got Y`, as Finding.line() plus the grade when there is one."""
    status = status_of(f)
    grade = f" [{f['grade']}]" if f.get("grade") else ""
    line = f"{MARKS[status]}{grade} {f['subject']}"
    if f.get("expected") or status != findings_mod.PASSED:
        line += f": expected {f.get('expected') or '-'}, got {f.get('actual') or '-'}"
    return line


def strongest(grades) -> str:
    """The strongest of some grades ('' when none is given): what the scenario's best evidence was."""
    given = [g for g in grades if g in findings_mod.GRADES]
    return min(given, key=findings_mod.GRADES.index) if given else ""


def deciding_unverifiable(test: dict) -> dict | None:
    """The unverifiable Finding that stopped a failed test, if one did.

    The deciding Finding is the last one that did not pass; a test stopped by
    an unverifiable one could not see what it checks: not verifiable, not failed.
    """
    if test.get("outcome") != outcomes.FAILED:
        return None
    bad = [f for f in test.get("findings", []) if status_of(f) != findings_mod.PASSED]
    if bad and status_of(bad[-1]) == findings_mod.UNVERIFIABLE:
        return bad[-1]
    return None


def unverifiable_reason(f: dict, target: str) -> str:
    actual = f" ({f['actual']})" if f.get("actual") else ""
    return f"{outcomes.NOT_VERIFIABLE_PREFIX} the {target} target: {f['subject']}{actual}"


def _test_outcome(test: dict, target: str) -> tuple[str, str]:
    f = deciding_unverifiable(test)
    if f is not None:
        return outcomes.NOT_VERIFIABLE, unverifiable_reason(f, target)
    return test["outcome"], test.get("reason") or ""


def _scenario_row(sc: cat_mod.Scenario, runs: list[dict], target: str) -> ScenarioRow:
    """One row per feature scenario; an outline's examples fold into the worst outcome."""
    judged = [_test_outcome(r, target) for r in runs]
    counted = outcomes.tagged_for(target, sc.tags)
    row = ScenarioRow(sc.feature, sc.name, outcomes.worst(o for o, _ in judged) if runs else outcomes.NOT_RUN,
                      counted=counted)
    if not counted:
        row.reasons.append(f"tagged {', '.join('@' + t for t in sc.targets)}, not for the {target} target: "
                           "reported, not counted")
    elif not runs:
        row.reasons.append("not selected in this run (" + ", ".join("@" + t for t in sc.targets) + ")")
    for _, reason in judged:
        if reason and reason not in row.reasons:
            row.reasons.append(reason)
    for r in runs:
        for f in r["findings"]:
            line = finding_line(f)
            if line not in row.evidence:
                row.evidence.append(line)
            for e in f.get("evidence", []):
                if e not in row.evidence:
                    row.evidence.append("  " + e)
            for g in f.get("gaps", []):
                if g not in row.gaps:
                    row.gaps.append(g)
            if status_of(f) == findings_mod.UNVERIFIABLE and f["subject"] not in row.unverifiable:
                row.unverifiable.append(f["subject"])
    agree = {outcomes.PASSED: findings_mod.PASSED, outcomes.FAILED: findings_mod.FAILED}.get(row.outcome)
    row.grade = strongest(f.get("grade", "") for r in runs for f in r["findings"] if status_of(f) == agree)
    return row


def _said(where: str, outcome: str, reasons: list[str]) -> str:
    """`'name' (feature) outcome: first reason`, without saying the outcome twice."""
    if not reasons:
        return f"{where} {outcome}"
    return f"{where} {reasons[0]}" if reasons[0].startswith(outcome) else f"{where} {outcome}: {reasons[0]}"


def judge(id_: str, text: str, mine: list[ScenarioRow], target: str, release: dict) -> IdRow:
    """The strict rule on one ID: its outcome, strongest evidence, weaker links and why it did not pass."""
    counted = [s for s in mine if s.counted]
    row = IdRow(id_, text, outcomes.for_id(s.outcome for s in counted), mine, target=target,
                release=dict(release), need=release.get(target, ""), required=not release or target in release)
    if not counted:
        others = [s.outcome for s in mine]
        row.outcome = outcomes.NOT_VERIFIABLE if outcomes.NOT_VERIFIABLE in others else outcomes.NOT_RUN
        row.why.append(f"no scenario of {id_} is tagged for the {target} target")
    passed = [s for s in counted if s.outcome == outcomes.PASSED]
    row.grade = strongest(s.grade for s in passed)
    for s in counted:
        where = f"'{s.name}' ({s.feature})"
        if s.outcome in outcomes.REFUSING:
            row.why.append(_said(where, s.outcome, s.reasons))
        elif s.outcome == outcomes.NOT_VERIFIABLE:
            row.weaker.append(_said(where, "not verifiable", s.reasons))
        elif s.outcome == outcomes.PASSED and rank(s.grade) > rank(row.grade):
            row.weaker.append(f"{where} passed on {s.grade or 'no graded'} evidence")
        if s.outcome == outcomes.PASSED:
            row.weaker += [f"{where} unverifiable finding: {u}" for u in s.unverifiable]
    if not row.required and not row.signed:
        row.why.append(f"the release does not need {id_} from the {target} target "
                       f"({', '.join(row.needs_elsewhere()) or 'no grade anywhere'})")
    if counted and not passed and not row.why:
        row.why.append(f"no scenario of {id_} passed on the {target} target")
    if row.below:
        row.why.append(f"passed on {row.grade or 'no graded'} evidence; the release needs {row.need} "
                       f"on the {target} target")
    return row


def build(results: dict, catalog: dict[str, str] | None = None,
          scenarios: list[cat_mod.Scenario] | None = None, release: dict | None = None) -> Report:
    """The report of one run. Without an explicit catalog the real one is read with its release
    grades; with one, `release` gives the grades ({} when left out)."""
    if release is None:
        release = cat_mod.release() if catalog is None else {}
    groups = cat_mod.groups()
    catalog = cat_mod.catalog() if catalog is None else catalog
    scenarios = cat_mod.scenarios() if scenarios is None else scenarios
    target = results.get("run", {}).get("target") or "offline"
    by_key: dict[tuple[str, str], list[dict]] = {}
    for t in results.get("tests", []):
        if t.get("feature") and t.get("scenario"):
            by_key.setdefault((t["feature"], t["scenario"]), []).append(t)
    srows = {(s.feature, s.name): _scenario_row(s, by_key.get((s.feature, s.name), []), target) for s in scenarios}
    rows = [judge(id_, text, [srows[(s.feature, s.name)] for s in scenarios if id_ in s.ids], target,
                  release.get(id_, {}))
            for id_, text in catalog.items()]
    reasons = [f"{r.id} {r.label()}: " + "; ".join(r.why) for r in rows if r.refuses]
    if not rows:
        reasons.append("the catalog is empty")
    passed = [r for r in rows if r.outcome == outcomes.PASSED]
    counts = {
        "ids": dict(Counter(r.outcome for r in rows)),
        "tests": dict(Counter(t["outcome"] for t in results.get("tests", []))),
        "total_ids": len(rows),
        "signed_ids": sum(r.signed for r in rows),
        "required_ids": sum(r.required for r in rows),
        "signed_required_ids": sum(r.signed for r in rows if r.required),
        "not_required": [r.id for r in rows if not r.required],
        "passed_by_grade": dict(Counter(r.grade or "none" for r in passed)),
        "below_release_grade": [r.id for r in rows if r.below],
        "with_weaker_links": [r.id for r in passed if r.weaker],
    }
    return Report(
        run=results.get("run", {}),
        verdict=SIGNOFF if rows and not any(r.refuses for r in rows) else REFUSED,
        reasons=reasons,
        rows=rows,
        counts=counts,
        gaps=sorted({g for r in rows for s in r.scenarios for g in s.gaps}),
        groups=groups,
    )


def write(run_dir: Path) -> Report:
    """Rebuild the report files of a run directory from its results.json."""
    run_dir = Path(run_dir)
    rep = build(load(run_dir / RESULTS_NAME))
    (run_dir / MD_NAME).write_text(to_markdown(rep))
    (run_dir / HTML_NAME).write_text(to_html(rep))
    (run_dir / JSON_NAME).write_text(json.dumps(rep.as_dict(), indent=1))
    return rep


__all__ = ["Report", "IdRow", "ScenarioRow", "build", "write", "to_markdown", "to_html", "strongest", "rank"]
