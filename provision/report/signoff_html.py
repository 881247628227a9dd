"""The sign-off report as one self-contained HTML page (signoff.html).

It opens with what a release approver looks at first: the verdict, and every
catalog ID as one tile, coloured by its outcome and marked with the strongest
evidence grade it reached, grouped by requirement; the details follow. No
external asset: no stylesheet link, script, image or font is loaded.
"""
from __future__ import annotations

import html

from . import outcomes
from .signoff_md import grade_mark, grouped, release_line, required_note, tools_line

# One colour per outcome; the legend shows the same swatches.
COLOURS = {
    outcomes.PASSED: "#2e7d32",
    outcomes.FAILED: "#c62828",
    outcomes.NOT_IMPLEMENTED: "#e68a00",
    outcomes.SKIPPED: "#8e24aa",
    outcomes.NOT_VERIFIABLE: "#1565c0",
    outcomes.NOT_RUN: "#757575",
}


def slug(outcome: str) -> str:
    return "o-" + outcome.replace(" ", "-")


_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}
.verdict{font-size:1.6em;font-weight:bold;margin:0}.sign-off{color:#186a18}.refused{color:#a01818}
.note{margin:.3em 0 1em}.facts{color:#444}
.group{margin:.6em 0}.group h3{margin:.2em 0;font-size:1em}
.grid{display:flex;flex-wrap:wrap;gap:6px}
.tile{display:flex;flex-direction:column;justify-content:space-between;width:96px;min-height:56px;padding:4px 6px;
 border-radius:6px;color:#fff;text-decoration:none;box-sizing:border-box}
.tile .tid{font-weight:bold;font-size:1.1em}.tile .mark,.tile .needs{font-size:.8em}
.tile.weak{background-image:repeating-linear-gradient(45deg,transparent 0 6px,rgba(255,255,255,.35) 6px 12px)}
.tile.below{outline:3px dashed #000;outline-offset:1px}
.legend{display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin:.4em 0 .8em;font-size:.9em}
.swatch{display:inline-block;padding:2px 8px;border-radius:4px;color:#fff}
code,pre{font-size:12px}details{margin:2px 0}pre{white-space:pre-wrap}
"""


def _css() -> str:
    tiles = "".join(f".{slug(o)}.tile,.{slug(o)}.swatch{{background-color:{c}}}" for o, c in COLOURS.items())
    rows = "".join(f"tr.{slug(o)} td:first-child{{border-left:6px solid {c}}}" for o, c in COLOURS.items())
    return _CSS + tiles + "\n" + rows


def _tile(r, e) -> str:
    classes = ["tile", slug(r.outcome)]
    if r.outcome == outcomes.PASSED and r.grade in ("static", "model", ""):
        classes.append("weak")
    if r.below:
        classes.append("below")
    title = f"{r.id}: {r.text} | {r.label()} | strongest evidence: {grade_mark(r)}"
    if r.need:
        title += f" | release needs {r.need} here"
    below = f"<span class='needs'>needs {e(r.need)}</span>" if r.below else ""
    return (f"<a class='{' '.join(classes)}' id='tile-{e(r.id)}' href='#id-{e(r.id)}' data-id='{e(r.id)}' "
            f"data-outcome='{e(r.outcome)}' data-grade='{e(r.grade)}' data-mark='{e(grade_mark(r))}' "
            f"data-need='{e(r.need)}' data-meets='{'' if r.meets is None else str(r.meets).lower()}' "
            f"title='{e(title)}'><span class='tid'>{e(r.id)}</span>"
            f"<span class='mark'>{e(grade_mark(r))}</span>{below}</a>")


def _tiles(rep, e) -> list[str]:
    legend = "".join(f"<span class='swatch {slug(o)}' data-outcome='{e(o)}'>{e(o)}</span>" for o in COLOURS)
    parts = [f"<section id='tiles'><div class='legend'>{legend}<span>mark: strongest evidence reached "
             "(real, emulated, static only, model only, no grade); hatched: passed on static, model or no "
             "graded evidence; dashed outline: below the release grade on this target</span></div>"]
    for g, title, rows in grouped(rep):
        parts.append(f"<div class='group' data-group='{e(g)}'><h3>{e(g)} {e(title)}</h3><div class='grid'>"
                     + "".join(_tile(r, e) for r in rows) + "</div></div>")
    parts.append("</section>")
    return parts


def _details(r, e) -> str:
    cells = []
    for s in r.scenarios:
        body = "".join(f"<div>reason: {e(x)}</div>" for x in s.reasons)
        if s.evidence:
            body += "<pre>" + e("\n".join(s.evidence)) + "</pre>"
        body += "".join(f"<div>gap: {e(g)}</div>" for g in s.gaps)
        cells.append(f"<details class='{slug(s.outcome)}'><summary>{e(s.name)} ({e(s.feature)}): "
                     f"{e(s.label())}</summary>{body}</details>")
    evidence = [f"strongest: {grade_mark(r)}"]
    if r.need:
        evidence.append(f"release needs {r.need} here ({'met' if r.meets else 'NOT met'})")
    evidence += r.needs_elsewhere()
    notes = "".join(f"<div>why: {e(w)}</div>" for w in r.why)
    notes += "".join(f"<div>weaker link: {e(w)}</div>" for w in r.weaker)
    return (f"<tr id='id-{e(r.id)}' class='{slug(r.outcome)}'><td>{e(r.id)}</td><td>{e(r.label())}</td>"
            f"<td>{e(r.text)}</td><td>{e('; '.join(evidence))}{notes}</td><td>{''.join(cells)}</td></tr>")


def _release_note(rep, e) -> str:
    text = e(release_line(rep, code=lambda c: f"\x00{c}\x01"))
    return text.replace("\x00", "<code>").replace("\x01", "</code>")


def to_html(rep) -> str:
    e = html.escape
    run = rep.run
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(rep.title)} {e(run.get('id', ''))}"
             f"</title><style>{_css()}</style></head><body>",
             f"<p class='verdict {rep.verdict}'>{e(rep.title)}: {e(rep.verdict.upper())}</p>",
             f"<p class='facts'>{e(str(rep.counts['signed_ids']))} of {e(str(rep.counts['total_ids']))} IDs "
             f"signed off on the {e(rep.target)} target{e(required_note(rep))}; "
             f"commit <code>{e(str(run.get('commit', '?')))}</code></p>",
             f"<p class='note'>{_release_note(rep, e)}</p>"]
    parts += _tiles(rep, e)
    parts.append("<ul>")
    for k in ("target", "commit", "id", "started", "finished"):
        parts.append(f"<li>{k}: <code>{e(str(run.get(k, '?')))}</code></li>")
    for k in ("ids", "passed_by_grade", "tests"):
        label = {"ids": "IDs", "passed_by_grade": "passed IDs by strongest evidence"}.get(k, k)
        parts.append(f"<li>{label}: " + e(", ".join(f"{v} {n}" for n, v in sorted(rep.counts[k].items()))) + "</li>")
    parts.append(f"<li>tools: {e(tools_line(run))}</li></ul>")
    if rep.reasons:
        title = "Why not signed off" if rep.verdict != "sign-off" else "Notes"
        parts.append(f"<h2>{title}</h2><ul>" + "".join(f"<li>{e(r)}</li>" for r in rep.reasons) + "</ul>")
    if rep.gaps:
        parts.append("<h2>Gaps of this target</h2><ul>" + "".join(f"<li>{e(g)}</li>" for g in rep.gaps) + "</ul>")
    parts.append("<h2>Requirements and properties</h2><table><tr><th>ID</th><th>outcome</th><th>text</th>"
                 "<th>evidence and release grade</th><th>scenarios and evidence</th></tr>")
    parts += [_details(r, e) for r in rep.rows]
    tools = "".join(f"<li>{e(k)}: {e(str(v))}</li>" for k, v in run.get("tools", {}).items())
    parts.append(f"</table><h2>Tool versions</h2><ul>{tools}</ul></body></html>")
    return "".join(parts)
