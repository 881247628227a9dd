"""The AWS enforcement point's process: STS front, identities, decisions, forwarding to moto.

Run as `python -m provision.local.aws_gate_server --config FILE` (written by
provision.local.aws_gate). Every request is read as the service would read it
(provision.local.aws_requests), its signer identified and its signature
checked; AssumeRoleWithWebIdentity and a session's GetCallerIdentity are
answered here as STS would; any other call of a role session is decided by
IAM's evaluation of the role's policies (provision.aws.iam_policy, read from
moto's IAM) on the action, resource ARNs and condition keys of the request
(provision.aws.iam_actions), and forwarded to moto re-signed with moto's
credentials only when allowed. The operator key may do everything. Each
request is one JSON line in the request log.
"""
from __future__ import annotations

import argparse
import ast
import json
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from ..aws import iam_actions, iam_policy
from ..aws.iam_eval import evaluate_trust
from ..aws.jwt_tokens import jwks, token_claims, validate_token
from . import aws_errors, aws_requests

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
MOTO_KEY = "testing"
_HOP = {"host", "content-length", "connection", "authorization", "x-amz-date", "x-amz-security-token",
        "x-amz-content-sha256", "accept-encoding", "transfer-encoding"}


def _document(value):
    """A policy document as moto returns it: a dict, JSON text, or (for the inline policies its CloudFormation
    creates: a gap of moto's) the Python repr of a dict."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return ast.literal_eval(value)


class Gate:
    """The gate's state: config, sessions it issued, cached role policies, the request log."""

    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.sessions: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.policy_cache: dict[str, dict] = {}
        self.log = open(cfg["log_file"], "a", buffering=1)  # noqa: SIM115 - open for the process's life
        self.http = requests.Session()
        self._account = None
        self.clients: dict[str, object] = {}

    # -- moto, as the operator sees it
    def moto(self, service: str):
        with self.lock:
            if service not in self.clients:
                self.clients[service] = boto3.client(
                    service, endpoint_url=self.cfg["moto_url"], region_name=self.cfg["region"],
                    aws_access_key_id=MOTO_KEY, aws_secret_access_key=MOTO_KEY)
            return self.clients[service]

    @property
    def account(self) -> str:
        if self._account is None:
            self._account = self.moto("sts").get_caller_identity()["Account"]
        return self._account

    def role_policies(self, role: str) -> dict[str, dict]:
        with self.lock:
            if role in self.policy_cache:
                return self.policy_cache[role]
        iam = self.moto("iam")
        out = {}
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            out[f"{role}/{name}"] = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for att in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            pol = iam.get_policy(PolicyArn=att["PolicyArn"])["Policy"]
            out[att["PolicyArn"]] = iam.get_policy_version(
                PolicyArn=att["PolicyArn"], VersionId=pol["DefaultVersionId"])["PolicyVersion"]["Document"]
        out = {k: _document(v) for k, v in out.items()}
        with self.lock:
            self.policy_cache[role] = out
        return out

    def lookup(self, resource_type: str, guess: str, params: dict) -> str | None:
        """The real ARN of a named resource (what the request cannot carry: ids, suffixes)."""
        name = guess.split(":", 5)[5]
        try:
            if resource_type == "stack":
                stack = name.split("/")[1]
                return self.moto("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
            if resource_type == "Secret":
                return self.moto("secretsmanager").describe_secret(SecretId=name.removeprefix("secret:"))["ARN"]
            if resource_type == "nodegroup":
                _, cluster, ng, _ = name.split("/")
                return self.moto("eks").describe_nodegroup(clusterName=cluster, nodegroupName=ng)["nodegroup"][
                    "nodegroupArn"]
            if resource_type == "addon":
                _, cluster, addon, _ = name.split("/")
                return self.moto("eks").describe_addon(clusterName=cluster, addonName=addon)["addon"]["addonArn"]
            if resource_type == "key":
                return self.moto("kms").describe_key(KeyId=params.get("KeyId", ""))["KeyMetadata"]["Arn"]
        except (ClientError, IndexError, KeyError, ValueError):
            return None
        return None

    def record(self, **line) -> None:
        line = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), **line}
        with self.lock:
            self.log.write(json.dumps(line) + "\n")

    # -- STS front
    def assume_role_with_web_identity(self, req: aws_requests.ApiRequest) -> tuple[int, dict, bytes]:
        p = req.params
        role_arn, token = p.get("RoleArn", ""), p.get("WebIdentityToken", "")
        session_name = p.get("RoleSessionName", "")
        duration = int(p.get("DurationSeconds") or 3600)
        gh = self.cfg["github"]
        role_name = role_arn.rsplit("/", 1)[-1]
        try:
            claims = token_claims(token)
        except Exception:  # noqa: BLE001 - any undecodable token is what STS calls invalid
            return self.sts_refused(req, "invalid_identity_token", "Token is not a valid JWT", role_arn)
        providers = self.moto("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]
        provider = next((x["Arn"] for x in providers if x["Arn"].endswith(f":oidc-provider/{gh['oidc_issuer']}")),
                        None)
        if provider is None:
            return self.sts_refused(req, "invalid_identity_token",
                                    f"No OpenIDConnect provider found in your account for {claims.get('iss')}",
                                    role_arn)
        clients = self.moto("iam").get_open_id_connect_provider(OpenIDConnectProviderArn=provider)["ClientIDList"]
        aud = claims.get("aud")
        if not any(a in clients for a in (aud if isinstance(aud, list) else [aud])):
            return self.sts_refused(req, "invalid_identity_token", "Incorrect token audience", role_arn)
        aud = next(a for a in (aud if isinstance(aud, list) else [aud]) if a in clients)
        issuer = self.cfg["issuer_url"]
        tok = validate_token(token, jwks(issuer), issuer, aud)
        if not tok.ok:
            kind = "expired_identity_token" if "in the past" in tok.actual else "invalid_identity_token"
            return self.sts_refused(req, kind, f"Token validation failed: {tok.actual}", role_arn)
        try:
            role = self.moto("iam").get_role(RoleName=role_name)["Role"]
        except ClientError:
            return self.sts_refused(req, "denied", "Not authorized to perform sts:AssumeRoleWithWebIdentity",
                                    role_arn)
        doc = role["AssumeRolePolicyDocument"]
        # The local issuer stands in for GitHub's: its claims are judged under GitHub's keys.
        trust = evaluate_trust(doc, claims, gh["oidc_issuer"], provider)
        if not trust.ok or role["Arn"] != role_arn:
            return self.sts_refused(req, "denied", "Not authorized to perform sts:AssumeRoleWithWebIdentity",
                                    role_arn, why=trust.actual)
        if duration > role.get("MaxSessionDuration", 3600):
            return self.sts_refused(req, "validation", "The requested DurationSeconds exceeds the "
                                    "MaxSessionDuration set for this role.", role_arn)
        akid = "ASIA" + secrets.token_hex(8).upper()
        session = {"secret": secrets.token_urlsafe(30), "token": secrets.token_urlsafe(90), "role": role_name,
                   "role_arn": role["Arn"], "role_id": role["RoleId"], "session": session_name,
                   "arn": f"arn:aws:sts::{self.account}:assumed-role/{role_name}/{session_name}",
                   "expires": time.time() + duration, "issued": time.time(), "provider": provider,
                   "sub": claims.get("sub"), "tags": {t["Key"]: t["Value"] for t in role.get("Tags", [])}}
        with self.lock:
            self.sessions[akid] = session
        self.record(identity=session["arn"], action="sts:AssumeRoleWithWebIdentity", resources=[role_arn],
                    decision="allowed", write=False, sub=claims.get("sub"))
        exp = datetime.fromtimestamp(session["expires"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = (f'<AssumeRoleWithWebIdentityResponse xmlns="{STS_NS}"><AssumeRoleWithWebIdentityResult>'
                f"<SubjectFromWebIdentityToken>{escape(str(claims.get('sub')))}</SubjectFromWebIdentityToken>"
                f"<Audience>{escape(aud)}</Audience><AssumedRoleUser><Arn>{session['arn']}</Arn>"
                f"<AssumedRoleId>{session['role_id']}:{escape(session_name)}</AssumedRoleId></AssumedRoleUser>"
                f"<Credentials><AccessKeyId>{akid}</AccessKeyId><SecretAccessKey>{session['secret']}"
                f"</SecretAccessKey><SessionToken>{session['token']}</SessionToken><Expiration>{exp}</Expiration>"
                f"</Credentials><Provider>{gh['oidc_issuer']}</Provider></AssumeRoleWithWebIdentityResult>"
                f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
                f"</AssumeRoleWithWebIdentityResponse>")
        return 200, {"Content-Type": "text/xml"}, body.encode()

    def sts_refused(self, req, kind: str, message: str, role_arn: str, why: str = "") -> tuple[int, dict, bytes]:
        self.record(identity="web-identity", action="sts:AssumeRoleWithWebIdentity", resources=[role_arn],
                    decision="refused", write=False, error=aws_errors.code_of(kind, req.protocol),
                    reason=why or message)
        return aws_errors.render(kind, req.protocol, message)

    def caller_identity(self, s: dict) -> tuple[int, dict, bytes]:
        body = (f'<GetCallerIdentityResponse xmlns="{STS_NS}"><GetCallerIdentityResult><Arn>{s["arn"]}</Arn>'
                f"<UserId>{s['role_id']}:{escape(s['session'])}</UserId><Account>{self.account}</Account>"
                f"</GetCallerIdentityResult><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>"
                f"</ResponseMetadata></GetCallerIdentityResponse>")
        return 200, {"Content-Type": "text/xml"}, body.encode()

    # -- every request
    def handle(self, req: aws_requests.ApiRequest, client_ip: str, host: str) -> tuple[int, dict, bytes]:
        if req.service == "sts" and req.operation == "AssumeRoleWithWebIdentity":
            return self.assume_role_with_web_identity(req)
        action = iam_actions.action(req.signing_name or req.service or "?", req.operation)
        if req.access_key is None:
            self.record(identity=None, action=action, decision="refused", write=None, error="missing_auth")
            return aws_errors.render("missing_auth", req.protocol)
        op = self.cfg["operator"]
        if req.access_key == op["access_key_id"]:
            if not aws_requests.signature_ok(req, host, op["secret_access_key"], None):
                return self.refuse(req, "operator", action, "bad_signature")
            status, headers, body = self.forward(req)
            write = iam_actions.is_write(*action.split(":", 1))
            if write and req.service == "iam":
                with self.lock:
                    self.policy_cache.clear()
            self.record(identity="operator", action=action, decision="operator", write=write, status=status)
            return status, headers, body
        s = self.sessions.get(req.access_key)
        if s is None:
            return self.refuse(req, req.access_key, action, "invalid_token")
        token = req.header("X-Amz-Security-Token") or dict(
            x.split("=", 1) for x in urlsplit(req.path).query.split("&") if "=" in x).get("X-Amz-Security-Token")
        if token is None or requests.utils.unquote(token) != s["token"]:
            return self.refuse(req, s["arn"], action, "invalid_token")
        if time.time() >= s["expires"]:
            return self.refuse(req, s["arn"], action, "expired_token")
        if not aws_requests.signature_ok(req, host, s["secret"], s["token"]):
            return self.refuse(req, s["arn"], action, "bad_signature")
        if action == "sts:GetCallerIdentity":  # needs no permission
            self.record(identity=s["arn"], action=action, resources=["*"], decision="allowed", write=False)
            return self.caller_identity(s)
        return self.decide_and_forward(req, s, action, client_ip)

    def decide_and_forward(self, req, s: dict, action: str, client_ip: str) -> tuple[int, dict, bytes]:
        service, operation = action.split(":", 1)
        write = iam_actions.is_write(service, operation)
        resources = iam_actions.resource_arns(service, operation, req.params, req.region, self.account,
                                              self.lookup)
        now = time.time()
        ctx = {"aws:SourceIp": client_ip, "aws:SecureTransport": "true", "aws:RequestedRegion": req.region,
               "aws:CurrentTime": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "aws:EpochTime": str(int(now)), "aws:PrincipalArn": s["role_arn"],
               "aws:PrincipalAccount": self.account, "aws:PrincipalType": "AssumedRole",
               "aws:userid": f"{s['role_id']}:{s['session']}", "aws:FederatedProvider": s["provider"],
               "aws:TokenIssueTime": datetime.fromtimestamp(s["issued"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "aws:ViaAWSService": "false",
               **{f"aws:PrincipalTag/{k}": v for k, v in s["tags"].items()},
               **iam_actions.context_keys(req.params, _tags(req.params))}
        d = iam_policy.decide(self.role_policies(s["role"]), iam_policy.Request(action, tuple(resources), ctx))
        if not d.allowed:
            explicit = d.decision == iam_policy.EXPLICIT_DENY
            self.record(identity=s["arn"], action=action, resources=resources, decision=d.decision,
                        statement=d.statement, write=write)
            message = aws_errors.denied_message(s["arn"], action, d.resource, explicit)
            return aws_errors.render("denied", req.protocol, message, query_compatible=_query_compatible(req))
        status, headers, body = self.forward(req)
        self.record(identity=s["arn"], action=action, resources=resources, decision=d.decision,
                    statement=d.statement, write=write, status=status)
        return status, headers, body

    def refuse(self, req, who: str, action: str, kind: str) -> tuple[int, dict, bytes]:
        self.record(identity=who, action=action, decision="refused", write=None, error=kind)
        return aws_errors.render(kind, req.protocol, query_compatible=_query_compatible(req))

    def forward(self, req: aws_requests.ApiRequest) -> tuple[int, dict, bytes]:
        """The request to moto, re-signed with moto's credentials."""
        headers = {k: v for k, v in req.headers.items() if k.lower() not in _HOP}
        url = self.cfg["moto_url"] + req.path
        areq = AWSRequest(method=req.method, url=url, data=req.body, headers=headers)
        SigV4Auth(Credentials(MOTO_KEY, MOTO_KEY), req.signing_name or req.service or "sts",
                  req.region or self.cfg["region"]).add_auth(areq)
        resp = self.http.request(req.method, url, data=req.body or None, headers=dict(areq.headers.items()),
                                 timeout=120)
        out = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP | {"content-encoding", "server", "date"}}
        return resp.status_code, out, resp.content


def _query_compatible(req: aws_requests.ApiRequest) -> bool:
    """A JSON service that keeps its query-protocol error codes (CloudWatch): x-amzn-query-error carries them."""
    return bool(req.service and aws_requests.model(req.service).metadata.get("awsQueryCompatible") is not None)


def _tags(params: dict) -> dict[str, str]:
    tags = params.get("Tags") or params.get("tags") or {}
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {t.get("Key", ""): t.get("Value", "") for t in tags if isinstance(t, dict)}


def serve(cfg: dict) -> None:
    gate = Gate(cfg)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            host = self.headers.get("Host") or f"127.0.0.1:{cfg['port']}"
            req = aws_requests.parse(self.command, self.path, dict(self.headers.items()), body)
            try:
                status, headers, data = gate.handle(req, self.client_address[0], host)
            except Exception as exc:  # noqa: BLE001 - one request's failure, answered as AWS would
                gate.record(identity=req.access_key, action=req.operation, decision="error", error=repr(exc))
                status, headers, data = 500, {"Content-Type": "text/plain"}, repr(exc).encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _any  # noqa: N815 (http.server's names)

        def log_message(self, fmt, *args):
            pass  # the request log is the gate's own JSON lines

    ThreadingHTTPServer(("127.0.0.1", cfg["port"]), Handler).serve_forever()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config", type=Path, required=True)
    serve(json.loads(p.parse_args().config.read_text()))


if __name__ == "__main__":
    main()
