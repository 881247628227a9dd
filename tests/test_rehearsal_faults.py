"""The pure parts of the rehearsal's fidelity faults (harness/rehearsal_faults.py) and the hooks they use:
the stand-in's token copies, the operator's access entries, an AccessDenied read reported as red."""
import json

import botocore.exceptions
import pytest
from flask import Flask, g, request

from harness import rehearsal_faults as rf
from provision import errors
from provision.aws import live_checks
from provision.config import Target
from provision.findings import caught
from provision.kube import access_entries
from provision.local import edge_cloudflare_token_copies as copies
from provision.local import iam_authenticator, lb_controller
from provision.local.edge_cloudflare_model import ApiError
from provision.local.edge_cloudflare_tokens import DNS_READ, SETTINGS_EDIT, SETTINGS_READ, ZONE_READ, Token, Tokens

pytestmark = [pytest.mark.offline, pytest.mark.unit]

POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "ReadKeyRotation", "Effect": "Allow", "Action": ["kms:DescribeKey", "kms:GetKeyRotationStatus"],
     "Resource": "*"},
    {"Sid": "Only", "Effect": "Allow", "Action": "kms:GetKeyRotationStatus", "Resource": "*"},
    {"Sid": "Other", "Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"}]}


def test_a_role_copy_loses_exactly_the_one_action_everywhere():
    out = rf.without_action(POLICY, "KMS:GetKeyRotationStatus")   # IAM action names are case-insensitive
    assert [s["Sid"] for s in out["Statement"]] == ["ReadKeyRotation", "Other"]
    assert out["Statement"][0]["Action"] == ["kms:DescribeKey"]
    assert out["Statement"][1]["Action"] == ["logs:DescribeLogGroups"]
    assert POLICY["Statement"][1]["Action"] == "kms:GetKeyRotationStatus"   # the source is untouched


def test_taking_an_action_the_role_never_had_is_refused():
    with pytest.raises(errors.BadInput, match="ec2:DescribeSubnets"):
        rf.without_action(POLICY, "ec2:DescribeSubnets")


def test_the_seeded_variants_are_exactly_what_the_controller_ignores():
    shipped = {"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": "ingress-nginx-controller", "namespace": "ingress-nginx",
        "labels": {"app.kubernetes.io/name": "ingress-nginx"},
        "annotations": {lb_controller.LB_TYPE: "external", lb_controller.NLB_TARGET_TYPE: "ip"}},
        "spec": {"type": "LoadBalancer", "selector": {"a": "b"}, "ports": [{"port": 80}]}}
    control = rf._scratch(shipped, "scratch", "control")
    assert lb_controller.handles_service(control)
    assert "labels" not in control["metadata"] and "selector" not in control["spec"]   # never ingress-nginx's
    assert not lb_controller.handles_service(rf._typo(control, "scratch", "typo"))
    classed = {**control, "spec": {**control["spec"], "loadBalancerClass": lb_controller.NLB_CLASS}}
    assert lb_controller.handles_service(classed) and not lb_controller.handles_service(rf._typo(classed, "s", "t"))
    ing = rf._alb_ingress("scratch", "control-alb")
    assert lb_controller.handles_ingress(ing, {})
    assert not lb_controller.handles_ingress(rf._typo(ing, "scratch", "main-ingress"), {})


def _app(tokens: Tokens) -> Flask:
    app = Flask("t")
    app.config[copies.TOKENS] = tokens
    app.register_error_handler(ApiError, lambda e: ({"success": False, "code": e.code}, e.status))
    app.before_request(lambda: setattr(g, "token", tokens.authenticate(request.headers.get("Authorization", ""))))
    copies.register(app)
    return app


