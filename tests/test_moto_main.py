"""moto's KMS keys made by its CloudFormation answer only with the fix of provision/local/moto_main.py.

Each case runs in a fresh interpreter: moto's classes are process state, and the suite's other tests
(in-process moto, xdist workers) must neither see the fix nor hide the defect."""
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.offline, pytest.mark.unit]

SCRIPT = """
import json, sys
import boto3
from moto import mock_aws
if sys.argv[1] == "fixed":
    from provision.local import moto_main
    moto_main.fix_cfn_key_policy()
t = json.dumps({"Resources": {
    "K": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}]}}},
    "A": {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": "alias/t-backups", "TargetKeyId": {"Ref": "K"}}}}})
with mock_aws():
    boto3.client("cloudformation", region_name="us-east-1").create_stack(StackName="s", TemplateBody=t)
    try:
        print(boto3.client("kms", region_name="us-east-1").describe_key(KeyId="alias/t-backups")["KeyMetadata"]["Arn"])
    except Exception as exc:
        print("ERROR", exc)
"""


def _describe(mode: str) -> str:
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120,
                          env=env).stdout.strip()


def test_moto_without_the_fix_cannot_describe_a_key_its_cloudformation_made():
    assert "JSON object must be str" in _describe("as-moto-ships")


def test_with_the_fix_the_key_answers_by_its_alias():
    assert _describe("fixed").startswith("arn:aws:kms:us-east-1:")
