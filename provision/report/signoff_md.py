"""The sign-off report as Markdown (signoff.md, also the GitHub job summary), and what both formats share."""
from __future__ import annotations

from . import catalog as cat_mod
from . import outcomes

# The mark of the strongest evidence an ID reached on the target.
GRADE_MARKS = {"real": "real", "emulated": "emulated", "static": "static only", "model": "model only", "": "no grade"}
GLYPHS = {outcomes.PASSED: "✅", outcomes.FAILED: "❌", outcomes.NOT_IMPLEMENTED: "🚧", outcomes.SKIPPED: "⏭️",
          outcomes.NOT_VERIFIABLE: "❔", outcomes.NOT_RUN: "⬜"}
BELOW = "⚠️"


def grade_mark(row) -> str:
    return GRADE_MARKS.get(row.grade, row.grade)


def release_line(rep, code=lambda c: f"`{c}`") -> str:
    return (f"This is the sign-off of one {rep.target} run, not a release sign-off: a release sign-off combines "
            f"the offline, rehearsal and live runs of one commit ({code('provision signoff release')}).")


def grouped(rep) -> list[tuple[str, str, list]]:
    """(group, title, rows) in catalog order: R1 ... R10, then the properties."""
    out: dict[str, list] = {}
    for r in rep.rows:
        out.setdefault(cat_mod.group_of(r.id), []).append(r)
    title = lambda g: rep.groups.get(g) or ("Properties" if g == "P" else g)
    return [(g, title(g), rows) for g, rows in out.items()]


def tools_line(run: dict) -> str:
    """The versions that matter most, on one line at the top (all of them at the end)."""
    tools = run.get("tools", {})
    keys = ("python", "pytest", "pytest-bdd", "moto", "boto3", "pinned kubernetes", "pinned etcd", "pinned kwok")
    return ", ".join(f"{k.removeprefix('pinned ')} {tools[k]}" for k in keys if k in tools) or "unknown"


def counts_line(counts: dict) -> str:
    return ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _glance(rep) -> list[str]:
    out = ["## At a glance", "", "| group | IDs: outcome, strongest evidence |", "|---|---|"]
    for g, title, rows in grouped(rep):
        tiles = " · ".join(f"{GLYPHS.get(r.outcome, '')}{BELOW if r.below else ''} {r.id} {grade_mark(r)}"
                           for r in rows)
        out.append(f"| **{g}** {_cell(title)} | {tiles} |")
    legend = ", ".join(f"{v} {k}" for k, v in GLYPHS.items())
    return out + ["", f"{legend}, {BELOW} below the release grade on this target", ""]


def required_note(rep) -> str:
    """`; the release needs 46 of them from this target: 46 signed off` when a run need not show every ID."""
    c = rep.counts
    if c.get("required_ids", c["total_ids"]) == c["total_ids"]:
        return ""
    return (f"; the release needs {c['required_ids']} of them from this target: "
            f"{c['signed_required_ids']} signed off; the others are reported, not required here")


def to_markdown(rep) -> str:
    run = rep.run
    out = [f"# {rep.title}: **{rep.verdict.upper()}**", "", release_line(rep), ""]
    out += [f"- target: `{rep.target}`", f"- commit: `{run.get('commit', '?')}`",
            f"- run: `{run.get('id', '?')}`",
            f"- started: {run.get('started', '?')}, finished: {run.get('finished', '?')}",
            f"- IDs: {counts_line(rep.counts['ids'])} (of {rep.counts['total_ids']}); "
            f"{rep.counts['signed_ids']} signed off on this target" + required_note(rep),
            "- passed IDs by strongest evidence: " + (counts_line(rep.counts["passed_by_grade"]) or "none"),
            "- tests: " + counts_line(rep.counts["tests"]),
            "- tools: " + tools_line(run), ""]
    out += _glance(rep)
    if rep.reasons:
        title = "## Why not signed off" if rep.verdict != "sign-off" else "## Notes"
        out += [title, ""] + [f"- {_cell(r)}" for r in rep.reasons] + [""]
    weak = [r for r in rep.rows if r.outcome == outcomes.PASSED and r.weaker]
    if weak:
        out += ["## Weaker links of passed IDs (they do not refuse)", ""]
        out += [f"- {r.id}: " + "; ".join(_cell(w) for w in r.weaker) for r in weak] + [""]
    if rep.gaps:
        out += ["## Gaps of this target (checked statically or live instead)", ""] + [f"- {g}" for g in rep.gaps] + [""]
    out += ["## Requirements and properties", "",
            "| ID | outcome | text | scenarios | evidence and release grade |", "|---|---|---|---|---|"]
    for r in rep.rows:
        sc = "<br>".join(f"{_cell(s.name)} ({s.feature}): {s.label()}" for s in r.scenarios)
        out.append(f"| {r.id} | {r.label()} | {_cell(r.text)} | {sc} | {_evidence_cell(r)} |")
    out += ["", "## Evidence", ""]
    for r in rep.rows:
        out.append(f"### {r.id}: {r.label()}")
        out += [f"- why: {_cell(w)}" for w in r.why] + [f"- weaker link: {_cell(w)}" for w in r.weaker]
        for s in r.scenarios:
            out.append(f"- **{s.name}** ({s.feature}): {s.label()}")
            for reason in s.reasons:
                out.append(f"  - reason: {_cell(reason)}")
            for e in s.evidence:
                out.append(f"  - `{e.strip()}`")
            for g in s.gaps:
                out.append(f"  - gap: {g}")
        out.append("")
    out += ["## Tool versions", ""] + [f"- {k}: {v}" for k, v in run.get("tools", {}).items()]
    return "\n".join(out) + "\n"


def _evidence_cell(r) -> str:
    parts = [f"strongest: {grade_mark(r)}"]
    if r.need:
        parts.append(f"release needs {r.need} here" + (" (met)" if r.meets else " (NOT met)"))
    parts += r.needs_elsewhere()
    if r.weaker:
        parts.append(f"{len(r.weaker)} weaker link(s)")
    return "; ".join(parts)
