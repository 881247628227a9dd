"""Unit tests of the template reading and the pure predicates of provision.aws, on data."""
import pytest

from harness.faults import aws as faults
from provision import errors, findings
from provision.aws import inventory, live_checks, monitoring_checks, stack_checks, stacks, template_checks
from provision.aws.cfn import load, parameters
from provision.config import Environment

pytestmark = [pytest.mark.offline, pytest.mark.unit]


def test_committed_templates_pass_every_static_check():
    f = template_checks.template_check(Environment.named("dev"))
    assert f.ok, f.evidence
    assert monitoring_checks.monitoring_check(Environment.named("prod")).ok


@pytest.mark.parametrize("fault", sorted(faults.TEMPLATE_FAULTS))
def test_every_seeded_template_fault_turns_its_own_check_red(tmp_path, fault):
    check, naming = faults.TEMPLATE_FAULT_CHECKS[fault]
    env = Environment.named("dev", template_dir=faults.seeded_templates(fault, tmp_path))
    assert findings.caught(faults.static_check(check, env), naming, case_sensitive=True).ok
    # the same check is green on the committed files, which stay untouched
    assert faults.static_check(check, Environment.named("dev")).ok
    assert template_checks.template_check(Environment.named("dev")).ok


def test_every_template_fault_names_its_check():
    assert set(faults.TEMPLATE_FAULT_CHECKS) == set(faults.TEMPLATE_FAULTS)
    assert {c for c, _ in faults.TEMPLATE_FAULT_CHECKS.values()} <= set(faults.STATIC_CHECKS)


def test_unknown_environment_is_one_clear_line():
    with pytest.raises(errors.BadInput) as exc:
        Environment.named("staging")
    assert str(exc.value) == errors.UNKNOWN_ENV.format(env="staging", known="dev, prod")


def test_missing_parameter_names_stack_and_parameter():
    doc = {"Parameters": {"Nowhere": {"Type": "String"}}, "Resources": {}}
    with pytest.raises(errors.BadInput) as exc:
        parameters.for_template("eks", doc, Environment.named("dev"), {})
    assert str(exc.value) == parameters.MISSING_PARAMETER.format(stack="eks", name="Nowhere", env="dev")


def test_structure_problem_finds_a_ref_to_nothing():
    doc = {"Resources": {"A": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Ref": "Ghost"}}}}}
    assert load.structure_problem(doc) == "Ref to undefined Ghost"
    assert load.structure_problem({"Resources": {"A": {"Type": "AWS::SNS::Topic"}}}) == ""


def test_parameters_come_from_settings():
    env = Environment.named("prod")
    doc = load.load(load.path("eks"))
    params = parameters.for_template("eks", doc, env, {"PrivateSubnetIds": "subnet-a,subnet-b", "VpcId": "vpc-1"})
    assert params["NodeMin"] == "3" and params["NodeInstanceType"] == "t3.medium"
    assert params["KubernetesVersion"].count(".") == 1


@pytest.mark.parametrize("status, refused", [
    ("ROLLBACK_COMPLETE", stacks.STACK_ROLLBACK_COMPLETE.format(name="s", env="dev")),
    ("UPDATE_IN_PROGRESS", stacks.STACK_BUSY.format(name="s", status="UPDATE_IN_PROGRESS")),
    ("REVIEW_IN_PROGRESS", None), ("UPDATE_COMPLETE", None), (None, None),
])
def test_status_refusal(status, refused):
    got = stacks.status_refusal("s", status, "dev")
    assert (str(got) if got else None) == refused
    if got:
        assert got.exit_code == errors.EXIT_REFUSED


def test_route_public_on_saved_route_tables():
    tables = [
        {"RouteTableId": "rtb-pub", "Associations": [{"SubnetId": "subnet-pub"}],
         "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"}]},
        {"RouteTableId": "rtb-priv", "Associations": [{"SubnetId": "subnet-priv"}],
         "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1"}, {"GatewayId": "local"}]},
    ]
    assert "igw-1" in live_checks.route_public(tables, "subnet-pub")
    assert live_checks.route_public(tables, "subnet-priv") == ""
    # an unassociated subnet uses the main table
    assert "igw-1" in live_checks.route_public(tables, "subnet-x", vpc_main=tables[0])


def test_inventory_differences():
    a = {"network/Vpc": {"type": "AWS::EC2::VPC", "cidr": "10.0.0.0/16"}}
    assert inventory.differences(a, dict(a)) == []
    b = {"network/Vpc": {"type": "AWS::EC2::VPC", "cidr": "10.1.0.0/16"}, "eks/Key": {}}
    diff = inventory.differences(a, b)
    assert "only after: eks/Key" in diff and any("cidr" in d for d in diff)
    assert not inventory.equivalent(a, b).ok and inventory.equivalent(a, a).ok


