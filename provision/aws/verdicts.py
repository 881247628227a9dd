"""The one shape of a check's verdict from the problems it found."""

from __future__ import annotations

from ..findings import Finding


def verdict(subject: str, expected: str, problems: list[str], evidence: list[str], summary: str) -> Finding:
    """Passed when no problem was found; the problems lead the evidence, `summary` is the actual when clean."""
    return Finding(not problems, subject, expected, "; ".join(problems) or summary, tuple(problems + evidence))
