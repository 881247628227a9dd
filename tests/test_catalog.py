"""Traceability meta-test: every ID has a scenario; scenarios cite known IDs and a target."""
import pytest

from provision.report import catalog

pytestmark = [pytest.mark.offline, pytest.mark.live, pytest.mark.unit]


def test_every_catalog_id_has_a_scenario_and_every_scenario_is_traceable():
    assert catalog.problems() == []


def test_catalog_has_all_sixty_ids():
    ids = list(catalog.catalog())
    assert len(ids) == 60
    assert ids[0] == "R1.1" and ids[49] == "R10.5" and ids[-1] == "P10"


@pytest.mark.parametrize("tags, expected", [
    (("R99.1", "offline"), "cites unknown ID @R99.1"),
    (("offline",), "cites no catalog ID"),
    (("R1.1",), "has no target tag"),
])
def test_meta_test_catches_each_traceability_fault(tags, expected):
    bad = catalog.Scenario("x.feature", "seeded", tags, 1)
    found = catalog.problems(scs=catalog.scenarios() + [bad])
    assert any(expected in p for p in found), found


def test_meta_test_catches_an_id_without_scenario():
    cat = {**catalog.catalog(), "R11.1": "seeded requirement with no scenario"}
    assert "R11.1: no scenario cites it" in catalog.problems(cat=cat)
