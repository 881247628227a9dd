"""Actual spend from Cost Explorer (live only: moto has no forecast).

`month_to_date(target)` reads the month's unblended cost so far and AWS's
forecast to the month's end; `judge(spend, budget)` is the pure verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ..aws.clients import client
from ..findings import Finding, failed, passed


@dataclass(frozen=True)
class Spend:
    start: str
    end: str
    actual_usd: float
    forecast_usd: float | None  # None on the month's last day: nothing left to forecast
    currency: str = "USD"
    grade: str = ""  # of the Cost Explorer that answered


def _month(today: date) -> tuple[date, date]:
    first = today.replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return first, nxt


def month_to_date(target, today: date | None = None) -> Spend:
    today = today or date.today()
    first, nxt = _month(today)
    # Cost Explorer is a global API served from us-east-1.
    ce = client(target, "ce", region="us-east-1")
    end = max(today, first + timedelta(days=1))
    got = ce.get_cost_and_usage(
        TimePeriod={"Start": first.isoformat(), "End": end.isoformat()},
        Granularity="MONTHLY",
        Metrics=["UnblendedCost"],
    )
    amount = got["ResultsByTime"][0]["Total"]["UnblendedCost"]
    forecast = None
    if today + timedelta(days=1) < nxt:
        fc = ce.get_cost_forecast(
            TimePeriod={"Start": (today + timedelta(days=1)).isoformat(), "End": nxt.isoformat()},
            Metric="UNBLENDED_COST",
            Granularity="MONTHLY",
        )
        forecast = float(fc["Total"]["Amount"])
    return Spend(
        first.isoformat(),
        nxt.isoformat(),
        float(amount["Amount"]),
        forecast,
        amount.get("Unit", "USD"),
        target.grade("aws"),
    )


def judge(spend: Spend, budget_usd: float) -> Finding:
    """Month-to-date plus the forecast of the rest of the month must stay within the budget."""
    projected = spend.actual_usd + (spend.forecast_usd or 0.0)
    evidence = (
        f"month {spend.start}..{spend.end}: actual {spend.actual_usd:.2f} {spend.currency}",
        "forecast for the rest of the month: "
        + (f"{spend.forecast_usd:.2f} {spend.currency}" if spend.forecast_usd is not None else "none (last day)"),
        f"projected month: {projected:.2f} of a {budget_usd:.2f} budget",
    )
    subject = "monthly AWS spend (Cost Explorer) against the budget"
    if projected > budget_usd:
        return failed(subject, f"at most ${budget_usd:.2f}", f"${projected:.2f} projected", evidence, grade=spend.grade)
    return passed(subject, f"at most ${budget_usd:.2f}", f"${projected:.2f} projected", evidence, grade=spend.grade)
