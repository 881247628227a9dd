"""The Cost Explorer verdict on saved figures (the live call itself runs nightly)."""
import pytest

from provision.cost import explorer

pytestmark = [pytest.mark.offline, pytest.mark.live, pytest.mark.unit]


def test_within_budget_passes_and_shows_the_figures():
    f = explorer.judge(explorer.Spend("2026-11-01", "2026-12-01", 120.5, 90.0), 300)
    assert f.ok and "projected month: 210.50 of a 300.00 budget" in f.evidence


def test_seeded_over_budget_forecast_turns_red():
    f = explorer.judge(explorer.Spend("2026-11-01", "2026-12-01", 250.0, 80.0), 300)
    assert not f.ok and f.actual == "$330.00 projected"


def test_last_day_has_no_forecast():
    f = explorer.judge(explorer.Spend("2026-11-01", "2026-12-01", 299.0, None), 300)
    assert f.ok and "none (last day)" in f.evidence[1]


def test_month_bounds():
    from datetime import date

    assert explorer._month(date(2026, 12, 31)) == (date(2026, 12, 1), date(2027, 1, 1))


# ---- the probe on a stubbed Cost Explorer: the environment's tag only; what it cannot tell is unverifiable

import botocore.exceptions  # noqa: E402

from provision.aws.monitoring_checks import cost_tag  # noqa: E402
from provision.config import Environment  # noqa: E402
from provision.findings import UNVERIFIABLE  # noqa: E402

ENV = Environment.named("dev")


def _error(code: str, message: str = "") -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": message or code}}, "Stub")


class CE:
    """A stub Cost Explorer client recording the filters it was asked for."""

    def __init__(self, cost="120.0", forecast="90.0", status="Active", fail=None):
        self.cost, self.forecast, self.status, self.fail, self.filters = cost, forecast, status, fail, []

    def list_cost_allocation_tags(self, TagKeys):
        if isinstance(self.fail, tuple) and self.fail[0] == "tags":
            raise self.fail[1]
        return {"CostAllocationTags": [{"TagKey": TagKeys[0], "Status": self.status}] if self.status else []}

    def get_cost_and_usage(self, **kw):
        if isinstance(self.fail, Exception):
            raise self.fail
        self.filters.append(kw.get("Filter"))
        return {"ResultsByTime": [{"Total": {"UnblendedCost": {"Amount": self.cost, "Unit": "USD"}}}]}

    def get_cost_forecast(self, **kw):
        self.filters.append(kw.get("Filter"))
        return {"Total": {"Amount": self.forecast}}


def test_spend_is_read_for_the_environments_tag_only():
    from datetime import date

    ce = CE()
    f = explorer.spend_check(None, ENV, 300, date(2026, 11, 10), ce)
    key, value = cost_tag(ENV)
    assert f.ok and f.actual == "$210.00 projected"
    assert ce.filters and all(x == {"Tags": {"Key": key, "Values": [value], "MatchOptions": ["EQUALS"]}}
                              for x in ce.filters)
    assert f"cost of the resources tagged {key}={value} only" in f.evidence


@pytest.mark.parametrize("fail, naming", [
    (_error("DataUnavailableException", "Data is not available"), "DataUnavailableException"),
    (_error("AccessDeniedException", "User not enabled for cost explorer access"), "not enabled for cost explorer"),
    (("tags", _error("AccessDeniedException", "not authorized to perform ce:ListCostAllocationTags")),
     "ce:ListCostAllocationTags"),
])
def test_cost_explorer_that_cannot_tell_is_unverifiable_with_the_reason(fail, naming):
    f = explorer.spend_check(None, ENV, 300, ce=CE(fail=fail))
    assert f.status == UNVERIFIABLE and naming in f.actual, f


@pytest.mark.parametrize("status", ["Inactive", ""])
def test_an_inactive_cost_allocation_tag_is_unverifiable(status):
    f = explorer.spend_check(None, ENV, 300, ce=CE(status=status))
    assert f.status == UNVERIFIABLE and "activate it" in f.actual


def test_an_over_budget_environment_is_red_and_other_errors_raise():
    assert not explorer.spend_check(None, ENV, 300, ce=CE(cost="280.0", forecast="80.0")).ok
    with pytest.raises(botocore.exceptions.ClientError):
        explorer.spend_check(None, ENV, 300, ce=CE(fail=_error("ValidationException")))


def test_an_endpoint_without_cost_explorer_is_unverifiable_naming_its_gap_and_only_where_it_declares_one():
    from provision.config import Target

    crash = botocore.exceptions.ClientError(
        {"Error": {"Code": "500", "Message": "<!doctype html>"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
        "ListCostAllocationTags")
    emulated = Target(name="x", region="us-east-1", account_id="1", gaps={"cost-explorer": "moto has no Cost Explorer"})
    f = explorer.spend_check(emulated, ENV, 300, ce=CE(fail=("tags", crash)))
    assert f.status == UNVERIFIABLE and "moto has no Cost Explorer" in f.actual
    live = Target(name="y", region="us-east-1", account_id="1")
    with pytest.raises(botocore.exceptions.ClientError):  # the real service's 500 is an error, not a gap
        explorer.spend_check(live, ENV, 300, ce=CE(fail=("tags", crash)))
