"""The IAM policy evaluator (provision.aws.iam_policy) on AWS's documented evaluation examples,
and the action tables (provision.aws.iam_actions) on the calls this project makes."""

from __future__ import annotations

import pytest

from provision.aws import iam_actions, iam_policy
from provision.aws.iam_policy import EXPLICIT_DENY, IMPLICIT_DENY, Request

pytestmark = pytest.mark.offline

ACCT = "123456789012"


def decide(statements, action, resource="*", **ctx):
    return iam_policy.decide({"p": {"Version": "2012-10-17", "Statement": statements}},
                             Request(action, (resource,), ctx)).decision


# IAM User Guide, "The difference between explicit and implicit denies": AllowGetList allows
# iam:Get*/List*, DenyReports denies *Report*; iam:CreatePolicy is implicitly denied.
REPORTS = [
    {"Sid": "AllowGetList", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
    {"Sid": "DenyReports", "Effect": "Deny", "Action": "iam:*Report", "Resource": "*"},
]


def test_explicit_and_implicit_denies():
    assert decide(REPORTS, "iam:GetRole") == "allowed"
    assert decide(REPORTS, "iam:listroles") == "allowed"  # actions are case-insensitive
    assert decide(REPORTS, "iam:GetCredentialReport") == EXPLICIT_DENY
    assert decide(REPORTS, "iam:CreatePolicy") == IMPLICIT_DENY
    # a later Allow of the report action does not override the Deny
    more = [*REPORTS, {"Effect": "Allow", "Action": "iam:GenerateCredentialReport", "Resource": "*"}]
    assert decide(more, "iam:GenerateCredentialReport") == EXPLICIT_DENY


# IAM User Guide, NotAction with Allow: every S3 action on any resource except deleting a bucket;
# no action of another service.
NOT_DELETE = [{"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "arn:aws:s3:::*"}]


def test_not_action_with_allow():
    assert decide(NOT_DELETE, "s3:GetObject", "arn:aws:s3:::bucket/key") == "allowed"
    assert decide(NOT_DELETE, "s3:DeleteBucket", "arn:aws:s3:::bucket") == IMPLICIT_DENY
    assert decide(NOT_DELETE, "iam:ListRoles", "*") == IMPLICIT_DENY


def test_not_action_with_deny_and_not_resource():
    # NotAction with Deny (the documented MFA example's shape): everything but IAM is denied without MFA.
    st = [{"Effect": "Allow", "Action": "*", "Resource": "*"},
          {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*",
           "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}]
    assert decide(st, "ec2:DescribeVpcs") == EXPLICIT_DENY
    assert decide(st, "ec2:DescribeVpcs", **{"aws:MultiFactorAuthPresent": "true"}) == "allowed"
    assert decide(st, "iam:GetRole") == "allowed"
    nr = [{"Effect": "Allow", "Action": "secretsmanager:*", "NotResource": "arn:aws:secretsmanager:*:*:secret:prod/*"}]
    assert decide(nr, "secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:dev/a-x") \
        == "allowed"
    assert decide(nr, "secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:prod/a-x") \
        == IMPLICIT_DENY


def test_resource_wildcards_stay_in_their_arn_part():
    st = [{"Effect": "Allow", "Action": "cloudformation:DescribeStacks",
           "Resource": f"arn:aws:cloudformation:us-east-1:{ACCT}:stack/proj-dev-*/*"}]
    ok = f"arn:aws:cloudformation:us-east-1:{ACCT}:stack/proj-dev-eks/4c0e-11ee"
    assert decide(st, "cloudformation:DescribeStacks", ok) == "allowed"
    assert decide(st, "cloudformation:DescribeStacks", ok.replace("us-east-1", "eu-west-1")) == IMPLICIT_DENY
    assert decide(st, "cloudformation:DescribeStacks", ok.replace("proj-dev", "proj-prod")) == IMPLICIT_DENY
    # an action without resource-level permissions is authorized against "*": a narrower ARN never matches it
    assert decide(st, "cloudformation:DescribeStacks", "*") == IMPLICIT_DENY
    # a wildcard in the region part does not swallow the account
    assert iam_policy.decide({"p": {"Statement": [{"Effect": "Allow", "Action": "*",
                                                   "Resource": "arn:aws:s3:::*"}]}},
                             Request("s3:GetObject", ("arn:aws:s3:us-east-1:1:x",))).decision == IMPLICIT_DENY


def test_every_resource_of_a_request_must_be_allowed():
    st = [{"Effect": "Allow", "Action": "cloudwatch:DescribeAlarms", "Resource": "arn:aws:cloudwatch:*:*:alarm:p-*"}]
    pol = {"p": {"Statement": st}}
    a = f"arn:aws:cloudwatch:us-east-1:{ACCT}:alarm:"
    assert iam_policy.decide(pol, Request("cloudwatch:DescribeAlarms", (a + "p-1", a + "p-2"))).allowed
    assert not iam_policy.decide(pol, Request("cloudwatch:DescribeAlarms", (a + "p-1", a + "other"))).allowed


# IAM User Guide, multivalued context keys: ForAllValues is true when the key is missing,
# unless a Null check requires it; ForAnyValue is false then.
TAG_DENY = [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
            {"Sid": "DenyRestrictedTags", "Effect": "Deny", "Action": ["iam:Tag*", "iam:UnTag*"], "Resource": ["*"],
             "Condition": {"Null": {"aws:TagKeys": "false"},
                           "ForAllValues:StringLike": {"aws:TagKeys": ["key1*", "key2*", "key3*"]}}}]


def test_for_all_values_with_null_check():
    assert decide(TAG_DENY, "iam:TagRole", **{"aws:TagKeys": ["key1a", "key2b"]}) == EXPLICIT_DENY
    assert decide(TAG_DENY, "iam:TagRole", **{"aws:TagKeys": ["key1a", "other"]}) == "allowed"
    assert decide(TAG_DENY, "iam:TagRole") == "allowed"  # the Null check keeps a missing key from matching
    any_deny = [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "ec2:CreateSnapshot", "Resource": "*",
                 "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["webserver", "environment"]}}}]
    assert decide(any_deny, "ec2:CreateSnapshot", **{"aws:TagKeys": ["environment", "x"]}) == EXPLICIT_DENY
    assert decide(any_deny, "ec2:CreateSnapshot", **{"aws:TagKeys": ["x"]}) == "allowed"
    assert decide(any_deny, "ec2:CreateSnapshot") == "allowed"


def test_condition_operators():
    def cond(op, key, value, **ctx):
        return decide([{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {op: {key: value}}}],
                      "s3:GetObject", **ctx) == "allowed"

    # aws:SecureTransport (documented deny-insecure pattern) and aws:SourceIp
    assert cond("Bool", "aws:SecureTransport", "true", **{"aws:securetransport": "true"})
    assert not cond("Bool", "aws:SecureTransport", "true", **{"aws:SecureTransport": "false"})
    assert cond("IpAddress", "aws:SourceIp", ["203.0.113.0/24"], **{"aws:SourceIp": "203.0.113.7"})
    assert not cond("IpAddress", "aws:SourceIp", "203.0.113.0/24", **{"aws:SourceIp": "198.51.100.1"})
    assert cond("NotIpAddress", "aws:SourceIp", "203.0.113.0/24", **{"aws:SourceIp": "198.51.100.1"})
    # a missing key: a positive operator is false, a negated one true, IfExists true
    assert not cond("StringEquals", "aws:RequestedRegion", "us-east-1")
    assert cond("StringNotEquals", "aws:RequestedRegion", "us-east-1")
    assert cond("StringEqualsIfExists", "aws:RequestedRegion", "us-east-1")
    assert cond("StringNotEquals", "aws:RequestedRegion", ["us-east-1", "eu-west-1"],
                **{"aws:RequestedRegion": "ap-south-1"})
    assert not cond("StringNotEquals", "aws:RequestedRegion", ["us-east-1", "eu-west-1"],
                    **{"aws:RequestedRegion": "eu-west-1"})
    assert cond("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*:role/ci-*",
                **{"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:role/ci-deploy"})
    assert not cond("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*:role/ci-*",
                    **{"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:user/ci-deploy"})
    assert cond("ArnNotEquals", "aws:PrincipalArn", "arn:aws:iam::*:role/x",
                **{"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:role/y"})
    assert cond("Null", "aws:TokenIssueTime", "true")
    assert not cond("Null", "aws:TokenIssueTime", "true", **{"aws:TokenIssueTime": "2026-01-01T00:00:00Z"})
    assert cond("NumericLessThanEquals", "s3:max-keys", "10", **{"s3:max-keys": "7"})
    assert cond("DateLessThan", "aws:CurrentTime", "2030-01-01T00:00:00Z",
                **{"aws:CurrentTime": "2026-06-01T00:00:00Z"})
    assert not cond("FancyNewOperator", "aws:x", "y", **{"aws:x": "y"})  # unknown operator: fails closed


def test_policy_variables():
    # IAM User Guide, policy variables: a user's own home prefix.
    st = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/home/${aws:username}/*"}]
    assert decide(st, "s3:GetObject", "arn:aws:s3:::bucket/home/carlos/f", **{"aws:username": "carlos"}) == "allowed"
    assert decide(st, "s3:GetObject", "arn:aws:s3:::bucket/home/maria/f", **{"aws:username": "carlos"}) \
        == IMPLICIT_DENY
    # a role session has no aws:username: the entry matches nothing
    assert decide(st, "s3:GetObject", "arn:aws:s3:::bucket/home/carlos/f") == IMPLICIT_DENY
    # a wildcard in a request value is data, never a wildcard of the policy
    assert decide(st, "s3:GetObject", "arn:aws:s3:::bucket/home/carlos/f", **{"aws:username": "*"}) == IMPLICIT_DENY
    tag = [{"Effect": "Allow", "Action": "eks:DescribeCluster", "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}}]
    assert decide(tag, "eks:DescribeCluster", **{"aws:PrincipalTag/team": "a", "aws:ResourceTag/team": "a"}) \
        == "allowed"
    assert decide(tag, "eks:DescribeCluster", **{"aws:PrincipalTag/team": "a", "aws:ResourceTag/team": "b"}) \
        == IMPLICIT_DENY


def test_evaluate_is_a_model_graded_finding():
    f = iam_policy.evaluate({"p": {"Statement": REPORTS}}, Request("iam:GetCredentialReport"))
    assert not f.ok and f.grade == "model" and "explicitDeny" in f.actual and "DenyReports" in f.actual


def test_action_tables_for_the_projects_calls():
    a = "us-east-1", ACCT
    assert iam_actions.resource_arns("eks", "DescribeCluster", {"name": "c1"}, *a) == [
        f"arn:aws:eks:us-east-1:{ACCT}:cluster/c1"]
    assert iam_actions.resource_arns("eks", "ListClusters", {}, *a) == ["*"]
    assert iam_actions.resource_arns("ec2", "DescribeVpcs", {}, *a) == ["*"]
    assert iam_actions.resource_arns("iam", "GetRole", {"RoleName": "r"}, *a) == [f"arn:aws:iam::{ACCT}:role/r"]
    assert iam_actions.resource_arns("cloudformation", "DescribeStacks", {}, *a) == ["*"]  # optional resource
    assert iam_actions.resource_arns("cloudwatch", "DescribeAlarms", {"AlarmNames": ["x", "y"]}, *a) == [
        f"arn:aws:cloudwatch:us-east-1:{ACCT}:alarm:x", f"arn:aws:cloudwatch:us-east-1:{ACCT}:alarm:y"]
    stack = f"arn:aws:cloudformation:us-east-1:{ACCT}:stack/s/1"
    assert iam_actions.resource_arns("cloudformation", "DescribeStackEvents", {"StackName": stack}, *a) == [stack]
    looked = iam_actions.resource_arns("cloudformation", "DescribeStackEvents", {"StackName": "s"}, *a,
                                       lookup=lambda rt, guess, p: guess.replace("/*", "/id-1"))
    assert looked == [f"arn:aws:cloudformation:us-east-1:{ACCT}:stack/s/id-1"]
    assert iam_actions.is_write("cloudformation", "ExecuteChangeSet")
    assert iam_actions.is_write("iam", "PutRolePolicy")
    assert not iam_actions.is_write("eks", "DescribeCluster") and not iam_actions.is_write("ce", "GetCostAndUsage")
    assert iam_actions.prefix("monitoring") == "cloudwatch"
    assert iam_actions.context_keys({"Namespace": "p/Deploy"}) == {"cloudwatch:namespace": ["p/Deploy"]}
