"""Steps of features/manifests.feature."""
from pytest_bdd import given, parsers, scenarios, then

from provision import config
from provision.check import commands as check_commands
from provision.findings import caught
from provision.kube import checks, render, schema, secret_scan

scenarios("manifests.feature")


@given(parsers.parse("the {env} overlay rendered with kustomize as if it were {other}"))
def swapped(env, other, rendered):
    rendered[other] = render.render(env)


@given("the repository's tracked files", target_fixture="repo")
def tracked_files():
    return {"root": config.ROOT, "files": secret_scan.repository_files(config.ROOT)}


@given(parsers.parse('a seeded tracked file holding a Secret "{name}" with stringData'), target_fixture="repo")
def seeded_secret_file(name, repo, tmp_path):
    # The seeded file lives in tmp_path; the scan sees it as one more tracked file.
    (tmp_path / "seeded-secret.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\nstringData:\n  jwt-secret: seeded\n")
    return {"root": tmp_path, "files": ["seeded-secret.yaml"]}


@then("every object validates against the schema of the pinned Kubernetes version")
def schema_valid(objects, check):
    check(schema.check_schema(objects))


@then("the workloads web-app, api-backend and postgres are defined")
def workloads_defined(objects, check):
    check(checks.check_workloads_defined(objects))


@then("no object uses an AWS-only kind where Kubernetes has a standard")
def portable(objects, check):
    check(checks.check_portable(objects))


@then("the rendered manifests pass every static check")
def static_ok(objects, check):
    check(checks.check_static(objects))


@then("every container declares cpu and memory requests and limits")
def limits(objects, check):
    check(checks.check_resources(objects))


@then(parsers.parse('the manifest check fails naming "{evidence}"'))
def static_fails(objects, evidence, check, record):
    check(caught(record(checks.check_static(objects)), evidence))


@then("every app container image comes from the Docker Hub repositories of the settings")
def image_sources(objects, check):
    check(checks.check_image_sources(objects))


@then("dev has fewer replicas and smaller resources than prod")
def dev_smaller(rendered, check):
    check(checks.check_dev_smaller(rendered["dev"], rendered["prod"]))


@then("prod has a PodDisruptionBudget and a HorizontalPodAutoscaler for every serving workload")
def prod_ha(rendered, check):
    check(checks.check_prod_ha(rendered["prod"]))


@then(parsers.parse('the size check fails naming "{evidence}"'))
def size_fails(rendered, evidence, check, record):
    check(caught(record(checks.check_dev_smaller(rendered["dev"], rendered["prod"])), evidence))


@then("no tracked file holds a secret value for app-secrets")
def no_secrets(repo, check):
    check(secret_scan.check_no_secrets_in_files(repo["root"], repo["files"]))


@then(parsers.parse('the secret scan fails naming "{evidence}"'))
def scan_fails(repo, evidence, check, record):
    check(caught(record(secret_scan.check_no_secrets_in_files(repo["root"], repo["files"])), evidence))


@then("the workloads read app-secrets through secretKeyRef or envFrom")
def secret_refs(check):
    for env in config.environments():
        check(checks.check_secret_refs(render.render(env)))


@given(parsers.parse('the {env} cluster overlay with the seeded fault "{fault}"'), target_fixture="cluster")
def seeded_cluster(env, fault, tmp_path):
    from harness.faults import manifests as manifest_faults

    return render.render_dir(manifest_faults.seed_cluster_fault(fault, env, tmp_path))


@then("the cluster overlay installs the controller of every Ingress's class, pinned to settings' versions")
def ingress_class_installed(objects, check):
    cluster = render.render_cluster("dev")
    check(checks.check_ingress_class_installed(objects, cluster))
    check(checks.check_pinned_versions(cluster))


@then("each cluster overlay installs the AWS Load Balancer Controller for its cluster, which handles its NLB Service")
def lb_controller_installed(check):
    from provision.kube import aws_lb

    for env in config.environments():
        cluster = render.render_cluster(env)
        check(aws_lb.check_controller_installed(cluster, env))
        check(aws_lb.check_services_handled(cluster))


@then(parsers.parse('the ingress class check fails naming "{evidence}"'))
def ingress_class_fails(objects, cluster, evidence, check, record):
    check(caught(record(checks.check_ingress_class_installed(objects, cluster)), evidence))


@given("the repository's manifests, workflows and templates", target_fixture="check_issues")
def repository_checked():
    return check_commands.check()   # no path: this repository's inputs, its settings' policy rules on


@then("provision check reports no finding on them")
def check_clean(check_issues, check):
    check(check_commands.finding(check_issues))
