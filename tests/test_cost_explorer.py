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
