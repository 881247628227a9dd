"""Steps of features/infrastructure.feature."""
from pytest_bdd import given, parsers, scenarios, then, when

from harness.faults import aws as faults
from provision import config
from provision.aws import audit, inventory, live_checks, stack_checks, stacks, template_checks
from provision.aws import gaps as target_gaps
from provision.aws.cfn import load, parameters
from provision.aws.cfn.lint import cfn_lint
from provision.config import Environment
from provision.findings import caught, unverifiable
from provision.report.results import commit_sha

scenarios("infrastructure.feature")


from provision.cli import progress as _say  # noqa: E402


@given(parsers.parse('the CloudFormation templates with the seeded fault "{fault}"'), target_fixture="env")
def seeded_templates(tmp_path, fault):
    return Environment.named("dev", template_dir=faults.seeded_templates(fault, tmp_path))


@when("the stacks are applied again", target_fixture="second")
def apply_again(target, env):
    before = stack_checks.snapshot(target, env)
    results = stacks.up(target, env, _say)
    return before, stack_checks.snapshot(target, env), results


@when("the stacks are torn down and applied again", target_fixture="recreated")
def recreate(target, env):
    before = inventory.inventory(target, env)
    gone = stacks.down(target, env, _say)
    again = stacks.up(target, env, _say)
    return before, inventory.inventory(target, env), [g for r in gone + again for g in r.gaps]


@then("every stack is in a COMPLETE state")
def complete(target, env, check):
    check(stack_checks.stacks_complete(target, env))


@then("every template passes cfn-lint")
def lint(env, check):
    check(cfn_lint([load.path(s, env.template_dir) for s in load.stacks(env.template_dir)]))


@then(parsers.parse('the static check "{name}" passes'))
def static_check_passes(env, check, name):
    check(faults.static_check(name, env))


@then(parsers.parse('the template check fails naming "{evidence}"'))
def template_check_fails(target, env, record, check, evidence):
    check(caught(record(template_checks.template_check(env, target)), evidence, case_sensitive=True))


@then("the second apply reports no changes and makes no write")
def no_write(second, check):
    before, after, results = second
    check(stack_checks.unchanged(before, after, results))


@then("an audit record names who applied which change set with what result")
def audit_record(applied, env, check):
    if applied and all(r.action in stacks.READ_ONLY_ACTIONS for r in applied):
        # a read-only job applied nothing: the records are the applying job's (live, CloudTrail's too)
        check(unverifiable("audit records of the change sets", "a record per change set",
                           "this job applied no change set: it only read the stacks", grade="static"))
    check(audit.audit_trail(env, [r.change_set for r in applied if r.change_set]))


@then("every stack carries the commit SHA tag")
def commit_tag(target, env, check):
    check(stack_checks.commit_tags(target, env, commit_sha()))


@then("the inventory is equivalent to the first one")
def equivalent(target, env, recreated, check):
    before, after, gaps = recreated
    # What the endpoint ignored is in neither inventory: its gaps weaken the comparison.
    gaps = [*gaps, *target_gaps.ignored_types(target, env.template_dir)]
    check(inventory.equivalent(before, after, gaps, grade=target.grade("aws")))


@then("the node group uses only subnets without a route to an internet gateway")
def private_nodes(target, env, check):
    check(live_checks.node_subnets_live(target, env))


@then(parsers.parse('the node group is of type "{itype}" with {nodes:d} nodes'))
def node_group(target, env, check, itype, nodes):
    check(live_checks.node_group_live(target, env, itype, nodes))


@then(parsers.parse('the node group of the template is of type "{itype}" with {nodes:d} nodes'))
def node_group_template(env, check, itype, nodes):
    check(template_checks.node_group_config(parameters.rendered("eks", env), itype, int(env["node_min"]), nodes,
                                            int(env["node_max"])))


@then("the node group of the template can scale between its minimum and maximum")
def scales(env, check):
    check(template_checks.node_group_scales(parameters.rendered("eks", env)))


@then("the node group as the EKS API shows it can scale between its minimum and maximum")
def scales_live(target, env, check):
    check(live_checks.node_group_scaling_live(target, env))


@then("the cluster autoscaler is available in the cluster with scale-down enabled")
def autoscaler_live(target, check):
    from provision.kube import client

    dep = client.get(target, "apps/v1", "Deployment", "cluster-autoscaler", "kube-system")
    f = template_checks.autoscaler_verdict(dep, "the cluster-autoscaler Deployment in the cluster", running=True)
    check(f.graded(target.grade("kube")))


@then("the autoscaler manifest enables scale-down")
def autoscaler(check):
    manifest = config.ROOT / "manifests" / "cluster" / "base" / "cluster-autoscaler.yaml"
    check(template_checks.autoscaler_scale_down(manifest))


@then("the EKS cluster encrypts secrets with a KMS key that has rotation on")
def kms(target, env, check):
    stacks.ensure_applied(target, env, _say)
    check(live_checks.kms_live(target, env))


@then("the eks template encrypts secrets with a KMS key that the KMS API shows rotating")
def kms_offline(target, env, check):
    stacks.ensure_applied(target, env, _say)
    check(live_checks.kms_template_and_key(target, env))


@then("the eks template authenticates with IAM access entries and has no open public endpoint")
def access_template(env, check):
    check(template_checks.access_and_endpoint(parameters.rendered("eks", env)))


@then("the ServiceAccounts of the manifests name their own IRSA roles")
def irsa_annotations(env, check):
    from provision.kube import irsa, render

    check(irsa.check_irsa_annotations(render.render(env.name) + render.render_cluster(env.name), env.name))


@then("each IRSA role trusts only its own service account through the cluster's OIDC provider")
def irsa(target, env, check):
    check(template_checks.irsa_trust(parameters.rendered("irsa", env), target.namespace,
                                     target_gaps.named(target, "AWS::IAM::OIDCProvider")))


@then("the cluster authenticates with IAM access entries and has no open public endpoint")
def access(target, env, check):
    check(live_checks.access_live(target, env))
