"""The shared seeded-fault verdict and the wait helper."""
import pytest

from provision.findings import (
    Finding,
    WaitTimeout,
    caught,
    combine,
    failed,
    graded,
    passed,
    unverifiable,
    wait_until,
    weakest,
)

pytestmark = [pytest.mark.offline, pytest.mark.live, pytest.mark.unit]


def test_a_check_that_stayed_green_is_not_caught():
    f = caught(passed("limits", actual="all set"), "limits")
    assert not f.ok and "went unnoticed" in f.actual


def test_red_for_another_reason_is_not_caught():
    f = caught(failed("manifest check", actual="1 problem", evidence=["FAIL schema: bad kind"]), "limits")
    assert not f.ok and f.actual == "red, but naming something else"


def test_red_naming_the_fault_is_caught_and_shows_the_line():
    red = failed("manifest check", actual="1 problem", evidence=["ok probes", "FAIL web-app: no Limits"])
    f = caught(red, "limits")
    assert f.ok and "FAIL web-app: no Limits" in f.evidence


def test_case_sensitivity_and_only_failing_lines_count():
    red = failed("dns", actual="2 fail", evidence=["ok api. resolves", "FAIL app. points elsewhere"])
    assert not caught(red, "APP.", case_sensitive=True).ok
    assert not caught(red, "api.").ok  # named only in a passing line: not what went red
    assert caught(red, "app.").ok and caught(red, "APP.").ok


def test_unmarked_evidence_does_not_count_only_the_actual_value_does():
    red = failed("irsa", actual="web-app trusts ns other", evidence=["api-backend: trusted in cloudtolocalllm"])
    assert caught(red, "web-app").ok and not caught(red, "api-backend").ok


def test_wait_until_raises_with_the_last_finding():
    with pytest.raises(WaitTimeout) as exc:
        wait_until("pods Ready", lambda: failed("pods", "2 ready", "1 ready"), timeout=0.05, interval=0.01)
    assert "waiting for pods Ready" in str(exc.value) and "got 1 ready" in str(exc.value)


def test_an_unverifiable_finding_is_never_passed():
    f = unverifiable("node group", "2 nodes", "moto does not model node groups", grade="emulated")
    assert not f and not f.ok and f.status == "unverifiable" and f.line().startswith("N/V")
    assert f.as_dict()["ok"] is False and f.as_dict()["status"] == "unverifiable"


def test_an_unverifiable_finding_is_not_caught():
    f = caught(unverifiable("kms", actual="could not read the key"), "kms")
    assert not f.ok and f.actual.startswith("unverifiable")


def test_wait_until_does_not_accept_unverifiable():
    with pytest.raises(WaitTimeout):
        wait_until("kms", lambda: unverifiable("kms", actual="not visible"), timeout=0.03, interval=0.01)


def test_a_bool_reads_as_passed_or_failed_and_a_bad_status_or_grade_is_refused():
    assert Finding(True, "x").status == "passed" and Finding(False, "x").status == "failed"
    with pytest.raises(ValueError):
        Finding("maybe", "x")
    with pytest.raises(ValueError):
        Finding(True, "x", grade="hearsay")


def test_combine_fails_before_it_is_unverifiable_and_takes_the_weakest_grade():
    ok, bad, nv = passed("a", grade="real"), failed("b", grade="static"), unverifiable("c", grade="emulated")
    assert combine("all", [ok, nv]).status == "unverifiable"
    assert combine("all", [ok, nv, bad]).status == "failed"
    assert combine("all", [ok]).status == "passed"
    assert combine("all", [ok, bad]).grade == "static" and combine("all", [ok, nv]).grade == "emulated"
    assert weakest(["", "model", "real"]) == "model" and weakest([]) == ""


def test_graded_fills_only_a_missing_grade():
    @graded("static")
    def probe(grade=""):
        return passed("p", grade=grade)

    assert probe().grade == "static" and probe("real").grade == "real" and probe.__name__ == "probe"
