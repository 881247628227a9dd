"""cfn-lint on the templates (a static check)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from ...findings import Finding, failed, passed


def cfn_lint(paths: list[Path]) -> Finding:
    """cfn-lint on the templates (run as a subprocess, from an argument list)."""
    exe = Path(sys.executable).parent / "cfn-lint"
    argv = [
        str(exe) if exe.exists() else (shutil.which("cfn-lint") or "cfn-lint"),
        "--format",
        "parseable",
        "--",
        *[str(p) for p in paths],
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    problems = [line for line in proc.stdout.splitlines() if line.strip()]
    subject = f"cfn-lint on {len(paths)} templates"
    if proc.returncode == 0:
        return passed(subject, "no errors or warnings", "clean", evidence=[Path(p).name for p in paths], grade="static")
    return failed(
        subject,
        "no errors or warnings",
        f"exit {proc.returncode}, {len(problems)} findings",
        evidence=[f"FAIL {p}" for p in problems[:20]] or [f"FAIL {proc.stderr.strip()[-500:]}"],
        grade="static",
    )
