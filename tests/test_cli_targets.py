"""The one place the CLI builds a Target from (provision.targets)."""
import pytest

from provision import errors, targets

pytestmark = [pytest.mark.offline, pytest.mark.live, pytest.mark.unit]


def test_environment_target_reads_the_endpoints_every_tool_reads():
    env = {"KUBECONFIG": "/k", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_REGION": "eu-west-1"}
    t = targets.from_environment(env)
    assert (t.kubeconfig, t.aws_endpoint_url, t.region) == ("/k", "http://127.0.0.1:5000", "eu-west-1")
    assert t.namespace and t.domains


def test_environment_target_without_kubeconfig_is_unavailable_when_the_command_needs_one():
    assert targets.from_environment({}).kubeconfig is None
    with pytest.raises(errors.TargetUnavailable, match="KUBECONFIG is not set"):
        targets.from_environment({}, need_kube=True)


def test_offline_target_that_is_not_running_is_one_line_and_exit_4(tmp_path):
    with pytest.raises(errors.TargetUnavailable) as exc:
        targets.offline(tmp_path, environ={})
    assert str(exc.value) == targets.OFFLINE_NOT_RUNNING.format(dir=tmp_path) and exc.value.exit_code == 4


def test_unknown_kind_is_bad_input():
    with pytest.raises(errors.BadInput):
        targets.for_cli("staging")
