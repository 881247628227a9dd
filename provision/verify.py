"""`provision verify` and the demo's verify step: every DNS/TLS probe, as Finding lines."""
from __future__ import annotations

from . import errors
from .config import Target
from .findings import Finding

VERIFY_FAILED = "verify: {bad} of {total} checks failed"


def run(target: Target) -> list[Finding]:
    from .dns import probes  # areas land one by one; DNS/TLS is the first here
    return probes.run_all(target)


def lines(findings: list[Finding]) -> list[str]:
    out = []
    for f in findings:
        out.append(f.line())
        out.extend(f"  {e}" for e in f.evidence)
        out.extend(f"  gap: {g}" for g in f.gaps)
    return out


def demo_step(target: Target, progress) -> list[str]:
    """Run the probes; print their lines; raise (one line) when any is red."""
    findings = run(target)
    out = lines(findings)
    bad = [f for f in findings if not f.ok]
    if bad:
        for line in out:
            progress(line)
        raise errors.ProvisionError(VERIFY_FAILED.format(bad=len(bad), total=len(findings)),
                                    evidence=tuple(f.line() for f in bad))
    return out
