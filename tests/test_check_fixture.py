"""The step-side verdict on a Finding (harness/check.py, behind the `check` fixture)."""
from types import SimpleNamespace

import pytest

from harness import check as checking
from provision.findings import failed, passed, unverifiable
from provision.report.outcomes import NOT_VERIFIABLE_PREFIX

pytestmark = [pytest.mark.offline, pytest.mark.live, pytest.mark.unit]


def node():
    return SimpleNamespace(user_properties=[])


def test_a_passed_finding_is_recorded_and_returned():
    n = node()
    f = passed("x", grade="real")
    assert checking.check(n, f) is f and n.user_properties[0][1]["status"] == "passed"


def test_an_unverifiable_finding_ends_the_scenario_as_not_verifiable_never_passed():
    n = node()
    with pytest.raises(pytest.skip.Exception) as exc:
        checking.check(n, unverifiable("kms key", "rotation on", "moto has no key rotation"))
    assert str(exc.value.msg).startswith(NOT_VERIFIABLE_PREFIX) and "moto has no key rotation" in exc.value.msg
    assert n.user_properties[0][1]["status"] == "unverifiable"


def test_a_failed_finding_fails_with_its_evidence():
    n = node()
    with pytest.raises(pytest.fail.Exception) as exc:
        checking.check(n, failed("pods", "2 ready", "1 ready", ["FAIL web-app-1 not ready"]))
    assert "FAIL web-app-1 not ready" in exc.value.msg
