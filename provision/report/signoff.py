"""Build the release sign-off report from a run's results and the catalog.

Per catalog ID: the scenarios that cite it, each one's outcome on the run's
target, and the evidence lines, each with its status mark (ok, FAIL, N/V) and
evidence grade; per scenario the strongest grade of its findings. On top:
verdict, commit, target, tool versions, times and counts. The verdict is
"sign-off" only when every ID has at least one passing scenario on the target
and none failing.
"""
from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .. import findings as findings_mod
from . import catalog as cat_mod
from . import outcomes
from .results import RESULTS_NAME, load

SIGNOFF = "sign-off"
REFUSED = "refused"
MD_NAME = "signoff.md"
HTML_NAME = "signoff.html"
JSON_NAME = "signoff.json"
MARKS = {findings_mod.PASSED: "ok", findings_mod.FAILED: "FAIL", findings_mod.UNVERIFIABLE: "N/V"}


@dataclass
class ScenarioRow:
    feature: str
    name: str
    outcome: str
    reasons: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    grade: str = ""  # the strongest evidence grade of its findings ('' when none is graded)

    def label(self) -> str:
        """`outcome` or `outcome, evidence: <grade>`."""
        return f"{self.outcome}, evidence: {self.grade}" if self.grade else self.outcome


@dataclass
class IdRow:
    id: str
    text: str
    outcome: str
    scenarios: list[ScenarioRow]


@dataclass
class Report:
    run: dict
    verdict: str
    reasons: list[str]
    rows: list[IdRow]
    counts: dict
    gaps: list[str]

    def as_dict(self) -> dict:
        return {
            "run": self.run, "verdict": self.verdict, "reasons": self.reasons, "counts": self.counts,
            "gaps": self.gaps,
            "ids": [{"id": r.id, "text": r.text, "outcome": r.outcome,
                     "scenarios": [s.__dict__ for s in r.scenarios]} for r in self.rows],
        }


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


def _scenario_rows(tests: list[dict], scenarios: list[cat_mod.Scenario]) -> dict[tuple[str, str], ScenarioRow]:
    """One row per feature scenario; an outline's examples fold into the worst outcome."""
    by_key: dict[tuple[str, str], list[dict]] = {}
    for t in tests:
        if t.get("feature") and t.get("scenario"):
            by_key.setdefault((t["feature"], t["scenario"]), []).append(t)
    rows = {}
    for sc in scenarios:
        key = (sc.feature, sc.name)
        runs = by_key.get(key, [])
        row = ScenarioRow(sc.feature, sc.name, outcomes.worst(r["outcome"] for r in runs) if runs else outcomes.NOT_RUN)
        if not runs:
            row.reasons.append("not selected in this run (" + ", ".join("@" + t for t in sc.targets) + ")")
        for r in runs:
            if r["reason"] and r["reason"] not in row.reasons:
                row.reasons.append(r["reason"])
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
        row.grade = strongest(f.get("grade", "") for r in runs for f in r["findings"])
        rows[key] = row
    return rows


def build(results: dict, catalog: dict[str, str] | None = None,
          scenarios: list[cat_mod.Scenario] | None = None) -> Report:
    catalog = cat_mod.catalog() if catalog is None else catalog
    scenarios = cat_mod.scenarios() if scenarios is None else scenarios
    srows = _scenario_rows(results.get("tests", []), scenarios)
    rows = []
    for id_, text in catalog.items():
        mine = [srows[(s.feature, s.name)] for s in scenarios if id_ in s.ids]
        rows.append(IdRow(id_, text, outcomes.for_id(s.outcome for s in mine), mine))
    counts = Counter(r.outcome for r in rows)
    test_counts = Counter(t["outcome"] for t in results.get("tests", []))
    reasons = []
    not_passed = [r.id for r in rows if r.outcome != outcomes.PASSED]
    for outcome in outcomes.ORDER:
        ids = [r.id for r in rows if r.outcome == outcome and outcome != outcomes.PASSED]
        if ids:
            reasons.append(f"{len(ids)} ID(s) {outcome}: {', '.join(ids)}")
    if not rows:
        reasons.append("the catalog is empty")
    gaps = sorted({g for r in rows for s in r.scenarios for g in s.gaps})
    return Report(
        run=results.get("run", {}),
        verdict=SIGNOFF if rows and not not_passed else REFUSED,
        reasons=reasons,
        rows=rows,
        counts={"ids": dict(counts), "tests": dict(test_counts), "total_ids": len(rows)},
        gaps=gaps,
    )


