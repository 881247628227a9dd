"""The strict ID rule and the release grades, on a saved result file (tests/data/results-strict.json).

An ID passes on a target only when none of its scenarios tagged for that target
failed, was skipped, not implemented or not run, and at least one passed; its
"not verifiable" scenarios are weaker links. Scenarios of the other target are
shown but do not count. Each case would pass under the old rule ("one pass and
no failure") and is refused here.
"""
import json
from pathlib import Path

import pytest

from provision.report import catalog, outcomes, signoff

pytestmark = [pytest.mark.offline, pytest.mark.live, pytest.mark.unit]

DATA = Path(__file__).parent / "data"
IDS = ("R2.1", "R2.2", "R2.3", "R2.4", "R2.5", "R3.1", "R3.2", "R3.3", "R3.4")
CAT = {i: f"text of {i}" for i in IDS}


def saved() -> dict:
    return json.loads((DATA / "results-strict.json").read_text())


def scenarios_of(data: dict) -> list[catalog.Scenario]:
    scs = [catalog.Scenario("s.feature", t["scenario"], tuple(t["tags"]), n) for n, t in enumerate(data["tests"])]
    # tagged for this target, but not in the results: never ran
    return scs + [catalog.Scenario("s.feature", "r34 never ran", ("R3.4", "offline"), 99),
                  catalog.Scenario("s.feature", "r34 passes", ("R3.4", "offline"), 100)]


def report(data: dict | None = None, release: dict | None = None) -> signoff.Report:
    data = saved() if data is None else data
    r34 = {"nodeid": "x::r34", "scenario": "r34 passes", "tags": ["R3.4", "offline"]}
    data["tests"].append({**data["tests"][0], **r34})
    return signoff.build(data, CAT, scenarios_of(data), release or {})


def rows(rep: signoff.Report) -> dict[str, signoff.IdRow]:
    return {r.id: r for r in rep.rows}


def reason_of(rep: signoff.Report, id_: str) -> str:
    mine = [r for r in rep.reasons if r.startswith(id_ + " ")]
    assert len(mine) == 1, rep.reasons
    return mine[0]


def test_a_pass_beside_a_not_implemented_scenario_is_refused_naming_both():
    rep = report()
    assert rows(rep)["R2.1"].outcome == outcomes.NOT_IMPLEMENTED
    why = reason_of(rep, "R2.1")
    assert why == ("R2.1 not implemented: 'r21 todo' (s.feature) not implemented: no step definition for "
                   "'Then the nodes scale'")
    assert rep.verdict == signoff.REFUSED


def test_a_pass_beside_unverifiable_scenarios_passes_with_the_weaker_links_shown():
    rep = report()
    r = rows(rep)["R2.3"]
    assert r.outcome == outcomes.PASSED and r.signed
    assert not [x for x in rep.reasons if x.startswith("R2.3 ")]
    # the failed test whose deciding Finding is unverifiable lands in "not verifiable", with the subject
    sc = {s.name: s for s in r.scenarios}
    assert sc["r23 stopped by an unverifiable probe"].outcome == outcomes.NOT_VERIFIABLE
    assert sc["r23 stopped by an unverifiable probe"].reasons[0] == (
        "not verifiable on the offline target: drift of the node group (moto cannot detect drift)")
    assert r.weaker == [
        "'r23 stopped by an unverifiable probe' (s.feature) not verifiable on the offline target: "
        "drift of the node group (moto cannot detect drift)",
        "'r23 skipped by check()' (s.feature) not verifiable on this target: N/V  alarm actions: "
        "expected SNS, got moto ignores AWS::CloudWatch::Alarm",
    ]
    md, page = signoff.to_markdown(rep), signoff.to_html(rep)
    assert "- R2.3: 'r23 stopped by an unverifiable probe' (s.feature) not verifiable on the offline target" in md
    assert "weaker link: &#x27;r23 skipped by check()&#x27;" in page


@pytest.mark.parametrize("id_, outcome, why", [
    ("R2.2", outcomes.SKIPPED, "'r22 skipped' (s.feature) skipped: no cluster autoscaler binary here"),  # beside a pass
    ("R2.4", outcomes.NOT_VERIFIABLE, "no scenario of R2.4 passed on the offline target"),  # only not verifiable
    ("R2.5", outcomes.FAILED, "'r25 fails' (s.feature) failed"),  # beside a pass
], ids=["a pass beside a skipped one", "only not verifiable", "a pass beside a failed one"])
def test_the_id_is_refused_naming_the_scenario_and_why(id_, outcome, why):
    rep = report()
    assert rows(rep)[id_].outcome == outcome and not rows(rep)[id_].signed
    assert why in reason_of(rep, id_)


def test_a_scenario_of_the_other_target_is_shown_but_does_not_count():
    r = rows(report())["R3.1"]
    live = {s.name: s for s in r.scenarios}["r31 live only"]
    assert not live.counted and "not counted" in live.label()
    assert r.outcome == outcomes.PASSED and r.weaker == []


def test_a_scenario_tagged_for_the_target_that_never_ran_refuses():
    rep = report()
    assert rows(rep)["R3.4"].outcome == outcomes.NOT_RUN
    assert "'r34 never ran' (s.feature) not run: not selected in this run (@offline)" in reason_of(rep, "R3.4")


