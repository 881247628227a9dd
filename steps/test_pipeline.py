"""Steps of features/pipeline.feature: static checks of .github/workflows (provision.ci)."""
from pytest_bdd import given, parsers, scenarios, then, when

from harness.faults import workflows as workflow_faults
from provision.ci import deploy_checks, lint, live_checks
from provision.ci import workflow_checks as checks
from provision.ci import workflow_model as model

scenarios("pipeline.feature")


def _quoted(text: str) -> str:
    return text


_quoted.pattern = r'[^"]+'  # a quoted name, so the two "the workflow" steps never overlap
TYPES = {"Quoted": _quoted}


@given(parsers.parse('the workflow "{name:Quoted}"', extra_types=TYPES), target_fixture="workflow")
def the_workflow(name):
    return model.workflow(name)


@given(parsers.parse('the workflow "{name:Quoted}" with the seeded fault "{fault:Quoted}"', extra_types=TYPES),
       target_fixture="seeded")
def seeded_workflow(name, fault, tmp_path):
    return workflow_faults.seed(fault, tmp_path, name)


@given("the committed workflows", target_fixture="workflow_paths")
def committed_workflows():
    return [wf.path for wf in model.committed()]


@then("it requests id-token write and contents read only")
def oidc_permissions(workflow, check):
    check(checks.permissions_exact(workflow, "deploy"))


@then("it configures AWS credentials from the deploy role through OIDC")
def oidc_role(workflow, check):
    check(checks.oidc_credentials(workflow, "deploy", checks.DEPLOY_ROLE_VAR))


@then("no workflow holds or prints an AWS access key")
def no_keys(check):
    check(checks.static_aws_keys(model.committed()))


@then("it runs on pushes to main and on dispatch with an environment of settings.yaml")
def triggers(workflow, check):
    check(deploy_checks.deploy_triggers(workflow))


@then("it builds and pushes the web and api images tagged with github.sha")
def image_tags(workflow, check):
    check(deploy_checks.image_tags(workflow))


@then("it deploys with the same CLI command the suite tests, with github.sha as the image tag")
def deploy_command(workflow, check):
    check(deploy_checks.deploy_command(workflow))


@then("its deploy job has a concurrency group per cluster with cancel-in-progress false")
def concurrency(workflow, check):
    check(deploy_checks.concurrency_per_cluster(workflow))


@then("it writes the outcome to the job summary and alerts the developer on failure")
def summary(workflow, check):
    check(deploy_checks.summary_and_alert(workflow))


@then(parsers.parse('the workflow check fails naming "{evidence}"'))
def check_fails(seeded, evidence, record, check):
    check(lint.caught(record(lint.check_workflows([seeded])), evidence))


@then(parsers.parse('the deploy trigger check fails naming "{evidence}"'))
def trigger_check_fails(seeded, evidence, record, check):
    check(lint.caught(record(deploy_checks.deploy_triggers(model.load(seeded))), evidence))


@then("actionlint reports no problem")
def actionlint_clean(workflow_paths, check):
    check(lint.actionlint(workflow_paths))


@then("zizmor --offline reports no finding")
def zizmor_clean(workflow_paths, check):
    check(lint.zizmor(workflow_paths))


@then("every workflow follows the repository's own rules")
def own_rules(workflow_paths, check):
    check(checks.merge("own rules of every committed workflow",
                    [f for p in workflow_paths for f in lint.own_checks(model.load(p))]))


@then("it runs pytest on the live target with the live marker")
def live_run(workflow, check):
    check(live_checks.live_run(workflow))


@then("it uploads the reports directory and writes the sign-off summary")
def live_publish(workflow, check):
    check(live_checks.live_publish(workflow))


@given(parsers.parse('the workflow "{name:Quoted}" with its image tag replaced by "{tag:Quoted}"', extra_types=TYPES),
       target_fixture="workflow")
def workflow_with_tag(name, tag):
    wf = model.workflow(name)
    text = wf.path.read_text().replace("IMAGE_TAG: ${{ github.sha }}", f"IMAGE_TAG: {tag}")
    return model.parse(text, name)


@when("its deploy job's provision steps run as written for a push of a new commit", target_fixture="job_run")
def job_runs(workflow, target):
    import secrets

    from provision import config
    from provision.ci import offline_run
    from provision.kube import app_secret, identity, render, volumes

    sha = secrets.token_hex(20)
    env = config.environment("dev")
    # What an operator did once for this cluster (docs/deployment-guide.md): its identity,
    # the secret source; offline also the volume no storage driver would provide.
    identity.bootstrap(target, env["cluster_name"])
    objs = render.prepare(render.render(env["name"]), sha, target.namespace)
    app_secret.seed_offline_source(target, "dev", app_secret.required_keys(objs))
    volumes.prebind(target, objs)
    runs, others = offline_run.run_job(workflow, "deploy", {**target.env(), "GITHUB_RUN_ID": "4242"},
                                       offline_run.context(sha), cluster=env["cluster_name"])
    return {"sha": sha, "runs": runs, "others": others}


@then("every step exits 0")
def every_step_ok(job_run, check):
    from provision.ci import offline_run

    check(offline_run.judge(job_run["runs"], job_run["others"]))


@then("the cluster runs that commit's images")
def cluster_runs_sha(job_run, target, check):
    from harness import kube as testing

    check(testing.runs_images(target, target.namespace, job_run["sha"]))


@then(parsers.parse('the run fails at the step "{name}"'))
def run_fails_at(job_run, name, record):
    from provision.ci import offline_run

    f = record(offline_run.judge(job_run["runs"], job_run["others"]))
    assert not f.ok and job_run["runs"][-1].name == name, f.line()
    assert job_run["runs"][-1].returncode == 2, job_run["runs"][-1].output