def _tools_line(run: dict) -> str:
    """The versions that matter most, on one line at the top (all of them at the end)."""
    tools = run.get("tools", {})
    keys = ("python", "pytest", "pytest-bdd", "moto", "boto3", "pinned kubernetes", "pinned etcd", "pinned kwok")
    return ", ".join(f"{k.removeprefix('pinned ')} {tools[k]}" for k in keys if k in tools) or "unknown"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(rep: Report) -> str:
    run = rep.run
    out = [f"# Release sign-off: **{rep.verdict.upper()}**", ""]
    out += [f"- target: `{run.get('target', '?')}`", f"- commit: `{run.get('commit', '?')}`",
            f"- run: `{run.get('id', '?')}`",
            f"- started: {run.get('started', '?')}, finished: {run.get('finished', '?')}",
            "- IDs: " + ", ".join(f"{v} {k}" for k, v in sorted(rep.counts["ids"].items()))
            + f" (of {rep.counts['total_ids']})",
            "- tests: " + ", ".join(f"{v} {k}" for k, v in sorted(rep.counts["tests"].items())),
            "- tools: " + _tools_line(run), ""]
    if rep.reasons:
        title = "## Why not signed off" if rep.verdict == REFUSED else "## Notes"
        out += [title, ""] + [f"- {r}" for r in rep.reasons] + [""]
    if rep.gaps:
        out += ["## Gaps of this target (checked statically or live instead)", ""] + [f"- {g}" for g in rep.gaps] + [""]
    out += ["## Requirements and properties", "", "| ID | outcome | text | scenarios |", "|---|---|---|---|"]
    for r in rep.rows:
        sc = "<br>".join(f"{_md_cell(s.name)} ({s.feature}): {s.label()}" for s in r.scenarios)
        out.append(f"| {r.id} | {r.outcome} | {_md_cell(r.text)} | {sc} |")
    out += ["", "## Evidence", ""]
    for r in rep.rows:
        out.append(f"### {r.id}: {r.outcome}")
        for s in r.scenarios:
            out.append(f"- **{s.name}** ({s.feature}): {s.label()}")
            for reason in s.reasons:
                out.append(f"  - reason: {_md_cell(reason)}")
            for e in s.evidence:
                out.append(f"  - `{e.strip()}`")
            for g in s.gaps:
                out.append(f"  - gap: {g}")
        out.append("")
    out += ["## Tool versions", ""] + [f"- {k}: {v}" for k, v in run.get("tools", {}).items()]
    return "\n".join(out) + "\n"


_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:1200px}
table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}
.passed{background:#e6f6e6}.failed{background:#fbe3e3}.skipped{background:#fbe3e3}
.not-implemented{background:#fff4d6}.not-verifiable-on-this-target{background:#eef}.not-run{background:#eee}
.verdict{font-size:1.6em;font-weight:bold}.sign-off{color:#186a18}.refused{color:#a01818}
code,pre{font-size:12px}details{margin:2px 0}"""


def to_html(rep: Report) -> str:
    e = html.escape
    run = rep.run
    cls = lambda o: o.replace(" ", "-")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Sign-off {e(run.get('id', ''))}</title>",
             f"<style>{_CSS}</style></head><body>",
             f"<p class='verdict {rep.verdict}'>Release sign-off: {e(rep.verdict.upper())}</p><ul>"]
    for k in ("target", "commit", "id", "started", "finished"):
        parts.append(f"<li>{k}: <code>{e(str(run.get(k, '?')))}</code></li>")
    parts.append("<li>IDs: " + e(", ".join(f"{v} {k}" for k, v in sorted(rep.counts["ids"].items()))) + "</li>")
    parts.append("<li>tests: " + e(", ".join(f"{v} {k}" for k, v in sorted(rep.counts["tests"].items()))) + "</li>")
    parts.append(f"<li>tools: {e(_tools_line(run))}</li></ul>")
    if rep.reasons:
        parts.append("<h2>Why not signed off</h2><ul>" + "".join(f"<li>{e(r)}</li>" for r in rep.reasons) + "</ul>")
    if rep.gaps:
        parts.append("<h2>Gaps of this target</h2><ul>" + "".join(f"<li>{e(g)}</li>" for g in rep.gaps) + "</ul>")
    parts.append("<h2>Requirements and properties</h2><table><tr><th>ID</th><th>outcome</th><th>text</th>"
                 "<th>scenarios and evidence</th></tr>")
    for r in rep.rows:
        cells = []
        for s in r.scenarios:
            body = "".join(f"<div>reason: {e(x)}</div>" for x in s.reasons)
            if s.evidence:
                body += "<pre>" + e("\n".join(s.evidence)) + "</pre>"
            body += "".join(f"<div>gap: {e(g)}</div>" for g in s.gaps)
            cells.append(f"<details class='{cls(s.outcome)}'><summary>{e(s.name)} ({e(s.feature)}): "
                         f"{e(s.label())}</summary>{body}</details>")
        parts.append(f"<tr class='{cls(r.outcome)}'><td>{e(r.id)}</td><td>{e(r.outcome)}</td><td>{e(r.text)}</td>"
                     f"<td>{''.join(cells)}</td></tr>")
    tools = "".join(f"<li>{e(k)}: {e(str(v))}</li>" for k, v in run.get("tools", {}).items())
    parts.append(f"</table><h2>Tool versions</h2><ul>{tools}</ul></body></html>")
    return "".join(parts)


def write(run_dir: Path) -> Report:
    """Rebuild the report files of a run directory from its results.json."""
    run_dir = Path(run_dir)
    rep = build(load(run_dir / RESULTS_NAME))
    (run_dir / MD_NAME).write_text(to_markdown(rep))
    (run_dir / HTML_NAME).write_text(to_html(rep))
    (run_dir / JSON_NAME).write_text(json.dumps(rep.as_dict(), indent=1))
    return rep