def test_unchanged_detects_a_write_and_a_change():
    r = [stacks.StackResult("network", "n", "no changes")]
    assert stack_checks.unchanged({"n": ("C", "t", 3)}, {"n": ("C", "t", 3)}, r).ok
    assert not stack_checks.unchanged({"n": ("C", "t", 3)}, {"n": ("U", "t2", 5)}, r).ok
    assert not stack_checks.unchanged({}, {}, [stacks.StackResult("network", "n", "updated")]).ok


def test_irsa_trust_refuses_a_wildcard_subject():
    irsa = template_checks.rendered(Environment.named("dev"), "irsa")
    role = irsa.t["Resources"]["ApiBackendRole"]["Properties"]
    role["AssumeRolePolicyDocument"] = {"Fn::Sub": [role["AssumeRolePolicyDocument"]["Fn::Sub"][0].replace(
        "StringEquals", "StringLike").replace("${AppNamespace}:${ApiServiceAccount}", "*"),
        role["AssumeRolePolicyDocument"]["Fn::Sub"][1]]}
    f = template_checks.irsa_trust(irsa, "cloudtolocalllm")
    assert not f.ok and any("ApiBackendRole" in e for e in f.evidence)


def test_autoscaler_scale_down_disabled_is_caught(tmp_path):
    m = tmp_path / "ca.yaml"
    m.write_text("kind: Deployment\nmetadata: {name: cluster-autoscaler}\nspec: {template: {spec: {containers: "
                 "[{command: [./cluster-autoscaler, --node-group-auto-discovery=asg:tag=x, "
                 "--scale-down-enabled=false]}]}}}\n")
    f = template_checks.autoscaler_scale_down(m)
    assert findings.caught(f, "--scale-down-enabled=false").ok and f.grade == "static"
    assert f.subject == "the cluster-autoscaler manifest enables scale-down"
    m.write_text(m.read_text().replace(", --scale-down-enabled=false", ""))
    assert template_checks.autoscaler_scale_down(m).ok


def test_access_entries_are_required_and_least_privilege():
    eks = template_checks.rendered(Environment.named("dev"), "eks")
    assert template_checks.access_and_endpoint(eks).ok
    entry = eks.t["Resources"]["DeployAccessEntry"]["Properties"]
    entry["AccessPolicies"][0] = {"PolicyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                                  "AccessScope": {"Type": "cluster"}}
    f = template_checks.access_and_endpoint(eks)
    assert not f.ok and any("AmazonEKSClusterAdminPolicy" in e for e in f.evidence)
    del eks.t["Resources"]["VerifyAccessEntry"]
    evidence = template_checks.access_and_endpoint(eks).evidence
    assert any("no access entry for the GitHub verify role" in e for e in evidence)


# ---- the one resolver: where the two old resolvers disagreed, CloudFormation's documented behaviour

ROLE_DOC = {
    "Parameters": {"Count": {"Type": "String"}, "Name": {"Type": "String"}},
    "Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": {"Fn::Sub": "${Name}-role"}}},
                  "Key": {"Type": "AWS::KMS::Key", "Properties": {}}},
}


def _resolver(strict: bool, params=None, physical=None):
    from provision.aws.cfn.resolve import Resolver
    return Resolver(ROLE_DOC, {"Count": "2", "Name": "app"} if params is None else params, "123456789012",
                    "us-east-1", physical, strict=strict, source="test.yaml")


@pytest.mark.parametrize("strict", [True, False])
def test_fn_equals_compares_values_as_cloudformation_does(strict):
    r = _resolver(strict)
    assert r.value({"Fn::Equals": [{"Ref": "Count"}, 2]}) is True      # a parameter is a string; the literal too
    assert r.value({"Fn::Equals": [{"Ref": "Count"}, "3"]}) is False
    assert r.value({"Fn::Equals": [True, "true"]}) is True
    assert r.value({"Fn::Equals": ["", ""]}) is True


