"""Static checks of backup.yaml (bucket, key, both roles), each turned red by a seeded fault in a copy of the
template, and the read-back probe on moto (unverifiable where moto's CloudFormation ignores a property)."""
from __future__ import annotations

import shutil
import uuid

import pytest

from provision import config
from provision.aws.cfn import load
from provision.backup import bucket_checks as bc
from provision.findings import caught

pytestmark = [pytest.mark.offline, pytest.mark.unit]

UPLOAD_DENIES = load.path("backup").read_text().split("          - Sid: DenyUnencryptedUploads", 1)[1].split(
    "  # The backup CronJob's", 1)[0]
UPLOAD_DENIES = "          - Sid: DenyUnencryptedUploads" + UPLOAD_DENIES

# fault -> (anchor in backup.yaml, replacement, check, naming)
FAULTS = {
    "versioning suspended": ("Status: Enabled\n      BucketEncryption", "Status: Suspended\n      BucketEncryption",
                             bc.versioning, "Suspended"),
    "SSE-S3 instead of SSE-KMS": ("SSEAlgorithm: aws:kms", "SSEAlgorithm: AES256", bc.encryption, "AES256"),
    "an AWS managed key": ("              KMSMasterKeyID: !GetAtt BackupKey.Arn\n", "", bc.encryption,
                           "not its own key"),
    "key rotation off": ("EnableKeyRotation: true", "EnableKeyRotation: false", bc.encryption, "rotation is off"),
    "public policies allowed": ("BlockPublicPolicy: true", "BlockPublicPolicy: false", bc.public_access_blocked,
                                "BlockPublicPolicy"),
    "plain HTTP allowed": ('aws:SecureTransport: "false"', 'aws:SecureTransport: "never"', bc.bucket_policy,
                           "plain HTTP"),
    "no upload is refused for its encryption": (
        UPLOAD_DENIES, "", bc.bucket_policy, "unencrypted upload"),
    "any key passes": ("StringNotEquals:\n                s3:x-amz-server-side-encryption-aws-kms-key-id:",
                       "StringNotLike:\n                s3:x-amz-server-side-encryption-aws-kms-key-id: '*'\n"
                       "                s3:unused:", bc.bucket_policy, "another KMS key"),
    "no expiry": ("ExpirationInDays: !Ref BackupRetentionDays", "ExpirationInDays: 3650", bc.lifecycle,
                  "not retention_days"),
    "noncurrent versions kept forever": ("NoncurrentDays: !Ref BackupRetentionDays", "NoncurrentDays: 36500",
                                         bc.lifecycle, "noncurrent"),
    "job role may put anywhere": ("Resource: !Sub arn:${AWS::Partition}:s3:::${BackupBucket}/${BackupPrefix}/"
                                  "${EnvironmentName}/*\n              - Sid: EncryptWithTheBackupKey",
                                  "Resource: !Sub arn:${AWS::Partition}:s3:::${BackupBucket}/*\n"
                                  "              - Sid: EncryptWithTheBackupKey", "job_rights", "outside the prefix"),
    "job role may delete": ("Action: s3:PutObject\n                Resource: !Sub arn:${AWS::Partition}:s3:::"
                            "${BackupBucket}/${BackupPrefix}/${EnvironmentName}/*\n              - Sid: Encrypt",
                            "Action: [s3:PutObject, s3:DeleteObject]\n                Resource: !Sub arn:"
                            "${AWS::Partition}:s3:::${BackupBucket}/${BackupPrefix}/${EnvironmentName}/*\n"
                            "              - Sid: Encrypt", "job_rights", "delete a set"),
    "job role may decrypt": ("Action: [kms:GenerateDataKey, kms:Encrypt, kms:DescribeKey]",
                             "Action: [kms:GenerateDataKey, kms:*]", "job_rights", "decrypt"),
    "drill role may write": ("Action: s3:GetObject", "Action: [s3:GetObject, s3:PutObject]", "drill_rights",
                             "put a set"),
    "drill role may use any key": ("Action: kms:Decrypt\n                Resource: !GetAtt BackupKey.Arn",
                                   "Action: kms:Decrypt\n                Resource: '*'", "drill_rights",
                                   "another key"),
    "drill role lists the whole bucket": ("s3:prefix: !Sub ${BackupPrefix}/${EnvironmentName}/*", "s3:prefix: '*'",
                                          "drill_rights", "whole bucket"),
    "job role trusts any service account": ("system:serviceaccount:${AppNamespace}:${BackupServiceAccount}",
                                            "system:serviceaccount:${AppNamespace}:*", "job_trust",
                                            "refuses its own"),
    "drill role trusts the verification job": ('"${OidcIssuer}:sub": "${DrillSubject}"}}}]}',
                                               '"${OidcIssuer}:sub": ["${DrillSubject}", "repo:'
                                               'cloudtolocalllm/cloudtolocalllm:environment:live-verify"]}}}]}',
                                               "drill_trust", "verification job"),
}


