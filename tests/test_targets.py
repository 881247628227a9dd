"""Target selection: the live target refuses to start without its settings."""
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings

from harness import oracles
from provision import config, errors
from provision.report import outcomes, results

pytestmark = [pytest.mark.offline, pytest.mark.unit]


def test_live_target_names_the_first_missing_setting():
    with pytest.raises(errors.TargetUnavailable) as exc:
        config.live_target({"KUBECONFIG": "/k"})
    assert str(exc.value) == errors.MISSING_SETTING.format(
        name="CLOUDFLARE_API_TOKEN", how=config.LIVE_REQUIRED["CLOUDFLARE_API_TOKEN"])


def test_live_target_keeps_the_token_out_of_its_repr():
    t = config.live_target({"KUBECONFIG": "/k", "CLOUDFLARE_API_TOKEN": "tok-123-secret", "CLOUDFLARE_ZONE_ID": "z"})
    assert "tok-123-secret" not in repr(t)
    assert t.cloudflare_token == "tok-123-secret"


def test_pytest_on_live_without_settings_refuses_with_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in config.LIVE_REQUIRED}
    proc = subprocess.run([sys.executable, "-m", "pytest", "--target", "live", "-m", "live", "-q",
                           "-p", "no:cacheprovider", "tests/test_catalog.py"],
                          cwd=config.ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "live target: missing setting KUBECONFIG" in proc.stderr
    assert "passed" not in proc.stdout  # no half run


@pytest.mark.parametrize("args, expected", [
    (("call", "passed", None, ""), outcomes.PASSED),
    (("call", "failed", None, ""), outcomes.FAILED),
    (("setup", "skipped", None, "not verifiable on the offline target: x"), outcomes.NOT_VERIFIABLE),
    (("call", "skipped", "not implemented: no step", ""), outcomes.NOT_IMPLEMENTED),
    (("setup", "skipped", None, "some other reason"), outcomes.SKIPPED),
    (("call", "skipped", "flaky", ""), outcomes.FAILED),
])
def test_pytest_outcomes_map_to_report_outcomes(args, expected):
    assert results.classify(*args)[0] == expected


@pytest.mark.parametrize("tag", ["latest", "abc123", "A" * 40, "g" * 40, "0" * 39, "0" * 41, "", None,
                                 "0" * 40 + "\n", "0" * 40 + " ", " " + "0" * 39, "\u0660" * 40, "0" * 39 + "\uff10"])
def test_malformed_image_tags_are_bad_input(tag):
    with pytest.raises(errors.BadInput) as exc:
        config.validate_image_tag(tag)
    assert str(exc.value) == errors.INVALID_IMAGE_TAG.format(tag=tag)


def test_unknown_environment_is_bad_input():
    with pytest.raises(errors.BadInput) as exc:
        config.environment("staging")
    assert str(exc.value) == "unknown environment 'staging': expected one of dev, prod"


def test_kind_backend_without_docker_refuses_with_one_line():
    from provision.local import kind

    try:
        kind.preflight()
    except errors.TargetUnavailable:
        pass
    else:
        pytest.skip("not verifiable on the offline target: a Docker engine runs here, so the refusal cannot be shown")
    proc = subprocess.run([sys.executable, "-m", "pytest", "--cluster", "kind", "-q", "-p", "no:cacheprovider",
                           "tests/test_catalog.py"], cwd=config.ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 4
    assert "--cluster kind needs a running Docker engine" in proc.stderr


def test_a_sha_followed_by_a_newline_is_not_a_sha():
    """The validator once used re.match with `$`, which matches before a final newline."""
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert config.validate_image_tag(sha) == sha
    with pytest.raises(errors.BadInput):
        config.validate_image_tag(sha + "\n")


@settings(max_examples=300, deadline=None)
@given(tag=oracles.tag_strategy())
def test_the_validator_accepts_exactly_what_the_independent_oracle_calls_a_sha(tag):
    if oracles.is_sha(tag):
        assert config.validate_image_tag(tag) == tag
    else:
        with pytest.raises(errors.BadInput):
            config.validate_image_tag(tag)


def test_the_offline_target_declares_the_kwok_pods_gap():
    """kwok runs no container and no probe: the offline target names that gap, and every pod Finding carries it."""
    from provision.local import stack

    t = stack.target({"components": {}})
    assert t.grade("pods") == "emulated"
    if t.gap(oracles.POD_GAP) is None:
        pytest.xfail(f"the offline target does not declare the gap {oracles.POD_GAP!r} yet (provision/local/stack.py)")
    f = oracles.about_pods(t, config_finding())
    assert t.gap(oracles.POD_GAP) in f.gaps and f.grade == "emulated"


def test_pod_findings_carry_the_targets_pod_gap_and_grade():
    t = config.Target(name="t", region="r", account_id="1", grades={"pods": "emulated"},
                      gaps={oracles.POD_GAP: "kwok runs no container"})
    f = oracles.about_pods(t, config_finding())
    assert f.gaps == ("kwok runs no container",) and f.grade == "emulated"
    live = oracles.about_pods(config.Target(name="live", region="r", account_id="1"), config_finding())
    assert live.gaps == () and live.grade == "real"


def config_finding():
    from provision.findings import passed

    return passed("pods of deployment/web-app", "Ready", "1/1", grade="real")


def test_a_live_run_holds_the_nightly_environment_only_and_says_so_for_another():
    t = config.live_target({"KUBECONFIG": "/k", "CLOUDFLARE_API_TOKEN": "t", "CLOUDFLARE_ZONE_ID": "z"})
    nightly = config.settings()["github"]["nightly_environment"]
    others = [e for e in config.environments() if e != nightly]
    assert t.environment == nightly and t.not_held(nightly) is None
    assert others and all(f"holds the {nightly} environment's roles only" in t.not_held(e) for e in others)
    # the offline target may act on every environment (each test its own copy)
    assert t.with_(environment="").not_held(others[0]) is None
