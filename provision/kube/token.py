"""The EKS bearer token, as `aws eks get-token` makes it, and a kubectl exec plugin that prints it.

The token is `k8s-aws-v1.` + base64url (unpadded) of a presigned STS GetCallerIdentity URL whose
signature covers the header `x-k8s-aws-id: <cluster name>` (aws-iam-authenticator pkg/token/token.go;
awscli customizations/eks/get_token.py). Whoever holds it can make STS say who signed it, for that
cluster only, for 15 minutes after X-Amz-Date. The AWS credentials are botocore's usual chain (the
environment first); AWS_ENDPOINT_URL, when set, is the STS endpoint signed for, as the AWS CLI does.

    python -m provision.kube.token --cluster-name NAME [--region REGION]

prints the ExecCredential JSON a kubeconfig `exec` user reads (provision.local.kubeconfig writes one).
"""
from __future__ import annotations

import argparse
import base64
import datetime
import json
import sys

import boto3
import botocore.session

PREFIX = "k8s-aws-v1."
CLUSTER_HEADER = "x-k8s-aws-id"
PRESIGN_EXPIRES = 60             # the X-Amz-Expires the CLI sends; STS honours 15 minutes from X-Amz-Date
LIFETIME = datetime.timedelta(minutes=15)
EXEC_API = "client.authentication.k8s.io/v1beta1"


def _add_cluster_header(cluster_id: str):
    def handler(request, **_):
        request.headers[CLUSTER_HEADER] = cluster_id
    return handler


def presigned_url(cluster_id: str, region: str, session: boto3.Session | None = None,
                  endpoint_url: str | None = None) -> str:
    """The presigned GetCallerIdentity URL with the cluster header signed (regional STS endpoint)."""
    session = session or boto3.Session()
    client = session.client("sts", region_name=region, endpoint_url=endpoint_url)
    client.meta.events.register("before-sign.sts.GetCallerIdentity", _add_cluster_header(cluster_id))
    return client.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=PRESIGN_EXPIRES,
                                         HttpMethod="GET")


def encode(url: str) -> str:
    return PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def decode(token: str) -> str:
    """The URL inside a token; ValueError when it is not one."""
    if not token.startswith(PREFIX):
        raise ValueError(f"token is missing the {PREFIX!r} prefix")
    body = token[len(PREFIX):]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def get_token(cluster_id: str, region: str, session: boto3.Session | None = None,
              endpoint_url: str | None = None) -> str:
    return encode(presigned_url(cluster_id, region, session, endpoint_url))


def exec_credential(token: str, now: datetime.datetime | None = None) -> dict:
    """The ExecCredential kubectl reads; expires a minute before STS stops honouring the URL."""
    now = now or datetime.datetime.now(datetime.UTC)
    expires = (now + LIFETIME - datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"kind": "ExecCredential", "apiVersion": EXEC_API, "spec": {},
            "status": {"expirationTimestamp": expires, "token": token}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m provision.kube.token", description=__doc__.splitlines()[0])
    p.add_argument("--cluster-name", required=True)
    p.add_argument("--region", default=None, help="default: the AWS region of the environment")
    args = p.parse_args(argv)
    region = args.region or botocore.session.get_session().get_config_variable("region") or "us-east-1"
    json.dump(exec_credential(get_token(args.cluster_name, region)), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
