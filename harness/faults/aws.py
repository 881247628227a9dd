"""Seeded faults of the AWS area: CloudFormation templates, the IAM template, the cost estimate's sizing.

Each is applied to a copy (templates in a temporary directory, an
environment's settings), never to the committed files, and anchored to the
text it changes: a reworded template makes the fault fail loudly, never a
silent no-op.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from provision import errors
from provision.aws.cfn import load
from provision.config import Environment

# fault -> (template, pattern, replacement): each must match the committed template.
TEMPLATE_FAULTS = {
    "malformed-template": ("eks.yaml", r"^Resources:\n", "Resources:\n  Broken: [unclosed\n"),
    # The first private route table sends 0.0.0.0/0 to the internet gateway: its subnet turns public.
    "public-node-subnet": ("network.yaml", r"NatGatewayId: !Ref NatGateway1\n", "GatewayId: !Ref InternetGateway\n"),
    "no-secret-encryption": ("eks.yaml", r"      EncryptionConfig:\n(        .*\n)+?(?=      Logging:)", ""),
    "wrong-instance-type": ("eks.yaml", r"InstanceTypes: \[!Ref NodeInstanceType\]", "InstanceTypes: [m5.xlarge]"),
    "alarm-without-action": ("monitoring.yaml", r"      AlarmActions: \[!Ref AlertTopic\]\n", ""),
}
FAULT_UNKNOWN = "unknown seeded fault {fault!r}: expected one of {known}"
FAULT_STALE = "seeded fault {fault!r} no longer matches {template}: update harness/faults/aws.py"


def seeded_templates(fault: str, dest: Path) -> Path:
    """A copy of the templates in `dest` with `fault` applied; returns the copy's directory."""
    if fault not in TEMPLATE_FAULTS:
        raise KeyError(FAULT_UNKNOWN.format(fault=fault, known=", ".join(TEMPLATE_FAULTS)))
    dest = Path(dest) / "cloudformation"
    shutil.copytree(load.TEMPLATE_DIR, dest, dirs_exist_ok=True)
    name, pattern, replacement = TEMPLATE_FAULTS[fault]
    text = (dest / name).read_text()
    new, n = re.subn(pattern, replacement, text, count=1, flags=re.M)
    if n != 1:
        raise AssertionError(FAULT_STALE.format(fault=fault, template=name))
    (dest / name).write_text(new)
    return dest


# ---- the IAM template (features/oidc.feature): each turns one IAM check red.

_DEPLOY_TRUST = '''            "Condition": {"StringEquals": {
              "${OidcIssuer}:aud": "${OidcAudience}",
              "${OidcIssuer}:sub": "${DeploySubject}"}}}]}'''
IAM_FAULTS = {
    "wildcard-admin-policy": ("""        - PolicyName: deploy
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
""", """        - PolicyName: deploy
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Sid: SeededAdmin
                Effect: Allow
                Action: "*"
                Resource: "*"
"""),
    "open-trust-subject": (_DEPLOY_TRUST, '''            "Condition": {"StringEquals": {
              "${OidcIssuer}:aud": "${OidcAudience}"},
              "StringLike": {"${OidcIssuer}:sub": "repo:*"}}}]}'''),
    "missing-audience": (_DEPLOY_TRUST, '''            "Condition": {"StringEquals": {
              "${OidcIssuer}:sub": "${DeploySubject}"}}}]}'''),
}
IAM_FAULT_NOT_APPLIED = "seeded fault {fault!r} no longer applies to {path}: update harness/faults/aws.py IAM_FAULTS"


def seeded_iam_copy(fault: str, directory: Path, source: Path = load.IAM_TEMPLATE) -> Path:
    """A copy of the IAM template with `fault` applied, in `directory`."""
    if fault not in IAM_FAULTS:
        raise errors.BadInput(FAULT_UNKNOWN.format(fault=fault, known=", ".join(IAM_FAULTS)))
    old, new = IAM_FAULTS[fault]
    text = Path(source).read_text()
    if text.count(old) != 1:
        raise errors.ProvisionError(IAM_FAULT_NOT_APPLIED.format(fault=fault, path=source))
    out = Path(directory) / Path(source).name
    out.write_text(text.replace(old, new))
    return out


# ---- the cost estimate (features/cost.feature): overrides of an environment's settings.

COST_FAULTS = {
    "ten-m5-xlarge-nodes": {"node_instance_type": "m5.xlarge", "node_min": 10, "node_desired": 10, "node_max": 10},
    "nat-per-az-times-5": {"nat_gateways": 10},
}
UNKNOWN_COST_FAULT = "unknown seeded cost fault {fault!r}: expected one of {known}"


def cost_environment(name: str, fault: str) -> Environment:
    """The environment with a seeded cost fault applied to its copy of the settings."""
    if fault not in COST_FAULTS:
        raise errors.BadInput(UNKNOWN_COST_FAULT.format(fault=fault, known=", ".join(COST_FAULTS)))
    return Environment.named(name, overrides=COST_FAULTS[fault])
