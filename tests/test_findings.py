"""The shared seeded-fault verdict and the wait helper."""
import pytest

from provision.findings import WaitTimeout, caught, failed, passed, wait_until

pytestmark = [pytest.mark.offline, pytest.mark.live, pytest.mark.unit]


def test_a_check_that_stayed_green_is_not_caught():
    f = caught(passed("limits", actual="all set"), "limits")
    assert not f.ok and "went unnoticed" in f.actual


def test_red_for_another_reason_is_not_caught():
    f = caught(failed("manifest check", actual="1 problem", evidence=["FAIL schema: bad kind"]), "limits")
    assert not f.ok and f.actual == "red, but naming something else"


def test_red_naming_the_fault_is_caught_and_shows_the_line():
    f = caught(failed("manifest check", actual="1 problem", evidence=["ok probes", "FAIL web-app: no Limits"]), "limits")
    assert f.ok and "FAIL web-app: no Limits" in f.evidence


def test_case_sensitivity_and_failing_lines_only():
    red = failed("dns", actual="2 fail", evidence=["ok api. resolves", "FAIL app. points elsewhere"])
    assert not caught(red, "LIMITS", case_sensitive=True).ok
    assert caught(red, "api.").ok
    assert not caught(red, "api.", failing_lines_only=True).ok
    assert caught(red, "app.", failing_lines_only=True).ok


def test_wait_until_raises_with_the_last_finding():
    with pytest.raises(WaitTimeout) as exc:
        wait_until("pods Ready", lambda: failed("pods", "2 ready", "1 ready"), timeout=0.05, interval=0.01)
    assert "waiting for pods Ready" in str(exc.value) and "got 1 ready" in str(exc.value)
