"""One located issue per problem a rule reports, and the rule table.

A rule is a function returning a Finding (provision/kube, provision/ci, provision/aws); its FAIL-marked
evidence lines become issues (level error), its EXEMPT lines notes with their reason (never silent).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from ..findings import Finding

GENERIC, POLICY = "generic", "policy"
ERROR, NOTE = "error", "note"
_FILE_LINE = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+):\s*")


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str          # manifests | workflows | templates | secrets | input
    scope: str         # generic | policy
    what: str


@dataclass(frozen=True)
class Issue:
    rule: str
    message: str
    file: str = ""
    line: int = 0
    level: str = ERROR

    def as_dict(self) -> dict:
        return asdict(self)

    def text(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else self.file or "-"
        mark = "" if self.level == ERROR else f"{self.level}: "
        return f"{self.rule} {where} {mark}{self.message}"


def problem_lines(f: Finding) -> list[str]:
    """What a red Finding reports as wrong: FAIL-marked lines, else its evidence, else its actual value."""
    marked = [e.strip()[5:] for e in f.evidence if e.strip().startswith("FAIL ")]
    if marked:
        return marked
    if "; " in f.actual:
        return f.actual.split("; ")
    return [e.strip() for e in f.evidence if e.strip()] or [f.actual or f.subject]


def from_finding(rule: str, f: Finding, locate=None, file: str = "") -> list[Issue]:
    """Issues of one Finding: errors when it failed (notes when unverifiable), notes for exemptions.

    `locate(message) -> (file, line)` places a message; a message starting `file:line:` places itself."""
    out = []
    if f.ok:
        lines, level = [], ERROR
    elif f.unverifiable:
        lines, level = [f"not verifiable: {f.actual or f.subject}"], NOTE
    else:
        lines, level = problem_lines(f), ERROR
    notes = [e.strip()[7:] for e in f.evidence if e.strip().startswith("EXEMPT ")]
    for msg, lvl in [(m, level) for m in lines] + [(n, NOTE) for n in notes]:
        m = _FILE_LINE.match(msg)
        if m:
            out.append(Issue(rule, re.sub(r"^\d+:\s*", "", msg[m.end():]), m["file"], int(m["line"]), lvl))
            continue
        where, line = locate(msg) if locate else (file, 0)
        out.append(Issue(rule, msg, where or file, line, lvl))
    return out


def failing(issues: list[Issue]) -> list[Issue]:
    return [i for i in issues if i.level == ERROR]
