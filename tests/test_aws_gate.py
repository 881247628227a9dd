"""The AWS enforcement point (provision.local.aws_gate) on loopback: moto, the local OIDC issuer and the
gate, with the real roles of iam.yaml created through it by the operator."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from provision import config, errors
from provision.aws import clients, iam_actions, sts
from provision.config import Environment, Target
from provision.kube import app_secret
from provision.local import aws_gate, aws_requests, moto_server, oidc

pytestmark = pytest.mark.offline
GH = config.settings()["github"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("aws-gate")
    try:
        moto = moto_server.start(d, lambda m: None)
        issuer = oidc.start(d, lambda m: None)
        gate = aws_gate.launch(d, moto["aws_endpoint_url"], issuer["oidc_issuer_url"], lambda m: None)
        s = config.settings()
        target = Target(name="rehearsal", region=s["aws"]["region"], account_id=s["aws"]["account_id"],
                        aws_endpoint_url=gate["aws_endpoint_url"], oidc_issuer_url=issuer["oidc_issuer_url"],
                        grades={"aws": "emulated"})
        yield {"dir": d, "gate": gate, "issuer": issuer, "target": target, "env": Environment.named("dev")}
    finally:
        aws_gate.stop(d)
        oidc.stop(d)
        moto_server.stop(d)


def _as(monkeypatch, creds: dict):
    """Ambient credentials for the provisioner's clients (as a workflow job's environment sets them)."""
    for k, v in creds.items():
        monkeypatch.setenv(k.upper(), v)
    if "aws_session_token" not in creds:
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    boto3.setup_default_session()  # boto3's default session keeps the credentials it first found
    clients._shared.cache_clear()


def _operator(world) -> dict:
    op = world["gate"]["operator"]
    return {"aws_access_key_id": op["access_key_id"], "aws_secret_access_key": op["secret_access_key"]}


def _token(world, subject: str) -> str:
    claims = oidc.run_claims(world["issuer"]["oidc_issuer_url"])
    return oidc.mint(world["issuer"], {**claims, "sub": subject})


def _session(world, role_arn: str, subject: str) -> dict:
    c = sts.exchange(world["target"], role_arn, _token(world, subject))
    return {"aws_access_key_id": c.access_key_id, "aws_secret_access_key": str(c.secret_access_key),
            "aws_session_token": str(c.session_token)}


@pytest.fixture(scope="module")
def roles(world):
    """The operator applies iam.yaml's roles and seeds the deploy's secret source, through the gate."""
    mp = pytest.MonkeyPatch()
    try:
        _as(mp, _operator(world))
        arns = sts.ensure_roles(world["target"], world["env"])
        app_secret.seed_offline_source(world["target"], "dev", ["k"])
    finally:
        mp.undo()
        boto3.setup_default_session()
        clients._shared.cache_clear()
    return arns


def _client(world, service: str, creds: dict):
    return boto3.client(service, endpoint_url=world["target"].aws_endpoint_url, region_name=world["target"].region,
                        **creds)


def test_allowed_and_denied_calls_of_a_role_session(world, roles, monkeypatch):
    deploy = _session(world, roles["DeployRole"], GH["deploy_subject"])
    who = _client(world, "sts", deploy).get_caller_identity()["Arn"]
    assert f":assumed-role/{roles['DeployRole'].rsplit('/', 1)[-1]}/" in who
    _as(monkeypatch, deploy)
    assert app_secret.read_source(world["target"], "dev", ["k"]) == {"k": app_secret.source_values(
        world["target"], app_secret.source_name("dev"))["k"]}  # ReadAppSecrets allows it
    for service, call, code in [
        ("iam", lambda c: c.list_roles(), "AccessDenied"),
        ("ec2", lambda c: c.describe_vpcs(), "UnauthorizedOperation"),
        ("secretsmanager", lambda c: c.list_secrets(), "AccessDeniedException"),
        ("eks", lambda c: c.describe_cluster(name="other-cluster"), "AccessDeniedException"),
        ("cloudwatch", lambda c: c.put_metric_data(Namespace="Other", MetricData=[{"MetricName": "m", "Value": 1}]),
         "AccessDenied"),
    ]:
        with pytest.raises(ClientError) as exc:
            call(_client(world, service, deploy))
        assert exc.value.response["Error"]["Code"] == code, service
        assert "is not authorized to perform" in exc.value.response["Error"]["Message"]
    # The deploy's own metrics namespace is allowed (a condition key of the request).
    ns = f"{config.settings()['project']}/Deploy"
    _client(world, "cloudwatch", deploy).put_metric_data(Namespace=ns, MetricData=[{"MetricName": "m", "Value": 1}])


def test_exchange_refusals(world, roles):
    sts_front = boto3.client("sts", endpoint_url=world["target"].aws_endpoint_url, region_name="us-east-1")
    for role, subject in [(roles["VerifyRole"], GH["deploy_subject"]), (roles["DeployRole"], GH["verify_subject"]),
                          (roles["DeployRole"], GH["deploy_subject"] + "x")]:
        with pytest.raises(ClientError) as exc:
            sts_front.assume_role_with_web_identity(RoleArn=role, RoleSessionName="run-1",
                                                    WebIdentityToken=_token(world, subject))
        assert exc.value.response["Error"]["Code"] == "AccessDenied"
    claims = oidc.run_claims(world["issuer"]["oidc_issuer_url"])
    forged = oidc.mint_variant(world["issuer"], {**claims, "sub": GH["deploy_subject"]}, "sig", "forged")
    with pytest.raises(ClientError) as exc:
        sts_front.assume_role_with_web_identity(RoleArn=roles["DeployRole"], RoleSessionName="run-1",
                                                WebIdentityToken=forged)
    assert exc.value.response["Error"]["Code"] == "InvalidIdentityToken"
    # ambient dummy keys are no identity: refused as AWS refuses an unknown key
    with pytest.raises(ClientError) as exc:
        _client(world, "sts", {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}) \
            .get_caller_identity()
    assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"
    verify = _session(world, roles["VerifyRole"], GH["verify_subject"])
    bad = {**verify, "aws_secret_access_key": "not-the-secret"}
    with pytest.raises(ClientError) as exc:
        _client(world, "eks", bad).list_clusters()
    assert exc.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_presigned_caller_identity_verifies(world, roles):
    verify = _session(world, roles["VerifyRole"], GH["verify_subject"])
    url = _client(world, "sts", verify).generate_presigned_url("get_caller_identity", ExpiresIn=60,
                                                                HttpMethod="GET")  # as `aws eks get-token`
    assert ":assumed-role/" in requests.get(url, timeout=10).text
    tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    assert "SignatureDoesNotMatch" in requests.get(tampered, timeout=10).text
    u = urlsplit(url)
    req = aws_requests.parse("GET", f"{u.path}?{u.query}", {}, b"")
    assert req.service == "sts" and req.presigned


def test_a_role_missing_one_permission_turns_the_deploy_read_red(world, roles, monkeypatch):
    """Seeded fault: the deploy role without ReadAppSecrets; the deploy's secret read is denied."""
    name = roles["DeployRole"].rsplit("/", 1)[-1]
    _as(monkeypatch, _operator(world))
    iam = clients.client(world["target"], "iam")
    doc = iam.get_role_policy(RoleName=name, PolicyName="deploy")["PolicyDocument"]
    narrowed = {**doc, "Statement": [s for s in doc["Statement"] if s.get("Sid") != "ReadAppSecrets"]}
    iam.put_role_policy(RoleName=name, PolicyName="deploy", PolicyDocument=json.dumps(narrowed))
    try:
        _as(monkeypatch, _session(world, roles["DeployRole"], GH["deploy_subject"]))
        with pytest.raises(ClientError) as exc:
            app_secret.read_source(world["target"], "dev", ["k"])
        assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
        assert "secretsmanager:GetSecretValue" in exc.value.response["Error"]["Message"]
    finally:
        _as(monkeypatch, _operator(world))
        clients.client(world["target"], "iam").put_role_policy(RoleName=name, PolicyName="deploy",
                                                              PolicyDocument=json.dumps(doc))


