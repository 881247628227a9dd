"""Steps of features/monitoring.feature."""
from pytest_bdd import given, parsers, scenarios, then

from harness.faults import aws as faults
from provision.aws import account_checks, alerts, live_checks, monitoring_checks, stacks, template_checks
from provision.aws.cfn import parameters
from provision.config import Environment
from provision.findings import caught

scenarios("monitoring.feature")


from provision.cli import progress as _say  # noqa: E402


@given("the monitoring templates as committed", target_fixture="env")
def committed(aws_env):
    return aws_env("dev")


@given(parsers.parse('the monitoring templates with the seeded fault "{fault}"'), target_fixture="env")
def seeded(tmp_path, fault):
    return Environment.named("dev", template_dir=faults.seeded_templates(fault, tmp_path))


@then("the Container Insights add-on is configured for the cluster")
def insights(target, env, check):
    check(live_checks.container_insights_live(target, env))


@then("the Container Insights add-on is in the eks template")
def insights_template(env, check):
    check(template_checks.container_insights(parameters.rendered("eks", env)))


@then("the dashboard template tracks cpu, memory, disk and network")
def tracks(env, check):
    check(monitoring_checks.dashboard_tracks(parameters.rendered("monitoring", env)))


@then("every critical alarm notifies the alert topic")
def alarms(target, env, check):
    stacks.ensure_applied(target, env, _say)
    check(live_checks.alarms_live(target, env))


@then("every critical alarm of the template notifies the alert topic")
def alarms_template(env, check):
    check(monitoring_checks.alarms_notify(parameters.rendered("monitoring", env)))


@then(parsers.parse('the monitoring check fails naming "{evidence}"'))
def monitoring_fails(env, record, check, evidence):
    check(caught(record(monitoring_checks.monitoring_check(env)), evidence, case_sensitive=True))


@then("the application and control-plane log groups exist with a retention period")
def log_groups(target, env, check):
    check(live_checks.log_groups_live(target, env))


@then("the dashboard template links the alarms to the log groups of the workloads")
def links(target, env, check):
    check(monitoring_checks.dashboard_links(parameters.rendered("monitoring", env), env.cluster_name,
                                                 target.namespace))


@then("every log group a service creates itself is created by a stack applied before that service")
def service_groups_first(env, check):
    check(monitoring_checks.service_log_groups_first(env))


@then("every alarm of the monitoring template reads a metric and dimension set Container Insights publishes")
def alarm_metrics(env, check):
    check(monitoring_checks.alarm_metrics_published(parameters.rendered("monitoring", env)))


@then("the alert topic of the monitoring template has an e-mail subscription to the team's address")
def subscription_template(env, check):
    check(monitoring_checks.alert_subscription(parameters.rendered("monitoring", env), alerts.alert_email()))


@then("the alert topic has a confirmed subscription of the team's address")
def subscription_live(target, env, check):
    check(account_checks.subscription_live(target, env))
