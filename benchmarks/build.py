"""Cold build time of the local control plane, in a throwaway cache.

Builds every binary of provision/local/build.py with an empty Go build cache
and an empty binary cache (the Go module cache is kept: downloads are not what
is measured). Takes 10-15 minutes on 2 cores; run it on purpose:
`python benchmarks/build.py` (skipped by run.py unless CTL_BENCH_COLD=1).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time


def main() -> int:
    if os.environ.get("CTL_BENCH_COLD") != "1":
        print("cold_build: not measured (set CTL_BENCH_COLD=1; takes 10-15 minutes)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GOCACHE": f"{tmp}/gocache", "CTL_CACHE_DIR": f"{tmp}/cache"}
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "provision.cli", "local", "build"], env=env,
                              capture_output=True, text=True)
        took = time.monotonic() - t0
        for line in proc.stderr.splitlines():
            if line.startswith("==> built "):
                print(line.removeprefix("==> "))
        print(f"cold_build_total: {took:.0f} s")
        return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
