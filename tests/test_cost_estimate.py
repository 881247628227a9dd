"""Unit tests of the cost estimate (pinned price table, templates' parameters)."""
import pytest

from harness.faults import aws as faults
from provision import errors
from provision.config import Environment
from provision.cost import estimate

pytestmark = [pytest.mark.offline, pytest.mark.unit]


def test_dev_is_within_budget_and_every_line_is_dated():
    est = estimate.estimate(Environment.named("dev"))
    assert estimate.within_budget(est).ok
    assert estimate.lines_name_prices(est).ok
    assert all(est.date in line for line in est.report()[1:-1])


@pytest.mark.parametrize("fault", sorted(faults.COST_FAULTS))
def test_seeded_cost_faults_exceed_the_budget(fault):
    assert not estimate.within_budget(estimate.estimate(faults.cost_environment("dev", fault))).ok


def test_an_unpriced_instance_type_is_one_clear_error():
    env = Environment.named("dev", overrides={"node_instance_type": "x9.huge"})
    with pytest.raises(errors.BadInput) as exc:
        estimate.estimate(env)
    assert str(exc.value) == estimate.PRICE_MISSING.format(what="EC2 x9.huge", table="prices-us-east-1.yaml")


def test_estimate_follows_the_template_nat_count():
    one = estimate.estimate(Environment.named("dev"))
    two = estimate.estimate(Environment.named("dev", overrides={"nat_gateways": 2}))
    assert two.total > one.total
