"""The one result type every probe returns, and the one wait helper."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Finding:
    """What a probe saw: ok or not, about what, expected vs actual, evidence."""

    ok: bool
    subject: str
    expected: str = ""
    actual: str = ""
    evidence: tuple[str, ...] = ()
    # A gap of the target (e.g. moto ignores AWS::EKS::Cluster): the check could
    # not see the real thing here. Gaps are reported, never passed over.
    gaps: tuple[str, ...] = ()

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        text = f"{mark} {self.subject}"
        if not self.ok or self.expected:
            text += f": expected {self.expected or '-'}, got {self.actual or '-'}"
        return text

    def as_dict(self) -> dict:
        return asdict(self)

    def __bool__(self) -> bool:  # lets `assert finding` read naturally
        return self.ok


def passed(subject: str, expected: str = "", actual: str = "", evidence=(), gaps=()) -> Finding:
    return Finding(True, subject, expected, actual, tuple(evidence), tuple(gaps))


def failed(subject: str, expected: str = "", actual: str = "", evidence=(), gaps=()) -> Finding:
    return Finding(False, subject, expected, actual, tuple(evidence), tuple(gaps))


def combine(subject: str, findings: list[Finding]) -> Finding:
    """One finding that is ok only if all are; evidence lists the failing ones first."""
    bad = [f for f in findings if not f.ok]
    good = [f for f in findings if f.ok]
    gaps = tuple(g for f in findings for g in f.gaps)
    return Finding(
        ok=not bad,
        subject=subject,
        expected=f"{len(findings)} checks pass",
        actual=f"{len(good)} pass, {len(bad)} fail",
        evidence=tuple(f.line() for f in bad + good),
        gaps=tuple(dict.fromkeys(gaps)),
    )


class WaitTimeout(TimeoutError):
    """A wait ran out; carries the last Finding as evidence."""

    def __init__(self, description: str, timeout: float, last: Finding | None):
        self.description = description
        self.last = last
        # `is not None`: a red Finding is falsy, and a red one is exactly what to show
        detail = f"; last: {last.line()}" if last is not None else ""
        super().__init__(f"timed out after {timeout:.0f}s waiting for {description}{detail}")


def wait_until(
    description: str,
    probe: Callable[[], Finding],
    timeout: float,
    interval: float = 1.0,
    progress: Callable[[str], None] | None = None,
) -> Finding:
    """Call `probe` until it returns an ok Finding; say what is awaited on each try."""
    deadline = time.monotonic() + timeout
    last: Finding | None = None
    while True:
        last = probe()
        if last.ok:
            return last
        if time.monotonic() >= deadline:
            raise WaitTimeout(description, timeout, last)
        if progress:
            progress(f"waiting for {description}: {last.actual or last.subject}")
        time.sleep(interval)


def caught(finding: Finding, naming: str, *, case_sensitive: bool = False, failing_lines_only: bool = False) -> Finding:
    """For seeded faults: ok only when `finding` is red and what it reports names `naming`.

    What counts as "reported": the actual value and the evidence (only the
    evidence lines marked FAIL, where there are any, with failing_lines_only).
    """
    bad = [e for e in finding.evidence if e.lstrip().startswith("FAIL")]
    lines = [finding.actual, *(bad if failing_lines_only and bad else finding.evidence)]
    text = "\n".join(lines)
    found = naming in text if case_sensitive else naming.lower() in text.lower()
    subject = f"seeded fault turns '{finding.subject}' red, naming {naming!r}"
    want = f"red, naming {naming!r}"
    if finding.ok:
        return failed(subject, want, "the check passed: the fault went unnoticed", (finding.line(), *finding.evidence),
                      finding.gaps)
    if not found:
        return failed(subject, want, "red, but naming something else", (finding.line(), *finding.evidence), finding.gaps)
    return passed(subject, want, f"red: {finding.actual}",
                  (finding.line(), *[ln for ln in lines[1:] if (naming in ln if case_sensitive else naming.lower() in ln.lower())][:10]),
                  finding.gaps)
