"""Cold set-up cost: the control plane's Go builds and the virtualenv, in throwaway caches.

    CTL_BENCH_COLD=1 .venv/bin/python benchmarks/build.py [--only go|venv]

Go: every build of provision/local/build.py (the same packages, flags and module folders) with an empty
GOCACHE *and* GOMODCACHE, each timed in two phases: fetching what it needs (`go list -deps`: module
downloads, no compiling) and compiling (`go build`, what build.py runs). Takes 10-15 minutes of both
cores; run it on purpose (skipped by run.py unless CTL_BENCH_COLD=1).
venv: `python -m venv` + `pip install -r requirements.lock` + the project, once with an empty pip cache
(a fresh machine) and once more with the cache it filled (a CI runner with a pip cache).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import emit  # noqa: E402

from provision.local import build  # noqa: E402


def _timed(argv, cwd, env) -> float:
    t0 = time.monotonic()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv[:3])} failed in {cwd}: {proc.stderr[-1500:]}")
    return time.monotonic() - t0


def go_cold(tmp: Path) -> None:
    env = {**os.environ, "GOCACHE": f"{tmp}/gocache", "GOMODCACHE": f"{tmp}/gomod", "CGO_ENABLED": "0"}
    total = 0.0
    for b in build.builds():
        cwd = build.TOOLS / b.module_dir
        fetch = _timed(["go", "list", "-deps", *b.packages], cwd, env)
        out = tmp / "bin" / b.name
        out.mkdir(parents=True)
        compile_ = _timed(["go", "build", "-trimpath", "-ldflags", b.ldflags, "-o", f"{out}/", *b.packages], cwd, env)
        size = sum(f.stat().st_size for f in out.iterdir()) / 2**20
        emit(f"cold.go.{b.name}", fetch + compile_, "s",
             note=f"fetch {fetch:.0f} s + compile {compile_:.0f} s; {len(b.binaries)} binaries, {size:.0f} MiB")
        total += fetch + compile_
    emit("cold.go.total", total, "s", note="every Go build, empty GOCACHE and GOMODCACHE")


def venv_cold(tmp: Path) -> None:
    cache = tmp / "pipcache"
    for label in ("empty pip cache", "warm pip cache"):
        venv = tmp / f"venv-{label.split()[0]}"
        env = {**os.environ, "PIP_CACHE_DIR": str(cache), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        py = venv / "bin" / "python"
        t0 = time.monotonic()
        _timed([sys.executable, "-m", "venv", str(venv)], ROOT, env)
        _timed([str(py), "-m", "pip", "install", "--quiet", "pip==25.3"], ROOT, env)
        _timed([str(py), "-m", "pip", "install", "--quiet", "--progress-bar", "off", "-r", "requirements.lock"],
               ROOT, env)
        _timed([str(py), "-m", "pip", "install", "--quiet", "--no-deps", "-e", "."], ROOT,
               env)
        emit(f"cold.venv.{label.split()[0]}", time.monotonic() - t0, "s", note=f"venv + pinned install, {label}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("go", "venv"))
    a = ap.parse_args(argv)
    if os.environ.get("CTL_BENCH_COLD") != "1":
        emit("cold.go.total", None, "s", note="not measured (set CTL_BENCH_COLD=1; takes 10-15 minutes)")
        return 0
    with tempfile.TemporaryDirectory(prefix="ctl-cold-") as tmp:
        if a.only in (None, "venv"):
            venv_cold(Path(tmp))
        if a.only in (None, "go"):
            go_cold(Path(tmp))
        subprocess.run(["chmod", "-R", "u+w", tmp])   # the module cache is read-only: let the cleanup remove it
    return 0


if __name__ == "__main__":
    sys.exit(main())