def test_fn_select_indexes_into_a_list_and_refuses_out_of_range_when_strict():
    from provision.aws.cfn.resolve import SELECT_OUT_OF_RANGE
    assert _resolver(True).value({"Fn::Select": [1, ["a", "b"]]}) == "b"
    assert _resolver(True).value({"Fn::Select": ["0", {"Fn::Split": [",", "x,y"]}]}) == "x"
    for index in (2, -1):  # CloudFormation: the index must be 0..N-1
        with pytest.raises(errors.BadInput) as exc:
            _resolver(True).value({"Fn::Select": [index, ["a", "b"]]})
        assert str(exc.value) == SELECT_OUT_OF_RANGE.format(path="test.yaml", index=index, items=["a", "b"])
        assert _resolver(False).value({"Fn::Select": [index, ["a", "b"]]}) == f"<select {index} of ['a', 'b']>"


@pytest.mark.parametrize("strict", [True, False])
def test_getatt_is_the_known_value_or_a_deterministic_marker(strict):
    r = _resolver(strict)
    assert r.value({"Fn::GetAtt": ["Role", "Arn"]}) == "arn:aws:iam::123456789012:role/app-role"
    assert r.value({"Fn::Sub": "${Role.Arn}"}) == "arn:aws:iam::123456789012:role/app-role"
    assert r.value({"Fn::GetAtt": ["Key", "Arn"]}) == "<Key.Arn>"
    assert r.value({"Fn::GetAtt": ["Key", "Arn"]}) == r.value({"Fn::GetAtt": ["Key", "Arn"]})
    known = _resolver(strict, physical={"Key.Arn": "arn:aws:kms:us-east-1:123456789012:key/k"})
    assert known.value({"Fn::GetAtt": ["Key", "Arn"]}) == "arn:aws:kms:us-east-1:123456789012:key/k"


def test_getatt_of_an_undefined_resource_is_refused_when_strict():
    from provision.aws.cfn.resolve import UNKNOWN_REFERENCE
    with pytest.raises(errors.BadInput) as exc:
        _resolver(True).value({"Fn::GetAtt": ["Ghost", "Arn"]})
    assert str(exc.value) == UNKNOWN_REFERENCE.format(path="test.yaml", what="a GetAtt", name="Ghost.Arn")
    assert _resolver(False).value({"Fn::GetAtt": ["Ghost", "Arn"]}) == "<Ghost.Arn>"


def test_a_missing_parameter_names_the_template_and_parameter_when_strict_and_stays_a_marker_otherwise():
    from provision.aws.cfn.resolve import MISSING_VALUE
    with pytest.raises(errors.BadInput) as exc:
        _resolver(True, params={"Count": "2"})
    assert str(exc.value) == MISSING_VALUE.format(path="test.yaml", name="Name")
    lenient = _resolver(False, params={"Count": "2"})
    assert lenient.ref("Name") == "<Name>"
    assert lenient.value({"Fn::GetAtt": ["Role", "Arn"]}) == "<Role.Arn>"  # built from a marker: stays one


def test_the_iam_template_missing_a_parameter_names_iam_yaml(tmp_path):
    from provision.aws.cfn.resolve import MISSING_VALUE
    copy = tmp_path / "iam.yaml"
    copy.write_text(load.IAM_TEMPLATE.read_text().replace("Parameters:\n", "Parameters:\n  PagerKey:\n"
                                                          "    Type: String\n", 1))
    with pytest.raises(errors.BadInput) as exc:
        parameters.iam_resolver(Environment.named("dev"), copy)
    assert str(exc.value) == MISSING_VALUE.format(path="iam.yaml", name="PagerKey")


# ---- issue 10: the API endpoint the cluster jobs reach, and add-on roles in stack order (design_checks)

def _endpoint(env):
    from provision.aws import design_checks
    from provision.ci import workflow_model
    return design_checks.api_endpoint_reachable(template_checks.rendered(env, "eks"), env, workflow_model.committed())


def test_the_committed_design_reaches_the_endpoint_in_every_environment():
    for name in ("dev", "prod"):
        f = _endpoint(Environment.named(name))
        assert f.ok and f.grade == "static", f.evidence


@pytest.mark.parametrize("access, naming", [
    # a documentation range for the operators (the defect of settings' api_public_cidr)
    ({"cidrs": ["203.0.113.0/24"]}, "203.0.113.0/24 is the documentation range"),
    ({"cidrs": ["198.51.100.7/32"]}, "documentation range 198.51.100.0/24"),
    ({"cidrs": ["192.0.2.0/25"]}, "documentation range 192.0.2.0/24"),
    ({"cidrs": ["0.0.0.0/0"]}, "opens the public endpoint to everyone"),
    ({"cidrs": [f"100.64.{i}.0/24" for i in range(41)]}, "above the EKS limit of 40"),
    ({"mode": "github-runners"}, "above the EKS limit of 40 public access CIDRs"),
    ({"mode": "open"}, "is none of"),
    ({"runner_labels": ["self-hosted", "eks-staging"]}, "not the dev runner"),
])
def test_endpoint_design_faults_in_the_settings_turn_the_check_red(access, naming):
    base = Environment.named("dev")["api_access"]
    env = Environment.named("dev", overrides={"api_access": {**base, **access}})
    assert findings.caught(_endpoint(env), naming).ok


