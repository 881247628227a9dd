"""moto in server mode on 127.0.0.1: the offline AWS endpoint."""
from __future__ import annotations

import sys
from pathlib import Path

from .. import config
from . import procs

NAME = "moto"

# What moto cannot show; named in every report that relies on moto.
GAPS = {
    "AWS::EKS::Cluster": ("moto's CloudFormation ignores AWS::EKS::Cluster "
                          "(the stack says CREATE_COMPLETE without it); checked statically and live"),
    "AWS::EKS::Nodegroup": "moto's CloudFormation ignores AWS::EKS::Nodegroup; checked statically and live",
    "AWS::EKS::Addon": "moto implements no EKS add-ons; checked statically and live",
    "AWS::IAM::OIDCProvider": ("moto's CloudFormation ignores AWS::IAM::OIDCProvider; "
                               "the trust policy is evaluated by the harness, live by IAM"),
    "AWS::CloudWatch::Alarm": "moto's CloudFormation ignores AWS::CloudWatch::Alarm; checked statically and live",
    "AWS::Budgets::Budget": "moto's CloudFormation ignores AWS::Budgets::Budget; checked statically and live",
    "sts-web-identity": ("moto's STS accepts any web-identity token; "
                         "the harness validates the token and the trust policy, live STS does it for real"),
    "iam-simulation": ("moto does not simulate IAM policies; "
                       "least privilege is checked statically (parliament, own rules) and live"),
    "AWS::SNS::Subscription": ("moto's CloudFormation records no AWS::SNS::Subscription and nobody confirms an "
                               "e-mail offline; the subscription is checked statically and, confirmed, live"),
    "AWS::S3::BucketPolicy": ("moto's CloudFormation ignores AWS::S3::BucketPolicy and moto enforces no bucket "
                              "policy; the backup bucket's policy is checked statically and read back live"),
    "s3-bucket-config": ("moto's CloudFormation applies only an AWS::S3::Bucket's encryption and tags (no "
                         "versioning, public access block, lifecycle); checked statically and read back live"),
    "cost-explorer": "moto has no Cost Explorer forecast; actual spend is checked live only",
    "cfn-drift": ("the AWS endpoint does not implement CloudFormation drift detection (moto); "
                  "drift is checked live only"),
    "cfn-delete": ("the endpoint's CloudFormation dropped the stack but left resources it cannot delete: "
                   "moto does not delete route tables, NAT and internet gateways of a deleted stack"),
    "budgets-subscribers": ("moto's Budgets API has no DescribeSubscribersForNotification; "
                            "the thresholds' SNS subscribers are checked statically and live"),
}


def start(state_dir: Path, progress=print) -> dict:
    port = procs.free_port()
    progress(f"starting moto server on 127.0.0.1:{port}")
    from . import stack

    # The rehearsal's moto answers as the account of settings.yaml, so ARNs match the access entries and policies.
    env = {"MOTO_ACCOUNT_ID": config.settings()["aws"]["account_id"]} if stack.mode_of(state_dir) == "rehearsal" else {}
    pid = procs.spawn(NAME, [sys.executable, "-m", "provision.local.moto_main", "-H", "127.0.0.1", "-p", str(port)],
                      state_dir,
                      env=env)
    procs.wait_port("127.0.0.1", port, 30, pid, "moto server")
    return {"aws_endpoint_url": f"http://127.0.0.1:{port}"}


def stop(state_dir: Path) -> None:
    procs.stop(NAME, state_dir)
