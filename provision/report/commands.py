"""`provision signoff build [RUN_DIR]`: rebuild the sign-off report from a run's saved results."""
from __future__ import annotations

from pathlib import Path

from .. import config, errors
from . import signoff


def register(sub) -> None:
    p = sub.add_parser("signoff", help="rebuild the sign-off report of a run from its results.json")
    p.add_argument("run_dir", nargs="?", default=str(config.REPORTS_DIR / "latest"),
                   help="reports/<run-id> directory (default: reports/latest)")
    p.set_defaults(func=run)


def run(args) -> int:
    d = Path(args.run_dir)
    if not (d / "results.json").exists():
        raise errors.BadInput(f"no results.json in {d}: run the suite first (make test)")
    rep = signoff.write(d)
    print(f"verdict: {rep.verdict}")
    for reason in rep.reasons:
        print(f"  {reason}")
    print(f"report: {d / signoff.MD_NAME}")
    print(f"        {d / signoff.HTML_NAME}")
    if rep.verdict != signoff.SIGNOFF:
        bad = rep.counts["total_ids"] - rep.counts["ids"].get("passed", 0)
        reason = f"{bad} of {rep.counts['total_ids']} IDs have not passed on this target"
        raise errors.Refused(errors.SIGNOFF_REFUSED.format(reason=reason))
    return 0