def _check(check, r, env):
    s = config.settings()
    return {"job_rights": lambda: bc.job_role_rights(r, env), "drill_rights": lambda: bc.drill_role_rights(r, env),
            "job_trust": lambda: bc.job_role_trust(r, s["kubernetes"]["namespace"], s["backup"]["service_account"]),
            "drill_trust": lambda: bc.drill_role_trust(r)}.get(check, lambda: check(r))()


def test_the_committed_template_passes_every_check():
    f = bc.template_check(config.Environment.named("dev"))
    assert f.ok, f.evidence
    assert f.grade == "static" or f.grade == "model"


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_seeded_fault_turns_its_check_red(fault, tmp_path):
    anchor, replacement, check, naming = FAULTS[fault]
    d = tmp_path / "cfn"
    shutil.copytree(load.TEMPLATE_DIR, d)
    text = (d / "backup.yaml").read_text()
    assert text.count(anchor) == 1, f"anchor of {fault!r} is not in backup.yaml exactly once"
    (d / "backup.yaml").write_text(text.replace(anchor, replacement))
    env = config.Environment.named("dev", template_dir=d)
    r = bc.rendered(env)
    assert bc.template_check(env).status == "failed"
    found = _check(check, r, env)
    assert caught(found, naming).ok, found.line() + "\n" + "\n".join(found.evidence)


def test_the_roles_are_judged_like_the_other_roles_no_over_broad_policy():
    from provision.aws import trust_checks

    r = bc.rendered(config.Environment.named("dev"))
    assert trust_checks.no_admin(r.t, r, "backup.yaml").ok


def test_the_read_back_probe_is_unverifiable_where_moto_ignores_the_bucket_properties(monkeypatch):
    """On moto (in-process) with its named gaps: encryption passes, the rest cannot be seen."""
    from moto import mock_aws

    from provision.aws import clients
    from provision.config import Target
    from provision.local.moto_server import GAPS

    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    s = config.settings()
    with mock_aws():
        import boto3

        clients._shared.cache_clear()
        env = config.Environment.named("dev", suffix=uuid.uuid4().hex[:8])
        from provision.aws.cfn import parameters
        params = parameters.for_template("backup", load.load(load.path("backup")), env, {})
        boto3.client("cloudformation", region_name=s["aws"]["region"]).create_stack(
            StackName=env.stack_name("backup"), TemplateBody=load.path("backup").read_text(),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            Capabilities=["CAPABILITY_NAMED_IAM"])
        target = Target(name="t", region=s["aws"]["region"], account_id="123456789012", gaps=dict(GAPS),
                        grades={"aws": "emulated"})
        gapped = bc.bucket_as_configured(target, env)
        bare = bc.bucket_as_configured(target.with_(gaps={}), env)  # the same answers from an endpoint without gaps
        clients._shared.cache_clear()
    assert gapped.unverifiable and gapped.grade == "emulated", gapped.evidence
    assert any(ln.startswith("ok") and "encryption" in ln for ln in gapped.evidence)
    assert caught(bare, "versioning is off").ok and caught(bare, "no bucket policy").ok
