"""Run every benchmark of this folder and keep their figures.

Speed is measured here, not asserted in tests. Each benchmark is a script
that prints `name: value unit` lines; this runner collects them into
reports/benchmarks-<time>.txt. Everything runs on loopback and stops by itself.
"""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem for p in HERE.glob("*.py") if p.stem not in ("run", "__init__"))
    out = ROOT / "reports" / f"benchmarks-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.txt"
    out.parent.mkdir(exist_ok=True)
    failed = 0
    with out.open("w") as f:
        for name in names:
            print(f"==> benchmark {name}", flush=True)
            t0 = time.monotonic()
            proc = subprocess.run([sys.executable, str(HERE / f"{name}.py")], cwd=ROOT, capture_output=True, text=True)
            f.write(f"## {name} (exit {proc.returncode}, {time.monotonic() - t0:.0f}s)\n{proc.stdout}\n")
            print(proc.stdout, end="")
            if proc.returncode:
                failed += 1
                print(proc.stderr[-2000:], file=sys.stderr)
    print(f"figures: {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
