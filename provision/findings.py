"""The one result type every probe returns, and the one wait helper.

A Finding has a status (passed, failed, unverifiable) and an evidence grade
(real, emulated, static, model; see docs/architecture.md). `bool(finding)` is
true only when it passed, so an unverifiable Finding never satisfies an
assert, `wait_until` or `caught`.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

PASSED = "passed"
FAILED = "failed"
UNVERIFIABLE = "unverifiable"
STATUSES = (PASSED, FAILED, UNVERIFIABLE)

# Evidence grades, strongest first.
REAL = "real"          # the real service, or a real component (kube-apiserver, etcd, PostgreSQL, a TLS handshake)
EMULATED = "emulated"  # moto, kwok, a stand-in of the harness
STATIC = "static"      # a file or template read
MODEL = "model"        # the harness's own evaluator
GRADES = (REAL, EMULATED, STATIC, MODEL)


@dataclass(frozen=True)
class Finding:
    """What a probe saw: its status, about what, expected vs actual, evidence and its grade.

    The first field takes a status or, for brevity, a bool (True: passed,
    False: failed); it is stored as the status.
    """

    status: str
    subject: str
    expected: str = ""
    actual: str = ""
    evidence: tuple[str, ...] = ()
    # A gap of the target (e.g. moto ignores AWS::EKS::Cluster): the check could
    # not see the real thing here. Gaps are reported, never passed over.
    gaps: tuple[str, ...] = ()
    grade: str = ""

    def __post_init__(self):
        status = self.status
        if isinstance(status, bool) or status in (0, 1):
            status = PASSED if status else FAILED
        if status not in STATUSES:
            raise ValueError(f"Finding status {status!r}: expected one of {', '.join(STATUSES)}")
        if self.grade and self.grade not in GRADES:
            raise ValueError(f"Finding grade {self.grade!r}: expected one of {', '.join(GRADES)}")
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "evidence", tuple(self.evidence))
        object.__setattr__(self, "gaps", tuple(self.gaps))

    @property
    def ok(self) -> bool:
        return self.status == PASSED

    @property
    def unverifiable(self) -> bool:
        return self.status == UNVERIFIABLE

    def line(self) -> str:
        mark = {PASSED: "ok  ", FAILED: "FAIL", UNVERIFIABLE: "N/V "}[self.status]
        text = f"{mark} {self.subject}"
        if not self.ok or self.expected:
            text += f": expected {self.expected or '-'}, got {self.actual or '-'}"
        return text

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}

    def graded(self, grade: str) -> Finding:
        """This Finding with `grade`, unless it already has one."""
        return self if self.grade else replace(self, grade=grade)

    def __bool__(self) -> bool:  # lets `assert finding` read naturally; unverifiable is not passed
        return self.ok


def passed(subject: str, expected: str = "", actual: str = "", evidence=(), gaps=(), grade: str = "") -> Finding:
    return Finding(PASSED, subject, expected, actual, tuple(evidence), tuple(gaps), grade)


def failed(subject: str, expected: str = "", actual: str = "", evidence=(), gaps=(), grade: str = "") -> Finding:
    return Finding(FAILED, subject, expected, actual, tuple(evidence), tuple(gaps), grade)


def unverifiable(subject: str, expected: str = "", actual: str = "", evidence=(), gaps=(), grade: str = "") -> Finding:
    """The probe could not see what it checks (an emulator gap, a refused read): never passed."""
    return Finding(UNVERIFIABLE, subject, expected, actual, tuple(evidence), tuple(gaps), grade)


def weakest(grades) -> str:
    """The weakest of some grades ('' when none is given): a claim is as strong as its weakest part."""
    given = [g for g in grades if g]
    return max(given, key=GRADES.index) if given else ""


def graded(grade: str):
    """Decorator: Findings the function returns get `grade` unless they have one."""

    def wrap(fn):
        def inner(*args, **kwargs):
            out = fn(*args, **kwargs)
            return out.graded(grade) if isinstance(out, Finding) else out

        inner.__name__, inner.__doc__, inner.__wrapped__ = fn.__name__, fn.__doc__, fn
        inner.__qualname__, inner.__module__ = fn.__qualname__, fn.__module__
        return inner

    return wrap


def combine(subject: str, findings: list[Finding]) -> Finding:
    """One finding: passed only if all passed, failed if any failed, else unverifiable.

    Evidence lists the failing ones first, then the unverifiable ones.
    """
    bad = [f for f in findings if f.status == FAILED]
    unseen = [f for f in findings if f.status == UNVERIFIABLE]
    good = [f for f in findings if f.ok]
    gaps = tuple(g for f in findings for g in f.gaps)
    status = FAILED if bad else UNVERIFIABLE if unseen else PASSED
    actual = f"{len(good)} pass, {len(bad)} fail" + (f", {len(unseen)} unverifiable" if unseen else "")
    return Finding(
        status,
        subject=subject,
        expected=f"{len(findings)} checks pass",
        actual=actual,
        evidence=tuple(f.line() for f in bad + unseen + good),
        gaps=tuple(dict.fromkeys(gaps)),
        grade=weakest(f.grade for f in findings),
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


def failing_lines(evidence) -> list[str]:
    """Evidence lines marked FAIL, each with the indented detail lines that follow it."""
    out, under_fail = [], False
    for line in evidence:
        if line.lstrip().startswith("FAIL"):
            out.append(line)
            under_fail = True
        elif under_fail and line[:1].isspace():
            out.append(line)
        else:
            under_fail = False
    return out


def caught(finding: Finding, naming: str, *, case_sensitive: bool = False) -> Finding:
    """For seeded faults: ok only when `finding` is red and what it reports as wrong names `naming`.

    What counts as "reported as wrong": the actual value and the evidence lines
    marked FAIL with the indented lines under them, never the passing or
    unmarked lines, where the names of checked things appear anyway.
    """
    lines = [finding.actual, *failing_lines(finding.evidence)]

    def names(line: str) -> bool:
        return naming in line if case_sensitive else naming.lower() in line.lower()

    found = any(names(ln) for ln in lines)
    subject = f"seeded fault turns '{finding.subject}' red, naming {naming!r}"
    want = f"red, naming {naming!r}"
    shown = (finding.line(), *finding.evidence)
    if finding.ok:
        return failed(subject, want, "the check passed: the fault went unnoticed", shown, finding.gaps, finding.grade)
    if finding.unverifiable:
        return failed(subject, want, "unverifiable: the check could not see the fault", shown, finding.gaps,
                      finding.grade)
    if not found:
        return failed(subject, want, "red, but naming something else", shown, finding.gaps, finding.grade)
    naming_lines = [ln for ln in lines[1:] if names(ln)][:10]
    return passed(subject, want, f"red: {finding.actual}", (finding.line(), *naming_lines), finding.gaps, finding.grade)
