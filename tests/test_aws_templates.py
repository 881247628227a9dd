"""Unit tests of the template reading and the pure predicates of provision.aws, on data."""
import pytest

from provision import errors
from provision.aws import faults, inventory, probes, stacks, templates

pytestmark = [pytest.mark.offline, pytest.mark.unit]


def test_committed_templates_pass_every_static_check():
    f = probes.template_check(stacks.resolve_env("dev"))
    assert f.ok, f.evidence
    assert probes.monitoring_check(stacks.resolve_env("prod")).ok


@pytest.mark.parametrize("fault", sorted(faults.TEMPLATE_FAULTS))
def test_every_seeded_template_fault_turns_a_static_check_red(tmp_path, fault):
    env = stacks.resolve_env("dev", template_dir=faults.seeded_templates(fault, tmp_path))
    assert not probes.template_check(env).ok or not probes.monitoring_check(env).ok
    # the committed file is untouched
    assert probes.template_check(stacks.resolve_env("dev")).ok


def test_unknown_environment_is_one_clear_line():
    with pytest.raises(errors.BadInput) as exc:
        stacks.resolve_env("staging")
    assert str(exc.value) == errors.UNKNOWN_ENV.format(env="staging", known="dev, prod")


def test_missing_parameter_names_stack_and_parameter():
    doc = {"Parameters": {"Nowhere": {"Type": "String"}}, "Resources": {}}
    with pytest.raises(errors.BadInput) as exc:
        templates.parameters("eks", doc, stacks.resolve_env("dev").settings, {})
    assert str(exc.value) == templates.MISSING_PARAMETER.format(stack="eks", name="Nowhere", env="dev")


def test_structure_problem_finds_a_ref_to_nothing():
    doc = {"Resources": {"A": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Ref": "Ghost"}}}}}
    assert templates.structure_problem(doc) == "Ref to undefined Ghost"
    assert templates.structure_problem({"Resources": {"A": {"Type": "AWS::SNS::Topic"}}}) == ""


def test_parameters_come_from_settings():
    env = stacks.resolve_env("prod")
    doc = templates.load(templates.path("eks"))
    params = templates.parameters("eks", doc, env.settings, {"PrivateSubnetIds": "subnet-a,subnet-b"})
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
    assert "igw-1" in probes.route_public(tables, "subnet-pub")
    assert probes.route_public(tables, "subnet-priv") == ""
    # an unassociated subnet uses the main table
    assert "igw-1" in probes.route_public(tables, "subnet-x", vpc_main=tables[0])


def test_inventory_differences():
    a = {"network/Vpc": {"type": "AWS::EC2::VPC", "cidr": "10.0.0.0/16"}}
    assert inventory.differences(a, dict(a)) == []
    b = {"network/Vpc": {"type": "AWS::EC2::VPC", "cidr": "10.1.0.0/16"}, "eks/Key": {}}
    diff = inventory.differences(a, b)
    assert "only after: eks/Key" in diff and any("cidr" in d for d in diff)
    assert not inventory.equivalent(a, b).ok and inventory.equivalent(a, a).ok


def test_unchanged_detects_a_write_and_a_change():
    r = [stacks.StackResult("network", "n", "no changes")]
    assert stacks.unchanged({"n": ("C", "t", 3)}, {"n": ("C", "t", 3)}, r).ok
    assert not stacks.unchanged({"n": ("C", "t", 3)}, {"n": ("U", "t2", 5)}, r).ok
    assert not stacks.unchanged({}, {}, [stacks.StackResult("network", "n", "updated")]).ok


def test_irsa_trust_refuses_a_wildcard_subject():
    irsa = probes.rendered(stacks.resolve_env("dev"), "irsa")
    role = irsa.t["Resources"]["ApiBackendRole"]["Properties"]
    role["AssumeRolePolicyDocument"] = {"Fn::Sub": [role["AssumeRolePolicyDocument"]["Fn::Sub"][0].replace(
        "StringEquals", "StringLike").replace("${AppNamespace}:${ApiServiceAccount}", "*"),
        role["AssumeRolePolicyDocument"]["Fn::Sub"][1]]}
    f = probes.irsa_trust(irsa, "cloudtolocalllm")
    assert not f.ok and any("ApiBackendRole" in e for e in f.evidence)


def test_autoscaler_scale_down_disabled_is_caught(tmp_path):
    m = tmp_path / "ca.yaml"
    m.write_text("kind: Deployment\nmetadata: {name: cluster-autoscaler}\nspec: {template: {spec: {containers: "
                 "[{command: [./cluster-autoscaler, --node-group-auto-discovery=asg:tag=x, --scale-down-enabled=false]}]}}}\n")
    assert not probes.autoscaler_scale_down(m).ok
    m.write_text(m.read_text().replace(", --scale-down-enabled=false", ""))
    assert probes.autoscaler_scale_down(m).ok


def test_access_entries_are_required_and_least_privilege():
    eks = probes.rendered(stacks.resolve_env("dev"), "eks")
    assert probes.access_and_endpoint(eks).ok
    entry = eks.t["Resources"]["DeployAccessEntry"]["Properties"]
    entry["AccessPolicies"][0] = {"PolicyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                                  "AccessScope": {"Type": "cluster"}}
    f = probes.access_and_endpoint(eks)
    assert not f.ok and any("AmazonEKSClusterAdminPolicy" in e for e in f.evidence)
    del eks.t["Resources"]["VerifyAccessEntry"]
    assert any("no access entry for the GitHub verify role" in e for e in probes.access_and_endpoint(eks).evidence)