def test_the_request_log_shows_who_wrote(world, roles):
    verify = _session(world, roles["VerifyRole"], GH["verify_subject"])
    _client(world, "eks", verify).list_clusters()
    with pytest.raises(ClientError):
        _client(world, "logs", verify).create_log_group(logGroupName="/nightly/write")
    log = aws_gate.read_log(world["gate"]["request_log"])
    verify_name = roles["VerifyRole"].rsplit("/", 1)[-1]
    assert any(r["identity"] == "operator" and r["write"] for r in log)
    writes = aws_gate.writes_by(log, f"assumed-role/{verify_name}/")
    # the attempted write is logged (denied), so a run can prove it made none that was allowed
    assert [(w["action"], w["decision"]) for w in writes] == [("logs:CreateLogGroup", "implicitDeny")]
    assert all(w["decision"] != "allowed" for w in writes)


def test_offline_mode_starts_no_gate(tmp_path):
    (tmp_path / "state.json").write_text(json.dumps({"mode": "offline", "components": {}}))
    assert aws_gate.start(tmp_path, lambda m: None) == {}


def test_exchange_refused_reports_sts_code(world, roles):
    with pytest.raises(errors.Refused) as exc:
        sts.exchange(world["target"], roles["VerifyRole"], _token(world, GH["deploy_subject"]))
    assert "AccessDenied" in str(exc.value)


