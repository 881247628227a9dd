"""The nightly drill job in the rehearsal: `verify-live.yml` job `drill`, with exactly its rights.

The job's role is the backup stack's DrillRole, obtained through the OIDC exchange with the claims
GitHub sends that job (its GitHub environment's subject); it holds no kubeconfig and no Cloudflare
token. Its backups are the CronJob's: kwok runs no container, so the operator uploads the set the
CronJob would have taken (a named gap of the rehearsal). After the block the process acts as the
nightly verify job again, as the rest of the rehearsal expects.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import botocore.exceptions

from harness import oidc_runs
from harness.rehearsal import VERIFY_JOB, VERIFY_WORKFLOW, Identity, become, job, operator
from provision.aws import clients, sts
from provision.aws.stack_api import outputs
from provision.backup import store
from provision.config import Environment, Target
from provision.findings import Finding, failed, passed

DRILL_WORKFLOW, DRILL_JOB = VERIFY_WORKFLOW, "drill"
CRONJOB_GAP = ("kwok runs no container: the operator uploads the set the backup CronJob would have taken "
               "(its IRSA role needs the cluster's OIDC issuer, which moto's EKS does not have)")


def upload_as_cronjob(target: Target, env: Environment, bset) -> store.Location:
    """Upload a backup set as the CronJob would (the operator stands in for it: CRONJOB_GAP)."""
    become(operator(target))
    try:
        loc = store.location(target, env)
        store.upload(clients.client(target, "s3"), loc, bset)
        return loc
    finally:
        become(job(target, VERIFY_WORKFLOW, VERIFY_JOB, "VerifyRole", "verify"))


@contextmanager
def as_drill_job(target: Target, env: Environment) -> Iterator[Identity]:
    """Act as the drill job inside the block: its role's session, no kubeconfig, no Cloudflare token."""
    become(operator(target))
    try:
        arn = outputs(target, env, store.STACK)["DrillRoleArn"]
        token = oidc_runs.job_token(oidc_runs.issuer(target), DRILL_WORKFLOW, DRILL_JOB)
        creds = sts.exchange(target, arn, token)
        drill = Identity(f"{DRILL_WORKFLOW}/{DRILL_JOB}", {
            "AWS_ACCESS_KEY_ID": creds.access_key_id, "AWS_SECRET_ACCESS_KEY": str(creds.secret_access_key),
            "AWS_SESSION_TOKEN": str(creds.session_token)})
        become(drill)
        for k in ("KUBECONFIG", "CLOUDFLARE_API_TOKEN"):  # the job has neither
            os.environ.pop(k, None)
        yield drill
    finally:
        become(job(target, VERIFY_WORKFLOW, VERIFY_JOB, "VerifyRole", "verify"))


def refusals(target: Target, env: Environment, loc: store.Location) -> Finding:
    """What the drill job's role must not do, tried as that role: write a backup, read the stacks; each
    must be answered AccessDenied."""
    tries = {
        "s3:PutObject under the backup prefix": lambda: clients.client(target, "s3").put_object(
            Bucket=loc.bucket, Key=f"{loc.prefix}drill-may-not-write", Body=b"x",
            ServerSideEncryption="aws:kms", SSEKMSKeyId=loc.key_arn),
        "cloudformation:DescribeStacks of the backup stack": lambda: clients.client(
            target, "cloudformation").describe_stacks(StackName=env.stack_name(store.STACK)),
    }
    lines, bad = [], []
    for what, call in tries.items():
        try:
            call()
        except botocore.exceptions.ClientError as exc:
            code = exc.response["Error"]["Code"]
            if store.readable(exc):  # an AccessDenied: refused, as it must be
                lines.append(f"{what}: {code}")
            else:
                bad.append(f"FAIL {what}: {code}, not a refusal")
        else:
            bad.append(f"FAIL {what}: allowed")
    subject = "the drill job's role may read the backups and nothing else"
    if bad:
        return failed(subject, "AccessDenied for each", "; ".join(b.removeprefix("FAIL ") for b in bad),
                      [*bad, *lines], grade=target.grade("aws"))
    return passed(subject, "AccessDenied for each", f"{len(lines)} refused", lines, grade=target.grade("aws"))
