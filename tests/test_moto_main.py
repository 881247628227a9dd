"""moto's KMS keys made by its CloudFormation answer only with the fix of provision/local/moto_main.py."""
import json

import boto3
import pytest
from moto import mock_aws

from provision.local import moto_main

pytestmark = [pytest.mark.offline, pytest.mark.unit]

TEMPLATE = json.dumps({"Resources": {
    "K": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}]}}},
    "A": {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": "alias/t-backups", "TargetKeyId": {"Ref": "K"}}}}})


def _describe_by_alias():
    with mock_aws():
        boto3.client("cloudformation", region_name="us-east-1").create_stack(StackName="s", TemplateBody=TEMPLATE)
        return boto3.client("kms", region_name="us-east-1").describe_key(KeyId="alias/t-backups")["KeyMetadata"]


def test_moto_without_the_fix_cannot_describe_a_key_its_cloudformation_made():
    from moto.kms import models

    saved = models.Key.__dict__["create_from_cloudformation_json"]
    try:
        with pytest.raises(Exception, match="JSON object must be str"):
            _describe_by_alias()
        moto_main.fix_cfn_key_policy()
        assert _describe_by_alias()["Arn"].startswith("arn:aws:kms:us-east-1:")
    finally:
        models.Key.create_from_cloudformation_json = saved
