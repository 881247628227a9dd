"""Unit tests of the cost estimate (pinned price table, templates' parameters)."""
import pytest

from provision import errors
from provision.cost import estimate

pytestmark = [pytest.mark.offline, pytest.mark.unit]


def test_dev_is_within_budget_and_every_line_is_dated():
    est = estimate.estimate(estimate.environment("dev"))
    assert estimate.within_budget(est).ok
    assert estimate.lines_name_prices(est).ok
    assert all(est.date in line for line in est.report()[1:-1])


@pytest.mark.parametrize("fault", sorted(estimate.COST_FAULTS))
def test_seeded_cost_faults_exceed_the_budget(fault):
    assert not estimate.within_budget(estimate.estimate(estimate.environment("dev", fault))).ok


def test_an_unpriced_instance_type_is_one_clear_error():
    env = {**estimate.environment("dev"), "node_instance_type": "x9.huge"}
    with pytest.raises(errors.BadInput) as exc:
        estimate.estimate(env)
    assert str(exc.value) == estimate.PRICE_MISSING.format(what="EC2 x9.huge", table="prices-us-east-1.yaml")


def test_estimate_follows_the_template_nat_count():
    one = estimate.estimate(estimate.environment("dev"))
    two = estimate.estimate({**estimate.environment("dev"), "nat_gateways": 2})
    assert two.total > one.total
