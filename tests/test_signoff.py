"""The sign-off builder on saved result files: every outcome, the verdict, both formats."""
import json
import shutil
from pathlib import Path

import pytest

from provision import cli, errors, findings
from provision.report import catalog, outcomes, signoff

pytestmark = [pytest.mark.offline, pytest.mark.live, pytest.mark.unit]

DATA = Path(__file__).parent / "data"
CAT = {"R1.1": "one", "R1.2": "two", "R1.3": "three", "R1.4": "four", "R1.5": "five", "R1.6": "six"}
SCS = [
    catalog.Scenario("a.feature", "passes", ("R1.1", "offline"), 1),
    catalog.Scenario("a.feature", "fails", ("R1.2", "offline"), 2),
    catalog.Scenario("a.feature", "outline", ("R1.3", "offline"), 3),
    catalog.Scenario("a.feature", "live only", ("R1.4", "live"), 4),
    catalog.Scenario("a.feature", "todo", ("R1.5", "offline"), 5),
    catalog.Scenario("a.feature", "never selected", ("R1.6", "live"), 6),
    # a second scenario of R1.1 that failed would make R1.1 fail: see below
]


def mixed():
    return json.loads((DATA / "results-mixed.json").read_text())


def test_each_id_gets_its_outcome():
    rep = signoff.build(mixed(), CAT, SCS)
    got = {r.id: r.outcome for r in rep.rows}
    assert got == {
        "R1.1": outcomes.PASSED,
        "R1.2": outcomes.FAILED,
        "R1.3": outcomes.FAILED,  # one failing example fails the outline
        "R1.4": outcomes.NOT_VERIFIABLE,
        "R1.5": outcomes.NOT_IMPLEMENTED,
        "R1.6": outcomes.NOT_RUN,
    }
    assert rep.verdict == signoff.REFUSED
    assert any("R1.2" in r and "failed" in r for r in rep.reasons)
    assert rep.gaps == ["moto's STS accepts any web-identity token"]


def test_a_failure_beside_a_pass_fails_the_id():
    scs = SCS + [catalog.Scenario("a.feature", "fails", ("R1.1", "offline"), 7)]
    rep = signoff.build(mixed(), CAT, scs)
    assert {r.id: r.outcome for r in rep.rows}["R1.1"] == outcomes.FAILED


def test_sign_off_only_when_every_id_passed():
    data = mixed()
    data["tests"] = [t for t in data["tests"] if t["scenario"] == "passes"]
    rep = signoff.build(data, {"R1.1": "one"}, SCS[:1])
    assert rep.verdict == signoff.SIGNOFF and rep.reasons == []
    rep = signoff.build(data, {"R1.1": "one", "R1.6": "six"}, [SCS[0], SCS[5]])
    assert rep.verdict == signoff.REFUSED


def test_markdown_and_html_carry_verdict_evidence_and_run_facts():
    rep = signoff.build(mixed(), CAT, SCS)
    md = signoff.to_markdown(rep)
    assert "# Offline run sign-off: **REFUSED**" in md
    assert "0123456789abcdef0123456789abcdef01234567" in md
    assert "`FAIL pods ready: expected 2 ready, got 1 ready`" in md
    assert "web-app-1: CrashLoopBackOff" in md
    assert "not verifiable on the offline target: live-only scenario" in md
    page = signoff.to_html(rep)
    assert page.startswith("<!doctype html>") and "REFUSED" in page
    # self-contained: no external assets
    for ref in ("<link", "<script src", "http://", "https://"):
        assert ref not in page


def test_html_escapes_untrusted_text():
    data = mixed()
    data["tests"][1]["findings"][0]["evidence"] = ["<script>alert(1)</script>"]
    page = signoff.to_html(signoff.build(data, CAT, SCS))
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_signoff_command_exits_3_on_refused_and_writes_files(tmp_path, capsys):
    run = tmp_path / "run-x"
    run.mkdir()
    shutil.copy(DATA / "results-mixed.json", run / "results.json")
    assert cli.main(["signoff", "build", str(run)]) == errors.EXIT_REFUSED
    assert (run / "signoff.md").exists() and (run / "signoff.html").exists()
    assert "sign-off refused" in capsys.readouterr().err


def test_signoff_command_on_a_missing_run_is_bad_input(tmp_path, capsys):
    assert cli.main(["signoff", "build", str(tmp_path / "nope")]) == errors.EXIT_USAGE
    assert "no results.json" in capsys.readouterr().err


def test_top_of_the_report_names_the_tools():
    rep = signoff.build(mixed(), CAT, SCS)
    top = signoff.to_markdown(rep).split("## ")[0]
    assert "- tools: python 3.11.7, pytest 9.2.0" in top
    assert "<li>tools: python 3.11.7, pytest 9.2.0</li>" in signoff.to_html(rep)


def graded_results():
    """Findings as the plugin saves them now: Finding.as_dict(), with status and grade."""
    data = mixed()
    data["tests"][0]["findings"] = [
        findings.passed("node group sized", "3", "3", grade="static").as_dict(),
        findings.passed("pods ready", "2", "2", grade="emulated").as_dict(),
        findings.unverifiable("drift", "no drift", "moto cannot detect drift", grade="emulated").as_dict(),
    ]
    data["tests"][1]["findings"][0].update(status="failed", grade="real")
    return data


def test_each_finding_shows_its_status_mark_and_grade():
    rep = signoff.build(graded_results(), CAT, SCS)
    md, page = signoff.to_markdown(rep), signoff.to_html(rep)
    for line in ("ok [static] node group sized: expected 3, got 3",
                 "N/V [emulated] drift: expected no drift, got moto cannot detect drift",
                 "FAIL [real] pods ready: expected 2 ready, got 1 ready"):
        assert f"`{line}`" in md
        assert line in page
    assert all(f["ok"] is (f["status"] == "passed") for f in graded_results()["tests"][0]["findings"])


def test_each_scenario_shows_its_strongest_grade():
    rep = signoff.build(graded_results(), CAT, SCS)
    rows = {s.name: s for r in rep.rows for s in r.scenarios}
    assert rows["passes"].grade == "emulated"  # emulated beats static
    assert rows["fails"].grade == "real"
    assert rows["todo"].grade == ""  # no graded finding: nothing claimed
    md, page = signoff.to_markdown(rep), signoff.to_html(rep)
    assert "- **passes** (a.feature): passed, evidence: emulated" in md
    assert "| R1.1 | passed | one | passes (a.feature): passed, evidence: emulated |" in md
    assert "fails (a.feature): failed, evidence: real</summary>" in page
    assert "- **todo** (a.feature): not implemented\n" in md


def test_results_without_status_still_read_as_ok_or_fail():
    md = signoff.to_markdown(signoff.build(mixed(), CAT, SCS))
    assert "`ok deploy role trust: expected main only, got main only`" in md
    assert "evidence:" not in md.split("## Evidence")[1].split("###")[1]


def test_grade_ranking():
    assert signoff.strongest(["model", "static", "", "emulated"]) == "emulated"
    assert signoff.strongest(["model", "real"]) == "real"
    assert signoff.strongest(["", "bogus"]) == ""