def test_a_token_copy_only_narrows_and_only_its_maker_revokes_it():
    tokens = Tokens({"v": Token("verify", frozenset({ZONE_READ, DNS_READ, SETTINGS_READ}), frozenset({"z"})),
                     "d": Token("deploy", frozenset({SETTINGS_EDIT}), frozenset({"z"}))})
    c = _app(tokens).test_client()
    r = c.post(copies.ROUTE, json={"name": "v-", "permissions": [ZONE_READ, DNS_READ]},
               headers={"Authorization": "Bearer v"})
    assert r.status_code == 200
    secret = r.get_json()["result"]["value"]
    made = tokens.authenticate(f"Bearer {secret}")
    assert made.permissions == {ZONE_READ, DNS_READ} and made.zones == {"z"}
    assert not made.grants(SETTINGS_READ, "z")
    # broader than its maker: refused as Cloudflare refuses; Edit implies Read, so deploy may copy Settings Read
    assert c.post(copies.ROUTE, json={"name": "x", "permissions": [SETTINGS_EDIT]},
                  headers={"Authorization": "Bearer v"}).status_code == 403
    assert c.post(copies.ROUTE, json={"name": "y", "permissions": [SETTINGS_READ]},
                  headers={"Authorization": "Bearer d"}).status_code == 200
    assert c.post(copies.ROUTE, json={"name": "v-", "permissions": []},
                  headers={"Authorization": "Bearer v"}).status_code == 400   # the name is taken
    assert c.delete(f"{copies.ROUTE}/v-", headers={"Authorization": "Bearer d"}).status_code == 403
    assert c.delete(f"{copies.ROUTE}/v-", headers={"Authorization": "Bearer v"}).status_code == 200
    with pytest.raises(ApiError):
        tokens.authenticate(f"Bearer {secret}")


def test_an_operator_registered_entry_maps_its_role_until_removed(tmp_path):
    arn = "arn:aws:iam::422017356244:role/ctl-fault-entry-abc"
    props = {"PrincipalArn": arn, "Type": "STANDARD", "AccessPolicies": [
        {"PolicyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
         "AccessScope": {"Type": "namespace", "Namespaces": ["kube-public"]}}]}
    (tmp_path / iam_authenticator.NAME).mkdir()
    entry = iam_authenticator.register_entry(tmp_path, "FaultEntry", props)
    assert entry.policies[0].namespaces == ("kube-public",)
    caller = "arn:aws:sts::422017356244:assumed-role/ctl-fault-entry-abc/github-1"
    user, groups = access_entries.identity(caller, iam_authenticator.operator_entries(tmp_path))
    assert user == caller and entry.group in groups
    bindings = [o for o in access_entries.rbac_objects([entry]) if o["kind"] == "RoleBinding"]
    assert [b["metadata"]["namespace"] for b in bindings] == ["kube-public"]
    iam_authenticator.remove_entry(tmp_path, "FaultEntry")
    assert access_entries.identity(caller, iam_authenticator.operator_entries(tmp_path)) is None
    bad = {**props, "AccessPolicies": [{"PolicyArn": "arn:aws:eks::aws:cluster-access-policy/Nope",
                                        "AccessScope": {"Type": "cluster"}}]}
    with pytest.raises(errors.BadInput):   # EKS's own policies only, as the template's entries
        iam_authenticator.register_entry(tmp_path, "Bad", bad)
    assert json.loads((tmp_path / iam_authenticator.NAME / iam_authenticator.OPERATOR_ENTRIES).read_text()) == {}


def _target(**kw) -> Target:
    return Target(name="t", region="eu-west-1", account_id="1", **kw)


@pytest.mark.parametrize("code", ["AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"])
def test_a_read_the_role_is_refused_is_red_naming_the_action(code):
    message = "User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: kms:GetKeyRotationStatus"
    exc = botocore.exceptions.ClientError({"Error": {"Code": code, "Message": message}}, "GetKeyRotationStatus")
    f = live_checks.could_not_read(_target(), "secrets KMS key rotation (KMS API)", "rotation on", exc)
    assert caught(f, code) and caught(f, "kms:GetKeyRotationStatus")


def test_the_faults_need_the_capability_and_the_operator():
    assert rf.unavailable(_target(cannot={rf.CAPABILITY: "offline: no strict parts"})) == "offline: no strict parts"
    assert rf.unavailable(_target()) == rf.NO_OPERATOR
    strict = {"aws_gate": {"operator": {"access_key_id": "k"}}, "controlplane": {"strict": True}}
    assert rf.unavailable(_target(local=strict)) is None
