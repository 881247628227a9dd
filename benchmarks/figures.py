"""The figures of `make bench`: one record per measured figure, one table, one JSON file, a comparison.

A benchmark script reports its figures with `emit(...)`: printed as a line, and appended as JSON to
the file named by CTL_BENCH_FIGURES when benchmarks/run.py runs it. run.py gathers them, prints one
table (each figure beside its baseline and the ratio) and writes reports/bench-<time>.json and
reports/bench-latest.json; `run.py --compare A B` prints what changed between two such files.
Pure but for emit's append and write's files; nothing here measures.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

FIGURES_ENV = "CTL_BENCH_FIGURES"
SCHEMA = "cloudtolocalllm-bench/v1"


@dataclass(frozen=True)
class Figure:
    name: str                      # unique in a run, e.g. "deploy.healthy"
    value: float | None            # None: not measured (see note)
    unit: str                      # s | ms | q/s | handshakes/s | writes | requests
    baseline: float | None = None  # what it is judged against
    baseline_name: str = ""        # naive | budget | ...
    note: str = ""
    better: str = "lower"          # lower | higher: which way is an improvement

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline


def emit(name: str, value: float | None, unit: str, baseline: float | None = None, baseline_name: str = "",
         note: str = "", better: str = "lower") -> Figure:
    """Report one figure: a printed line, and a JSON line for run.py when it asked for one."""
    f = Figure(name, value, unit, baseline, baseline_name, note, better)
    print(line(f), flush=True)
    path = os.environ.get(FIGURES_ENV)
    if path:
        with open(path, "a") as out:
            out.write(json.dumps(asdict(f)) + "\n")
    return f


def _num(v: float | None, unit: str = "") -> str:
    if v is None:
        return "-"
    if unit in ("writes", "requests", "processes", "objects") or (abs(v) >= 100 and float(v).is_integer()):
        return f"{v:.0f}"
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"


def line(f: Figure) -> str:
    base = "" if f.ratio is None else f" (baseline {_num(f.baseline)} {f.unit} {f.baseline_name}, ratio {f.ratio:.2f})"
    return f"{f.name}: {_num(f.value, f.unit)} {f.unit}{base}" + (f" -- {f.note}" if f.note else "")


def read_lines(path: Path) -> list[Figure]:
    """The figures a benchmark appended (one JSON object a line); a later figure of a name replaces an earlier."""
    by: dict[str, Figure] = {}
    if Path(path).exists():
        for raw in Path(path).read_text().splitlines():
            if raw.strip():
                f = Figure(**json.loads(raw))
                by[f.name] = f
    return list(by.values())


def table(figs: list[Figure]) -> str:
    """One table of every figure: value, baseline, ratio, note."""
    head = ("figure", "value", "unit", "baseline", "vs", "ratio", "note")
    rows = [head] + [(f.name, _num(f.value, f.unit), f.unit, _num(f.baseline, f.unit), f.baseline_name,
                      "-" if f.ratio is None else f"{f.ratio:.2f}", f.note) for f in figs]
    w = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
    out = []
    for r in rows:
        cells = [r[0].ljust(w[0])] + [r[i].rjust(w[i]) if i in (1, 3, 5) else r[i].ljust(w[i])
                                      for i in range(1, len(head) - 1)]
        out.append("  ".join(cells + [r[-1]]).rstrip())
    out.insert(1, "-" * min(len(out[0]) + 20, 140))
    return "\n".join(out)


def document(figs: list[Figure], meta: dict) -> dict:
    return {"schema": SCHEMA, **meta, "figures": [asdict(f) | {"ratio": f.ratio} for f in figs]}


def write(figs: list[Figure], meta: dict, reports: Path, stamp: str) -> Path:
    """reports/bench-<stamp>.json and reports/bench-latest.json (a copy: two runs stay comparable)."""
    reports.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document(figs, meta), indent=1, sort_keys=True) + "\n"
    out = reports / f"bench-{stamp}.json"
    out.write_text(text)
    (reports / "bench-latest.json").write_text(text)
    return out


def load(path: Path) -> tuple[dict, list[Figure]]:
    doc = json.loads(Path(path).read_text())
    if doc.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not a bench file ({SCHEMA})")
    fields = set(Figure.__dataclass_fields__)
    return doc, [Figure(**{k: v for k, v in f.items() if k in fields}) for f in doc["figures"]]


def compare(a: list[Figure], b: list[Figure], threshold: float = 0.10) -> list[str]:
    """What changed from run A to run B, one line a figure: the change in percent, marked better/worse
    when it moved more than `threshold`, and figures only one run has."""
    old, new = {f.name: f for f in a}, {f.name: f for f in b}
    out = []
    for name in [*old, *(n for n in new if n not in old)]:
        fa, fb = old.get(name), new.get(name)
        if fa is None or fb is None:
            out.append(f"{name}: only in {'B' if fa is None else 'A'}")
            continue
        if fa.value is None or fb.value is None:
            out.append(f"{name}: {_num(fa.value, fa.unit)} -> {_num(fb.value, fb.unit)} {fb.unit} (not comparable)")
            continue
        if fa.value == 0:
            change = 0.0 if fb.value == 0 else float("inf")
        else:
            change = (fb.value - fa.value) / abs(fa.value)
        mark = ""
        if abs(change) > threshold:
            improved = change < 0 if fb.better == "lower" else change > 0
            mark = "  better" if improved else "  WORSE"
        pct = "new nonzero" if change == float("inf") else f"{change * 100:+.0f}%"
        out.append(f"{name}: {_num(fa.value, fa.unit)} -> {_num(fb.value, fb.unit)} {fb.unit} ({pct}){mark}")
    return out