def test_policy_documents_read_as_moto_returns_them():
    from provision.local.aws_gate_server import _document

    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    assert _document(doc) == doc
    assert _document(json.dumps(doc)) == doc
    assert _document(repr(doc)) == doc  # what moto's CloudFormation stores for inline role policies


def test_s3_requests_are_decided_on_their_iam_action_and_bucket_or_object_arn(world, roles):
    # S3 (rest-xml): the backups' store. The operator makes a bucket; a role allowed only to list
    # one prefix of it may list, may not read an object, and a denial is S3's own AccessDenied.
    op = _client(world, "s3", _operator(world))
    bucket = f"gate-s3-{world['target'].account_id}"
    op.create_bucket(Bucket=bucket)
    op.put_object(Bucket=bucket, Key="postgres/dev/a.dump", Body=b"x")
    iam = _client(world, "iam", _operator(world))
    name = roles["DeployRole"].rsplit("/", 1)[-1]  # the deploy role, given list-only S3 rights for this test
    iam.put_role_policy(RoleName=name, PolicyName="s3-list-only", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket",
                                                "Resource": f"arn:aws:s3:::{bucket}"}]}))
    try:
        s3 = _client(world, "s3", _session(world, roles["DeployRole"], GH["deploy_subject"]))
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="postgres/dev/")["Contents"]]
        assert keys == ["postgres/dev/a.dump"]
        with pytest.raises(ClientError) as exc:
            s3.get_object(Bucket=bucket, Key="postgres/dev/a.dump")
    finally:
        iam.delete_role_policy(RoleName=name, PolicyName="s3-list-only")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    assert "s3:GetObject on resource: arn:aws:s3:::" + bucket + "/postgres/dev/a.dump" in \
        exc.value.response["Error"]["Message"]
    log = aws_gate.read_log(world["gate"]["request_log"])
    mine = [r for r in log if f"assumed-role/{name}/" in str(r.get("identity"))]
    assert [(r["action"], r["write"], r["decision"]) for r in mine[-2:]] == [
        ("s3:ListBucket", False, "allowed"), ("s3:GetObject", False, "implicitDeny")]


@pytest.mark.parametrize(("method", "path", "operation"), [
    ("GET", "/b?list-type=2&prefix=p%2F", "ListObjectsV2"),
    ("GET", "/b", "ListObjects"),
    ("GET", "/b?versioning", "GetBucketVersioning"),
    ("GET", "/b?encryption", "GetBucketEncryption"),
    ("GET", "/b?publicAccessBlock", "GetPublicAccessBlock"),
    ("GET", "/b/postgres/dev/x.dump", "GetObject"),
    ("HEAD", "/b/postgres/dev/x.dump", "HeadObject"),
    ("PUT", "/b/postgres/dev/x.dump", "PutObject"),
    ("DELETE", "/b/k", "DeleteObject"),
])
def test_s3_operations_are_read_from_method_path_and_query(method, path, operation):
    op, params = aws_requests._rest_xml(method, path)
    assert op == operation
    assert params["Bucket"] == "b"


def test_s3_operations_map_to_their_iam_actions_and_access_levels():
    assert iam_actions.action("s3", "ListObjectsV2") == "s3:ListBucket"
    assert iam_actions.action("s3", "HeadObject") == "s3:GetObject"
    assert iam_actions.action("s3", "GetBucketEncryption") == "s3:GetEncryptionConfiguration"
    assert not iam_actions.is_write("s3", "ListBucket") and iam_actions.is_write("s3", "PutObject")
    assert iam_actions.resource_arns("s3", "GetObject", {"Bucket": "b", "Key": "p/k"}, "us-east-1", "1") == [
        "arn:aws:s3:::b/p/k"]
    assert iam_actions.resource_arns("s3", "ListBucket", {"Bucket": "b"}, "us-east-1", "1") == ["arn:aws:s3:::b"]
