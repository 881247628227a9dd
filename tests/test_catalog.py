"""Traceability meta-test: every ID has a scenario; scenarios cite known IDs and a target."""
import pytest

from provision.report import catalog

pytestmark = [pytest.mark.offline, pytest.mark.live, pytest.mark.unit]


def test_every_catalog_id_has_a_scenario_and_every_scenario_is_traceable():
    assert catalog.problems() == []


def test_catalog_has_all_sixty_ids_then_the_tasks():
    ids = list(catalog.catalog())
    assert len(ids) == 61 and ids[60:] == ["T18"]
    assert ids[0] == "R1.1" and ids[49] == "R10.5" and ids[59] == "P10"
    assert catalog.group_of("T18") == "T" and "T" in catalog.groups()


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


# ---- release grades (catalog `release:`) ---------------------------------------

def test_every_id_has_a_release_grade_on_valid_targets_where_its_scenarios_run():
    rel = catalog.release()
    assert list(rel) == list(catalog.catalog())
    assert catalog.release_problems() == []
    for id_, needs in rel.items():
        assert needs and set(needs) <= {"offline", "rehearsal", "live"}, id_
        assert set(needs.values()) <= {"real", "emulated", "static", "model"}, id_


def test_every_offline_scenario_id_needs_an_offline_grade():
    """An ID with offline scenarios always says what its offline run must reach."""
    for id_ in catalog.catalog():
        if any(id_ in s.ids and "offline" in s.targets for s in catalog.scenarios()):
            assert "offline" in catalog.release()[id_], id_


@pytest.mark.parametrize("change, expected", [
    (lambda rel: rel.pop("R1.2"), "R1.2: no release grade in the catalog"),
    (lambda rel: rel.update({"R99.1": {"offline": "real"}}), "release: unknown ID R99.1"),
    (lambda rel: rel["R1.1"].update({"staging": "real"}), "R1.1: release target 'staging' is not one of"),
    (lambda rel: rel["R1.1"].update({"offline": "gold"}), "R1.1: release grade 'gold' on offline is not one of"),
    (lambda rel: rel["R1.2"].update({"live": "real"}), "R1.2: release needs real on live, but no scenario of R1.2"),
    (lambda rel: rel.update({"R1.5": {}}), "R1.5: release names no target"),
])
def test_the_release_grade_check_catches_each_seeded_fault(change, expected):
    rel = {k: dict(v) for k, v in catalog.release().items()}
    change(rel)
    found = catalog.release_problems(rel)
    assert any(p.startswith(expected) for p in found), found


def test_release_grades_are_part_of_the_traceability_meta_test():
    cat = {**catalog.catalog(), "R11.1": "seeded requirement with no release grade"}
    assert "R11.1: no release grade in the catalog" in catalog.problems(cat=cat)


def test_requirement_groups_have_titles():
    groups = catalog.groups()
    assert {catalog.group_of(i) for i in catalog.catalog()} == set(groups)
    assert groups["R1"] == "Deploy on EKS" and catalog.group_of("R10.4") == "R10" and catalog.group_of("P7") == "P"
