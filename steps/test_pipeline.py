"""Steps of features/pipeline.feature: static checks of .github/workflows (provision.ci)."""
from pytest_bdd import given, parsers, scenarios, then

from provision.ci import lint
from provision.ci import workflows as wfs

scenarios("pipeline.feature")


def _quoted(text: str) -> str:
    return text


_quoted.pattern = r'[^"]+'  # a quoted name, so the two "the workflow" steps never overlap
TYPES = {"Quoted": _quoted}


@given(parsers.parse('the workflow "{name:Quoted}"', extra_types=TYPES), target_fixture="workflow")
def the_workflow(name):
    return wfs.workflow(name)


@given(parsers.parse('the workflow "{name:Quoted}" with the seeded fault "{fault:Quoted}"', extra_types=TYPES),
       target_fixture="seeded")
def seeded_workflow(name, fault, tmp_path):
    return lint.seed(fault, tmp_path, name)


@given("the committed workflows", target_fixture="workflow_paths")
def committed_workflows():
    return [wf.path for wf in wfs.committed()]


@then("it requests id-token write and contents read only")
def oidc_permissions(workflow, check):
    check(wfs.permissions_exact(workflow, "deploy"))


@then("it configures AWS credentials from the deploy role through OIDC")
def oidc_role(workflow, check):
    check(wfs.oidc_credentials(workflow, "deploy", wfs.DEPLOY_ROLE_VAR))


@then("no workflow holds or prints an AWS access key")
def no_keys(check):
    check(wfs.static_aws_keys(wfs.committed()))


@then("it runs on pushes to main and on dispatch with an environment of settings.yaml")
def triggers(workflow, check):
    check(wfs.deploy_triggers(workflow))


@then("it builds and pushes the web and api images tagged with github.sha")
def image_tags(workflow, check):
    check(wfs.image_tags(workflow))


@then("it deploys with the same CLI command the suite tests, with github.sha as the image tag")
def deploy_command(workflow, check):
    check(wfs.deploy_command(workflow))


@then("its deploy job has a concurrency group per cluster with cancel-in-progress false")
def concurrency(workflow, check):
    check(wfs.concurrency_per_cluster(workflow))


@then("it writes the outcome to the job summary and alerts the developer on failure")
def summary(workflow, check):
    check(wfs.summary_and_alert(workflow))


@then(parsers.parse('the workflow check fails naming "{evidence}"'))
def check_fails(seeded, evidence, record, check):
    check(lint.caught(record(lint.check_workflows([seeded])), evidence))


@then("actionlint reports no problem")
def actionlint_clean(workflow_paths, check):
    check(lint.actionlint(workflow_paths))


@then("zizmor --offline reports no finding")
def zizmor_clean(workflow_paths, check):
    check(lint.zizmor(workflow_paths))


@then("every workflow follows the repository's own rules")
def own_rules(workflow_paths, check):
    check(wfs.merge("own rules of every committed workflow",
                    [f for p in workflow_paths for f in lint.own_checks(wfs.load(p))]))


@then("it runs pytest on the live target with the live marker")
def live_run(workflow, check):
    check(wfs.live_run(workflow))


@then("it uploads the reports directory and writes the sign-off summary")
def live_publish(workflow, check):
    check(wfs.live_publish(workflow))