def test_operator_cidrs_open_the_public_endpoint_to_exactly_them():
    base = Environment.named("dev")["api_access"]
    env = Environment.named("dev", overrides={"api_access": {**base, "cidrs": ["100.64.7.0/24"]}})
    vpc = template_checks.rendered(env, "eks").resources("AWS::EKS::Cluster")["Cluster"]["Properties"][
        "ResourcesVpcConfig"]
    assert vpc["EndpointPublicAccess"] is True and vpc["PublicAccessCidrs"] == ["100.64.7.0/24"]
    assert _endpoint(env).ok


def test_an_addon_role_of_an_earlier_stack_is_in_order_and_one_of_no_stack_is_not():
    from provision.aws import design_checks
    env = Environment.named("dev")
    stacks_ = {s: template_checks.rendered(env, s) for s in ("network", "eks", "irsa")}
    assert design_checks.addon_roles_ordered(stacks_).ok
    addon = stacks_["irsa"].t["Resources"]["EbsCsiAddon"]["Properties"]
    addon["ServiceAccountRoleArn"] = "arn:aws:iam::422017356244:role/nobody-creates-this"
    assert findings.caught(design_checks.addon_roles_ordered(stacks_), "which no stack creates").ok


# ---- monitoring: which stack creates the services' log groups, the alarms' metrics, the alert subscriber

def test_the_old_stack_order_creates_the_services_log_groups_after_them():
    old = ["network", "iam", "eks", "irsa", "monitoring", "budget"]
    f = monitoring_checks.service_log_groups_first(Environment.named("dev"), old)
    assert findings.caught(f, "/aws/eks/cloudtolocalllm-eks/cluster: stack monitoring", case_sensitive=True).ok
    assert findings.caught(f, "/aws/containerinsights/cloudtolocalllm-eks/performance", case_sensitive=True).ok
    assert load.STACKS.index("monitoring") < load.STACKS.index("eks")


def test_the_metrics_table_names_its_source_and_the_restarts_dimensions():
    table = monitoring_checks.published_metrics()
    assert table["source"].startswith("https://docs.aws.amazon.com/AmazonCloudWatch/")
    assert table["metrics"]["pod_number_of_container_restarts"] == [frozenset({"PodName", "Namespace", "ClusterName"})]


def test_a_metrics_insights_query_is_read_as_metric_schema_and_filter():
    q = ("SELECT MAX(pod_number_of_container_restarts) FROM SCHEMA(ContainerInsights, ClusterName, Namespace, "
         "PodName) WHERE ClusterName = 'c' AND Namespace = 'n'")
    assert monitoring_checks._query_metric(q) == ("ContainerInsights", "pod_number_of_container_restarts",
                                                  frozenset({"ClusterName", "Namespace", "PodName"}),
                                                  frozenset({"ClusterName", "Namespace"}))
    assert monitoring_checks._query_metric("m1 + m2") is None


@pytest.mark.parametrize("email, refused", [
    ("alerts@example.com", True), ("ops@team.example.org", True), ("a@b.test", True), ("a@host.invalid", True),
    ("", True), ("not-an-address", True), ("alerts@cloudtolocalllm.online", False),
])
def test_a_placeholder_alert_address_is_refused_before_anything_is_applied(email, refused):
    from provision.aws import alerts

    assert bool(alerts.placeholder_reason(email)) is refused
    if refused:
        with pytest.raises(errors.BadInput) as e:
            alerts.alert_email({"alerts": {"email": email}})
        assert "nothing was changed" in str(e.value)
        f = monitoring_checks.alert_subscription(parameters.rendered("monitoring", Environment.named("dev")), email)
        assert not f.ok


def test_the_budget_counts_only_the_environments_tag():
    env = Environment.named("prod")
    spec = parameters.rendered("budget", env).resources("AWS::Budgets::Budget")["MonthlyBudget"]["Properties"]
    key, value = monitoring_checks.cost_tag(env)
    assert spec["Budget"]["CostFilters"] == {"TagKeyValue": [f"user:{key}${value}"]}
    assert monitoring_checks.budget_filter_problems(spec, key, value) == []
    assert monitoring_checks.budget_filter_problems({"Budget": {}}, key, value)