def test_sign_off_only_when_every_id_passes_under_the_strict_rule():
    data = saved()
    keep = {"r23 passes", "r23 stopped by an unverifiable probe", "r23 skipped by check()", "r31 passes",
            "r31 live only"}
    data["tests"] = [t for t in data["tests"] if t["scenario"] in keep]
    scs = [catalog.Scenario("s.feature", t["scenario"], tuple(t["tags"]), n) for n, t in enumerate(data["tests"])]
    rep = signoff.build(data, {"R2.3": "x", "R3.1": "y"}, scs, {})
    assert rep.verdict == signoff.SIGNOFF and rep.reasons == []
    assert rep.counts["with_weaker_links"] == ["R2.3"]


# ---- evidence grades and the release grades ---------------------------------

def test_each_id_reaches_the_strongest_grade_of_its_passing_scenarios():
    got = {i: r.grade for i, r in rows(report()).items()}
    assert got["R2.3"] == "real"  # the unverifiable scenario's emulated pass does not count
    assert got["R3.1"] == "emulated" and got["R3.2"] == "static"
    assert got["R2.4"] == ""


def test_an_id_passed_on_static_evidence_is_never_shown_as_plainly_passed():
    rep = report()
    r = rows(rep)["R3.2"]
    assert r.label() == "passed on static evidence only"
    assert "| R3.2 | passed on static evidence only |" in signoff.to_markdown(rep)
    assert "<td>passed on static evidence only</td>" in signoff.to_html(rep)
    assert rows(report())["R3.1"].label() == "passed"


def test_below_the_release_grade_on_this_target_refuses_the_id():
    rep = report(release={"R3.3": {"offline": "real", "live": "real"}})
    r = rows(rep)["R3.3"]
    assert r.outcome == outcomes.PASSED and r.meets is False and not r.signed
    assert reason_of(rep, "R3.3") == ("R3.3 passed, below the release grade (real on offline): passed on emulated "
                                      "evidence; the release needs real on the offline target")
    assert r.needs_elsewhere() == ["needs real on live"]


def test_needs_of_other_targets_are_shown_and_refuse_nothing_here():
    data = saved()
    data["tests"] = [t for t in data["tests"] if t["scenario"] == "r33 emulated"]
    scs = [catalog.Scenario("s.feature", "r33 emulated", ("R3.3", "offline", "live"), 1)]
    rep = signoff.build(data, {"R3.3": "x"}, scs, {"R3.3": {"offline": "emulated", "rehearsal": "real",
                                                             "live": "real"}})
    assert rep.verdict == signoff.SIGNOFF
    assert "needs real on rehearsal; needs real on live" in signoff.to_markdown(rep)
    so = rep.as_dict()["ids"][0]
    assert (so["grade"], so["need"], so["meets_need"], so["signed"]) == ("emulated", "emulated", True, True)


def test_signoff_json_keeps_its_keys_and_adds_the_new_ones():
    d = report().as_dict()
    assert {"run", "verdict", "reasons", "counts", "gaps", "ids"} <= set(d)
    assert (d["kind"], d["target"], d["rule"]) == ("run", "offline", "strict")
    row = d["ids"][0]
    assert {"id", "text", "outcome", "scenarios", "grade", "need", "meets_need", "release", "weaker_links", "why",
            "label", "signed"} <= set(row)
    assert {"feature", "name", "outcome", "grade", "counted"} <= set(row["scenarios"][0])


def test_an_offline_report_never_calls_itself_a_release_sign_off():
    rep = report()
    md, page = signoff.to_markdown(rep), signoff.to_html(rep)
    assert md.startswith("# Offline run sign-off: **REFUSED**")
    assert "Release sign-off" not in md and "Release sign-off" not in page
    line = ("a release sign-off combines the offline, rehearsal and live runs of one commit "
            "(`provision signoff release`)")
    assert line in md
    assert "Offline run sign-off: REFUSED</p>" in page


def test_the_real_catalog_grades_reach_the_report():
    rep = signoff.build({"run": {"target": "offline"}, "tests": []})
    r = rows(rep)["R1.1"]
    assert r.need == catalog.release()["R1.1"]["offline"] and r.release == catalog.release()["R1.1"]


def test_an_id_the_release_does_not_need_from_this_target_is_reported_and_refuses_nothing():
    data = saved()
    data["tests"] = [t for t in data["tests"] if t["scenario"] == "r33 emulated"]
    scs = [catalog.Scenario("s.feature", "r33 emulated", ("R3.3", "offline"), 1),
           catalog.Scenario("s.feature", "r32 live only", ("R3.2", "live"), 2)]
    rep = signoff.build(data, {"R3.3": "x", "R3.2": "y"}, scs,
                        {"R3.3": {"offline": "emulated"}, "R3.2": {"live": "static"}})
    r = rows(rep)["R3.2"]
    assert (r.outcome, r.required, r.refuses, r.signed) == (outcomes.NOT_RUN, False, False, False)
    assert r.label() == "not run (not required on offline)"
    assert rep.verdict == signoff.SIGNOFF and rep.counts["required_ids"] == 1
    assert "the release needs 1 of them from this target: 1 signed off" in signoff.to_markdown(rep)


def test_a_failed_scenario_refuses_even_where_the_release_does_not_need_the_id():
    data = saved()
    data["tests"] = [t for t in data["tests"] if t["scenario"] in ("r33 emulated", "r25 fails")]
    scs = [catalog.Scenario("s.feature", t["scenario"], tuple(t["tags"]), n) for n, t in enumerate(data["tests"])]
    ids = sorted({i for s in scs for i in s.ids})
    assert "R2.5" in ids
    rep = signoff.build(data, {i: i for i in ids}, scs, {i: {"live": "real"} for i in ids})
    r = rows(rep)["R2.5"]
    assert r.outcome == outcomes.FAILED and not r.required and r.refuses
    assert rep.verdict == signoff.REFUSED
