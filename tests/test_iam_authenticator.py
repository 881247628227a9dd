"""The IAM-to-Kubernetes link of the rehearsal: EKS tokens as `aws eks get-token` makes them, verified
as aws-iam-authenticator verifies them, and a kube-apiserver (strict mode) that authenticates them
through the webhook and authorises them with the access entries' rights, writing an audit log."""
from __future__ import annotations

import json
import sys
import time

import boto3
import pytest

from provision import config
from provision.kube import access_entries, client
from provision.kube import token as tk
from provision.local import controlplane, controlplane_strict, iam_authenticator, moto_server
from provision.local.kubeconfig import write_eks_kubeconfig

pytestmark = [pytest.mark.offline]

S = config.settings()
REGION, ACCOUNT, APP_NS = S["aws"]["region"], S["aws"]["account_id"], S["kubernetes"]["namespace"]
CLUSTER = config.Environment.named("dev").cluster_name


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    """A moto server of its own, in the settings' account (the access entries name its roles)."""
    d = tmp_path_factory.mktemp("moto")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
        endpoint = moto_server.start(d, progress=lambda m: None)["aws_endpoint_url"]
    yield endpoint
    moto_server.stop(d)


def _assume(endpoint: str, kind: str, session_name: str = "GitHubActions") -> boto3.Session:
    """Credentials of the environment's deploy or verify role, assumed through moto's STS."""
    principal = {e.logical_id: e.principal_arn for e in access_entries.for_environment("dev")}[
        f"{kind.capitalize()}AccessEntry"]
    kw = {"endpoint_url": endpoint, "region_name": REGION, "aws_access_key_id": "testing",
          "aws_secret_access_key": "testing"}
    iam = boto3.client("iam", **kw)
    try:
        iam.create_role(RoleName=principal.rsplit("/", 1)[-1], AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": []}))
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    c = boto3.client("sts", **kw).assume_role(RoleArn=principal, RoleSessionName=session_name)["Credentials"]
    return boto3.Session(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                         aws_session_token=c["SessionToken"], region_name=REGION)


def _caller(token: str, endpoint: str, cluster: str = CLUSTER, now: float | None = None):
    return iam_authenticator.caller(token, cluster, REGION, endpoint, "moto", now=now)


def test_a_token_has_the_eks_format_and_signs_the_cluster_header(moto):
    token = tk.get_token(CLUSTER, REGION, _assume(moto, "deploy"), endpoint_url=f"https://sts.{REGION}.amazonaws.com")
    assert token.startswith("k8s-aws-v1.") and "=" not in token
    url = tk.decode(token)
    assert url.startswith(f"https://sts.{REGION}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&")
    assert "X-Amz-SignedHeaders=host%3Bx-k8s-aws-id" in url and "X-Amz-Expires=60" in url
    cred = tk.exec_credential(token)
    assert (cred["kind"], cred["apiVersion"], cred["status"]["token"]) == (
        "ExecCredential", "client.authentication.k8s.io/v1beta1", token)


def test_a_valid_token_names_the_assumed_role_and_maps_to_its_access_entry(moto):
    token = tk.get_token(CLUSTER, REGION, _assume(moto, "deploy"), endpoint_url=moto)
    who = _caller(token, moto)
    assert who.arn.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/") and who.arn.endswith("/GitHubActions")
    status = iam_authenticator.review(token, {"cluster_id": CLUSTER, "region": REGION, "sts_endpoint": moto,
                                              "sts_kind": "moto"}, access_entries.for_environment("dev"))
    assert status["authenticated"] and status["user"]["username"] == who.arn
    assert status["user"]["groups"][-1].startswith(access_entries.GROUP_PREFIX)


@pytest.mark.parametrize("fault", ["another cluster", "expired", "tampered signature", "no cluster header",
                                   "another host", "not a token"])
def test_seeded_fault_a_bad_token_is_refused(moto, fault):
    session = _assume(moto, "deploy")
    token = tk.get_token(CLUSTER, REGION, session, endpoint_url=moto)
    cluster, now, want = CLUSTER, None, iam_authenticator.BAD_SIGNATURE
    if fault == "another cluster":
        token = tk.get_token("some-other-cluster", REGION, session, endpoint_url=moto)
    elif fault == "expired":
        now, want = time.time() + 16 * 60, "X-Amz-Date parameter is expired (15 minute expiration)"
    elif fault == "tampered signature":
        url = tk.decode(token)
        token = tk.encode(url[:-4] + ("0000" if not url.endswith("0000") else "1111"))
    elif fault == "no cluster header":
        url = session.client("sts", endpoint_url=moto).generate_presigned_url("get_caller_identity", ExpiresIn=60)
        token, want = tk.encode(url), "client did not sign the x-k8s-aws-id header"
    elif fault == "another host":
        token, want = tk.encode(tk.decode(token).replace("127.0.0.1", "localhost")), "unexpected hostname"
    elif fault == "not a token":
        token, want = "Bearer-abc", "token is missing expected 'k8s-aws-v1.' prefix"
    with pytest.raises(iam_authenticator.TokenRejected, match=want.replace("(", r"\(").replace(")", r"\)")):
        _caller(token, moto, cluster, now)


def test_strict_control_plane_authenticates_iam_tokens_authorises_access_entries_and_audits(moto, tmp_path):
    """One short-lived API server in strict mode behind the webhook: the deploy role creates a Deployment
    in the app namespace and is refused a ClusterRoleBinding; the verify role reads and cannot write;
    the audit log records each write with the IAM identity."""
    state = tmp_path / "cp"
    iam_authenticator.start(state, progress=lambda m: None, sts_endpoint=moto, sts_kind="moto")
    try:
        with controlplane.temporary(state, apiserver_only=True, strict=True) as info:
            kubeconfigs = {}
            for kind in ("deploy", "verify"):
                creds = _assume(moto, kind).get_credentials()
                kubeconfigs[kind] = tmp_path / f"{kind}.kubeconfig"
                write_eks_kubeconfig(kubeconfigs[kind], info["server"], info["kubernetes_ca"], CLUSTER, REGION,
                                     ACCOUNT, [sys.executable, "-m", "provision.kube.token"],
                                     env={"AWS_ACCESS_KEY_ID": creds.access_key,
                                          "AWS_SECRET_ACCESS_KEY": creds.secret_key,
                                          "AWS_SESSION_TOKEN": creds.token, "AWS_ENDPOINT_URL": moto})
            deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                          "metadata": {"name": "web", "namespace": APP_NS},
                          "spec": {"selector": {"matchLabels": {"app": "web"}},
                                   "template": {"metadata": {"labels": {"app": "web"}},
                                                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}}
            assert client.create(kubeconfigs["deploy"], deployment)["metadata"]["name"] == "web"
            crb = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                   "metadata": {"name": "escalate"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "x"}]}
            with pytest.raises(client.ApiError) as refused:
                client.create(kubeconfigs["deploy"], crb)
            assert refused.value.status == 403
            with pytest.raises(client.ApiError) as other_ns:
                client.create(kubeconfigs["deploy"], {**deployment, "metadata": {"name": "w", "namespace": "default"}})
            assert other_ns.value.status == 403
            assert client.get(kubeconfigs["verify"], "apps/v1", "Deployment", "web", APP_NS) is not None
            with pytest.raises(client.ApiError) as ro:
                client.delete(kubeconfigs["verify"], "apps/v1", "Deployment", "web", APP_NS)
            assert ro.value.status == 403
            deploy_writes = controlplane_strict.writes(info["audit_log"], prefix=f"arn:aws:sts::{ACCOUNT}:")
            seen = {(e["verb"], e["objectRef"]["resource"], e["responseStatus"]["code"],
                     e["user"]["username"].split("/")[1]) for e in deploy_writes}
            deploy_role = access_entries.for_environment("dev")[0].principal_arn.rsplit("/", 1)[-1]
            verify_role = access_entries.for_environment("dev")[1].principal_arn.rsplit("/", 1)[-1]
            assert ("create", "deployments", 201, deploy_role) in seen
            assert ("create", "clusterrolebindings", 403, deploy_role) in seen
            assert {s for s in seen if s[3] == verify_role} == {("delete", "deployments", 403, verify_role)}
    finally:
        iam_authenticator.stop(state)
    assert not list(state.glob("*.pid"))
