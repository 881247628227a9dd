"""The one place the CLI builds a Target from (provision.targets)."""
import pytest

from provision import errors, targets

pytestmark = [pytest.mark.offline, pytest.mark.live, pytest.mark.unit]


def test_environment_target_reads_the_endpoints_every_tool_reads():
    env = {"KUBECONFIG": "/k", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_REGION": "eu-west-1"}
    t = targets.from_environment(env)
    assert (t.kubeconfig, t.aws_endpoint_url, t.region) == ("/k", "http://127.0.0.1:5000", "eu-west-1")
    assert t.namespace and t.domains


def test_environment_target_without_kubeconfig_is_unavailable_when_the_command_needs_one(tmp_path):
    home = {"HOME": str(tmp_path)}
    assert targets.from_environment(home).kubeconfig is None
    with pytest.raises(errors.TargetUnavailable, match="KUBECONFIG is not set and ~/.kube/config does not exist"):
        targets.from_environment(home, need_kube=True)


def test_without_kubeconfig_the_environment_target_reads_kube_config_in_home_as_kubectl_does(tmp_path):
    # where `aws eks update-kubeconfig` writes on a workflow runner (the deploy job sets no KUBECONFIG)
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("apiVersion: v1\nkind: Config\n")
    t = targets.from_environment({"HOME": str(tmp_path)}, need_kube=True)
    assert t.kubeconfig == str(tmp_path / ".kube" / "config")
    assert targets.from_environment({"HOME": str(tmp_path), "KUBECONFIG": "/a:/b"}).kubeconfig == "/a"


def test_offline_target_that_is_not_running_is_one_line_and_exit_4(tmp_path):
    with pytest.raises(errors.TargetUnavailable) as exc:
        targets.offline(tmp_path, environ={})
    assert str(exc.value) == targets.OFFLINE_NOT_RUNNING.format(dir=tmp_path) and exc.value.exit_code == 4


def test_unknown_kind_is_bad_input():
    with pytest.raises(errors.BadInput):
        targets.for_cli("staging")


def test_the_jobs_cloudflare_settings_come_from_the_environment():
    env = {"CLOUDFLARE_API_TOKEN": "tok", "CLOUDFLARE_ZONE_ID": "zone", "CLOUDFLARE_API_URL": "http://127.0.0.1:1/v4"}
    t = targets.from_environment(env)
    assert (str(t.cloudflare_token), t.cloudflare_zone, t.cloudflare_api) == ("tok", "zone", "http://127.0.0.1:1/v4")
    assert "tok" not in repr(t)  # the token never shows
    bare = targets.from_environment({"CLOUDFLARE_API_TOKEN": ""})  # an unset secret: nothing overridden
    assert str(bare.cloudflare_token) == "" and bare.cloudflare_api.startswith("https://api.cloudflare.com")


def test_the_rehearsal_closes_the_gaps_its_enforcement_point_and_controllers_close(tmp_path):
    from provision.local import stack

    offline, rehearsal = stack.gaps("offline"), stack.gaps("rehearsal")
    for key in stack.CLOSED_IN_REHEARSAL:
        assert key in offline and key not in rehearsal
    assert set(rehearsal) == set(offline) - set(stack.CLOSED_IN_REHEARSAL)


def test_a_stack_of_another_mode_or_an_unknown_mode_is_refused_and_nothing_starts(tmp_path):
    import json

    from provision.local import stack

    with pytest.raises(errors.BadInput, match="unknown stack mode 'strict'"):
        stack.up(tmp_path, progress=lambda m: None, mode="strict")
    (tmp_path / stack.STATE).write_text(json.dumps({"started": 0, "components": {"moto_server": {}},
                                                    "mode": "offline"}))
    with pytest.raises(errors.Refused) as exc:
        stack.up(tmp_path, progress=lambda m: None, mode="rehearsal")
    assert str(exc.value) == stack.MODE_MISMATCH.format(dir=tmp_path, have="offline", want="rehearsal")
    assert not list(tmp_path.glob("*.pid"))
