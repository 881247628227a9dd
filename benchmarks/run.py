"""Run every benchmark of this folder: one table of every figure, kept as JSON (`make bench`).

    .venv/bin/python benchmarks/run.py [NAME ...]          # all, or some of controlplane deploy dns_tls build
    .venv/bin/python benchmarks/run.py --compare A.json B.json

Speed is measured here, not asserted in tests. Each benchmark is a script that reports its figures
through figures.emit; this runner gathers them, adds the offline suite's wall time from the newest full
run under reports/ (no test is run for it), sets each figure without a baseline of its own beside the
previous run's, prints one table and the issue's budgets, and writes reports/bench-<time>.json and
reports/bench-latest.json (plus the scripts' output in reports/benchmarks-<time>.txt). Everything runs
on loopback and stops by itself.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import figures  # noqa: E402
from figures import Figure  # noqa: E402

SCRIPTS = ("controlplane", "deploy", "dns_tls", "build")
FULL_SUITE = 500            # a run with at least this many tests is the whole offline suite
# The budgets (issue 14): figure -> (limit, what on the ratio or the value)
BUDGETS = {"deploy.healthy": (1.3, "ratio"), "deploy.failed.never-ready.total": (0.07, "ratio"),
           "deploy.no-op.writes": (0, "value"), "suite.offline.wall": (90, "value")}


def suite_figure(reports: Path) -> Figure:
    """The offline suite's wall time, from the newest run of the whole suite (results.json)."""
    runs = sorted(reports.glob("run-*-offline-*/results.json"), reverse=True)
    for path in runs[:200]:
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if len(doc.get("tests", [])) >= FULL_SUITE and doc["run"].get("finished"):
            run = doc["run"]
            wall = (datetime.fromisoformat(run["finished"]) - datetime.fromisoformat(run["started"])).total_seconds()
            return Figure("suite.offline.wall", wall, "s", 90, "budget",
                          f"{len(doc['tests'])} tests, {run['id']} (taken from the report, not run here)")
    return Figure("suite.offline.wall", None, "s", 90, "budget", "no full offline run under reports/")


def with_previous(figs: list[Figure], previous: list[Figure]) -> list[Figure]:
    """A figure without a baseline of its own is set beside the previous run's value."""
    before = {f.name: f for f in previous}
    out = []
    for f in figs:
        p = before.get(f.name)
        if f.baseline is None and p is not None and p.value:
            f = replace(f, baseline=p.value, baseline_name="previous")
        out.append(f)
    return out


def budgets(figs: list[Figure]) -> list[str]:
    by = {f.name: f for f in figs}
    out = []
    for name, (limit, on) in BUDGETS.items():
        f = by.get(name)
        got = None if f is None else (f.ratio if on == "ratio" else f.value)
        if got is None:
            out.append(f"budget {name} {on} <= {limit}: not measured")
        else:
            out.append(f"budget {name} {on} <= {limit}: {got:.2f} {'met' if got <= limit else 'NOT MET'}")
    return out


def run(names: list[str]) -> int:
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    reports = ROOT / "reports"
    reports.mkdir(exist_ok=True)
    text = reports / f"benchmarks-{stamp}.txt"
    figs: list[Figure] = []
    failed = 0
    with text.open("w") as f, tempfile.TemporaryDirectory() as tmp:
        for name in names:
            print(f"==> benchmark {name}", flush=True)
            sink = Path(tmp) / f"{name}.jsonl"
            t0 = time.monotonic()
            proc = subprocess.run([sys.executable, str(HERE / f"{name}.py")], cwd=ROOT, capture_output=True,
                                  text=True, env={**os.environ, figures.FIGURES_ENV: str(sink)})
            f.write(f"## {name} (exit {proc.returncode}, {time.monotonic() - t0:.0f}s)\n{proc.stdout}\n")
            print(proc.stdout, end="")
            figs += figures.read_lines(sink)
            if proc.returncode:
                failed += 1
                print(proc.stderr[-2000:], file=sys.stderr)
    figs.append(suite_figure(reports))
    latest = reports / "bench-latest.json"
    previous = figures.load(latest)[1] if latest.exists() else []
    figs = with_previous(figs, previous)
    print()
    print(figures.table(figs))
    print("\n".join(budgets(figs)))
    meta = {"started": stamp, "host": platform.node(), "cpus": os.cpu_count(),
            "load": list(os.getloadavg()), "benchmarks": names, "failed": failed}
    out = figures.write(figs, meta, reports, stamp)
    print(f"figures: {out} (and {latest.name}); output: {text}")
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help=f"benchmarks to run (default: {' '.join(SCRIPTS)})")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"), help="print what changed from run A to run B")
    a = ap.parse_args(argv)
    if a.compare:
        (doc_a, fa), (doc_b, fb) = figures.load(Path(a.compare[0])), figures.load(Path(a.compare[1]))
        print(f"A: {a.compare[0]} ({doc_a.get('started')}, load {doc_a.get('load')})")
        print(f"B: {a.compare[1]} ({doc_b.get('started')}, load {doc_b.get('load')})")
        print("\n".join(figures.compare(fa, fb)))
        return 0
    unknown = [n for n in a.names if n not in SCRIPTS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; expected some of {', '.join(SCRIPTS)}", file=sys.stderr)
        return 2
    return run(a.names or list(SCRIPTS))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
