"""`provision stacks cost --env ENV`: the monthly estimate, line by line, with the price table's date."""

from __future__ import annotations

from .. import config, errors


def register(sub) -> None:
    p = sub.add_parser("cost", help="monthly cost estimate from the templates and the pinned price table")
    p.add_argument("--env", required=True, help=f"environment of settings.yaml ({', '.join(config.environments())})")
    p.set_defaults(func=_cost)


def _cost(args) -> int:
    from . import estimate

    est = estimate.estimate(config.Environment.named(args.env))
    print("\n".join(est.report()))
    return errors.EXIT_OK if est.total <= est.budget else errors.EXIT_FAILED
