"""Target selection: the live target refuses to start without its settings."""
import os
import subprocess
import sys

import pytest

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


@pytest.mark.parametrize("tag", ["latest", "abc123", "A" * 40, "g" * 40, "0" * 39, "0" * 41, "", None])
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
