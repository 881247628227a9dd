"""Steps of features/monitoring.feature."""
from pytest_bdd import given, parsers, scenarios, then

from provision import config
from provision.aws import faults, probes, stacks
from provision.findings import caught

scenarios("monitoring.feature")


from provision.cli import progress as _say  # noqa: E402


@given("the monitoring templates as committed", target_fixture="env")
def committed(target):
    return stacks.isolated(target, "dev")


@given(parsers.parse('the monitoring templates with the seeded fault "{fault}"'), target_fixture="env")
def seeded(tmp_path, fault):
    return stacks.resolve_env("dev", template_dir=faults.seeded_templates(fault, tmp_path))


@then("the Container Insights add-on is configured for the cluster")
def insights(target, env, check):
    check(probes.container_insights_live(target, env))


@then("the dashboard tracks cpu, memory, disk and network")
def tracks(env, check):
    check(probes.dashboard_tracks(probes.rendered(env, "monitoring")))


@then("every critical alarm notifies the alert topic")
def alarms(target, env, check):
    stacks.ensure_applied(target, env, _say)
    check(probes.alarms_live(target, env))


@then(parsers.parse('the monitoring check fails naming "{evidence}"'))
def monitoring_fails(env, record, check, evidence):
    check(caught(record(probes.monitoring_check(env)), evidence, case_sensitive=True))


@then("the application and control-plane log groups exist with a retention period")
def log_groups(target, env, check):
    check(probes.log_groups_live(target, env))


@then("the dashboard links the alarms to the log groups of the workloads")
def links(env, check):
    check(probes.dashboard_links(probes.rendered(env, "monitoring"), env.settings["cluster_name"],
                                 config.settings()["kubernetes"]["namespace"]))
