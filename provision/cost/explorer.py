"""Actual spend from Cost Explorer (live only: moto has no forecast).

`month_to_date(target, env)` reads the month's unblended cost so far and AWS's
forecast to the month's end, of the environment only: filtered by its cost
allocation tag (<project>:environment = <env>, the tag every stack carries);
`judge(spend, budget)` is the pure verdict; `spend_check(target, env)` is the
probe: unverifiable, with the reason, when Cost Explorer cannot answer (not yet
enabled for the account, data not yet available, the tag not activated).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import botocore.exceptions

from ..aws.clients import client
from ..aws.monitoring_checks import cost_tag
from ..config import Environment
from ..findings import Finding, failed, passed, unverifiable

# Answers that mean "Cost Explorer cannot tell yet", not "the spend is wrong".
NOT_ENABLED_MARKERS = ("not enabled for cost explorer", "cost explorer has not been enabled")
CANNOT_TELL = "Cost Explorer cannot answer for this account: {reason}"
TAG_INACTIVE = ("the cost allocation tag {key} is {status}: activate it in Billing > Cost allocation tags "
                "(data appears within 24 hours); until then a filter by it shows no cost")


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


def tag_filter(env: Environment) -> dict:
    """Cost Explorer's Filter of the environment's cost allocation tag."""
    key, value = cost_tag(env)
    return {"Tags": {"Key": key, "Values": [value], "MatchOptions": ["EQUALS"]}}


def month_to_date(target, env: Environment, today: date | None = None, ce=None) -> Spend:
    today = today or date.today()
    first, nxt = _month(today)
    # Cost Explorer is a global API served from us-east-1.
    ce = ce or client(target, "ce", region="us-east-1")
    end = max(today, first + timedelta(days=1))
    got = ce.get_cost_and_usage(
        TimePeriod={"Start": first.isoformat(), "End": end.isoformat()},
        Granularity="MONTHLY",
        Metrics=["UnblendedCost"],
        Filter=tag_filter(env),
    )
    amount = got["ResultsByTime"][0]["Total"]["UnblendedCost"]
    forecast = None
    if today + timedelta(days=1) < nxt:
        fc = ce.get_cost_forecast(
            TimePeriod={"Start": (today + timedelta(days=1)).isoformat(), "End": nxt.isoformat()},
            Metric="UNBLENDED_COST",
            Granularity="MONTHLY",
            Filter=tag_filter(env),
        )
        forecast = float(fc["Total"]["Amount"])
    return Spend(
        first.isoformat(),
        nxt.isoformat(),
        float(amount["Amount"]),
        forecast,
        amount.get("Unit", "USD"),
        target.grade("aws") if target is not None else "",
    )


def _cannot_tell(exc: Exception) -> str:
    """The reason Cost Explorer cannot answer yet ('' when the error is something else)."""
    if not isinstance(exc, botocore.exceptions.ClientError):
        return ""
    err = exc.response.get("Error", {})
    code, message = str(err.get("Code", "")), str(err.get("Message", ""))
    if code == "DataUnavailableException":
        return f"{code}: {message or 'no cost data yet (a new account or a new tag)'}"
    if code in ("AccessDeniedException", "AccessDenied") and any(m in message.lower() for m in NOT_ENABLED_MARKERS):
        return f"{code}: {message} (enable Cost Explorer in the Billing console once; data follows within 24 hours)"
    if code in ("AccessDeniedException", "AccessDenied", "UnrecognizedClientException"):
        return f"{code}: {message}"
    return ""


def _not_implemented(target, exc: botocore.exceptions.ClientError) -> str:
    """The endpoint's declared Cost Explorer gap, when it answered an error of its own (moto: HTTP 500)."""
    gap = target.gap("cost-explorer") if target is not None else None
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return gap if gap and (status == 500 or code in ("500", "NotImplemented", "InternalFailure")) else ""


def tag_status(ce, key: str) -> str:
    """The cost allocation tag's status ("Active", "Inactive", or "" when the account has never seen it)."""
    tags = ce.list_cost_allocation_tags(TagKeys=[key]).get("CostAllocationTags", [])
    return next((t.get("Status", "") for t in tags if t.get("TagKey") == key), "")


def spend_check(target, env: Environment, budget_usd: float, today: date | None = None, ce=None) -> Finding:
    """R2.5: the environment's month-to-date spend plus forecast within its budget; unverifiable with the
    reason when Cost Explorer cannot tell (not enabled, no data yet, the tag not active)."""
    subject = "monthly AWS spend (Cost Explorer) against the budget"
    g = target.grade("aws") if target is not None else ""
    ce = ce or client(target, "ce", region="us-east-1")
    key, value = cost_tag(env)
    try:
        status = tag_status(ce, key)
        if status != "Active":
            why = TAG_INACTIVE.format(key=key, status=status or "unknown to Cost Explorer")
            return unverifiable(subject, f"at most ${budget_usd:.2f} of {key}={value}", why, evidence=[why], grade=g)
        spend = month_to_date(target, env, today, ce)
    except botocore.exceptions.ClientError as exc:
        why = _cannot_tell(exc) or _not_implemented(target, exc)
        if not why:
            raise
        return unverifiable(subject, f"at most ${budget_usd:.2f} of {key}={value}", CANNOT_TELL.format(reason=why),
                            evidence=[CANNOT_TELL.format(reason=why)], grade=g)
    return judge(spend, budget_usd, f"{key}={value}")


def judge(spend: Spend, budget_usd: float, scope: str = "") -> Finding:
    """Month-to-date plus the forecast of the rest of the month must stay within the budget."""
    projected = spend.actual_usd + (spend.forecast_usd or 0.0)
    evidence = (
        f"month {spend.start}..{spend.end}: actual {spend.actual_usd:.2f} {spend.currency}",
        "forecast for the rest of the month: "
        + (f"{spend.forecast_usd:.2f} {spend.currency}" if spend.forecast_usd is not None else "none (last day)"),
        f"projected month: {projected:.2f} of a {budget_usd:.2f} budget",
        *([f"cost of the resources tagged {scope} only"] if scope else []),
    )
    subject = "monthly AWS spend (Cost Explorer) against the budget"
    if projected > budget_usd:
        return failed(subject, f"at most ${budget_usd:.2f}", f"${projected:.2f} projected", evidence, grade=spend.grade)
    return passed(subject, f"at most ${budget_usd:.2f}", f"${projected:.2f} projected", evidence, grade=spend.grade)
