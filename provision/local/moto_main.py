"""moto's server (`python -m moto.server`), with one defect of moto's own fixed first.

moto's CloudFormation stores an AWS::KMS::Key's `KeyPolicy` as the template's mapping, while its KMS API
reads the policy as JSON text: every DescribeKey, Encrypt or GenerateDataKey on such a key then fails with
an internal error (moto 5.x, `policy_validator.validate_policy`). Real CloudFormation stores the policy
as a document, so the key answers. The fix serialises the mapping before moto creates the key; nothing
else of moto changes. tests/test_moto_main.py shows the defect and the fix.
"""
from __future__ import annotations

import json
import sys


def fix_cfn_key_policy() -> None:
    from moto.kms import models

    create = models.Key.create_from_cloudformation_json.__func__

    def create_with_text_policy(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.get("Properties") or {}
        if isinstance(props.get("KeyPolicy"), dict):
            props["KeyPolicy"] = json.dumps(props["KeyPolicy"])
        return create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    models.Key.create_from_cloudformation_json = classmethod(create_with_text_policy)


if __name__ == "__main__":
    fix_cfn_key_policy()
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
