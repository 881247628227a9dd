"""The rehearsal's IAM-to-Kubernetes link: a token webhook in the style of aws-iam-authenticator.

kube-apiserver (rehearsal mode, provision.local.controlplane) sends each bearer token here in a
TokenReview. A token is `k8s-aws-v1.` + base64url(presigned STS GetCallerIdentity URL) with the
header `x-k8s-aws-id: <cluster>` signed (provision.kube.token; `aws eks get-token`). It is checked
as aws-iam-authenticator's pkg/token/token.go checks it (prefix, size, STS host, path, allowed
query parameters, action, signed cluster header, X-Amz-Expires, 15 minutes after X-Amz-Date), then
STS says who signed it:

- `sts_kind="front"`: the presigned URL is sent to the target's STS endpoint (the rehearsal's STS
  front) with `x-k8s-aws-id: <this cluster>`; STS verifies the signature, as AWS does.
- `sts_kind="moto"`: moto checks no signature and reads no query-string credentials, so this
  webhook plays that part of STS: it verifies the SigV4 signature with the secret moto holds for
  the access key (moto's model dump, /moto-api/data.json) and then asks moto GetCallerIdentity
  signed with those credentials.

A token for another cluster fails the signature (its signed header differs); an unknown key, a
tampered signature or an expired date is refused. The caller's ARN is mapped through the eks
template's access entries (provision.kube.access_entries) to a username and groups, and through the
entries the operator adds later (`register_entry`: EKS's CreateAccessEntry with AssociateAccessPolicy,
read at each review; the rehearsal's fidelity faults, harness/rehearsal_faults.py).

    python -m provision.local.iam_authenticator <config.json>   (what start() spawns)
"""
from __future__ import annotations

import hmac
import json
import re
import ssl
import sys
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .. import config
from ..kube import access_entries
from ..kube.token import CLUSTER_HEADER, LIFETIME, PREFIX, decode
from . import procs
from .kubeconfig import write_webhook_config
from .pki import make_serving_pki, write_private

NAME = "iam-authenticator"
PATH = "/authenticate"
MAX_TOKEN = 4096
ALLOWED_PARAMS = {"action", "version", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires",
                  "x-amz-security-token", "x-amz-signature", "x-amz-signedheaders"}
# What a refusal says (the TokenReview's status.error, the webhook's log); tests assert the exact text.
BAD_FORMAT = "input token was not properly formatted: {reason}"
EXPIRED = "input token was not properly formatted: X-Amz-Date parameter is expired (15 minute expiration) {date}"
BAD_SIGNATURE = "sts getCallerIdentity failed: the signature does not match (another cluster, or a tampered token)"
UNKNOWN_KEY = "sts getCallerIdentity failed: the access key {key} is not known to STS"
STS_ERROR = "sts getCallerIdentity failed: {detail}"
NO_ENTRY = "ARN is not mapped: {arn} has no access entry"


class TokenRejected(Exception):
    """The token is refused; str() is the reason (one of the constants above)."""


@dataclass(frozen=True)
class Caller:
    arn: str
    account: str
    user_id: str
    access_key_id: str


def sts_hosts(region: str) -> set[str]:
    return {"sts.amazonaws.com", f"sts.{region}.amazonaws.com"}


def parse(token: str, region: str, local_endpoint: str | None = None, now: float | None = None) -> dict:
    """The token's URL and its lower-cased query parameters, after the format checks of token.go."""
    if len(token) > MAX_TOKEN:
        raise TokenRejected(BAD_FORMAT.format(reason="token is too large"))
    try:
        url = decode(token)
    except ValueError:
        raise TokenRejected(BAD_FORMAT.format(reason=f"token is missing expected {PREFIX!r} prefix "
                                                     "or is not base64url")) from None
    parts = urlsplit(url)
    local = urlsplit(local_endpoint) if local_endpoint else None
    if not ((parts.scheme == "https" and parts.hostname in sts_hosts(region))
            or (local and (parts.scheme, parts.netloc) == (local.scheme, local.netloc))):
        raise TokenRejected(BAD_FORMAT.format(reason=f"unexpected hostname {parts.netloc!r} in pre-signed URL"))
    if parts.path != "/":
        raise TokenRejected(BAD_FORMAT.format(reason="unexpected path in pre-signed URL"))
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    params = {}
    for k, v in pairs:
        if k.lower() not in ALLOWED_PARAMS:
            raise TokenRejected(BAD_FORMAT.format(reason=f"non-whitelisted query parameter {k!r}"))
        if k.lower() in params:
            raise TokenRejected(BAD_FORMAT.format(reason="query parameter with multiple values not supported"))
        params[k.lower()] = v
    if params.get("action") != "GetCallerIdentity":
        raise TokenRejected(BAD_FORMAT.format(reason="unexpected action parameter in pre-signed URL"))
    if CLUSTER_HEADER not in params.get("x-amz-signedheaders", "").lower().split(";"):
        raise TokenRejected(BAD_FORMAT.format(reason=f"client did not sign the {CLUSTER_HEADER} header"))
    expires = params.get("x-amz-expires", "")
    if not expires.isdigit() or int(expires) > 900:
        raise TokenRejected(BAD_FORMAT.format(reason=f"invalid X-Amz-Expires parameter {expires!r}"))
    try:
        signed_at = time.mktime(time.strptime(params.get("x-amz-date", ""), "%Y%m%dT%H%M%SZ")) - time.timezone
    except ValueError:
        raise TokenRejected(BAD_FORMAT.format(reason="X-Amz-Date parameter must be present and valid")) from None
    if (now if now is not None else time.time()) > signed_at + LIFETIME.total_seconds():
        raise TokenRejected(EXPIRED.format(date=params["x-amz-date"]))
    return {"url": url, "params": params}


def signature_matches(url: str, cluster_id: str, secret: str, session_token: str | None) -> bool:
    """Recompute the SigV4 query signature with the headers this cluster would send; constant-time compare."""
    parts = urlsplit(url)
    raw = [p for p in parts.query.split("&") if p]
    given = next((p.partition("=")[2] for p in raw if p.partition("=")[0] == "X-Amz-Signature"), "")
    params = dict(parse_qsl(parts.query))
    signed = params.get("X-Amz-SignedHeaders", "").split(";")
    if set(signed) - {"host", CLUSTER_HEADER}:
        return False   # a header this verifier cannot reproduce
    try:
        key, _date, region, service, _ = params["X-Amz-Credential"].split("/")
    except (KeyError, ValueError):
        return False
    unsigned = "&".join(p for p in raw if p.partition("=")[0] != "X-Amz-Signature")
    request = AWSRequest(method="GET", url=urlunsplit((parts.scheme, parts.netloc, parts.path, unsigned, "")))
    if CLUSTER_HEADER in signed:
        request.headers[CLUSTER_HEADER] = cluster_id
    request.context["timestamp"] = params.get("X-Amz-Date", "")
    auth = SigV4Auth(Credentials(key, secret, session_token), service, region)
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    return hmac.compare_digest(expected, given)


def _moto_secrets(endpoint: str) -> dict[str, tuple[str, str | None]]:
    """access key id -> (secret, session token) of every key moto issued (assumed roles, IAM users)."""
    data = requests.get(f"{endpoint}/moto-api/data.json", timeout=10).json()
    out = {}
    for role in data.get("sts", {}).get("AssumedRole", []):
        out[role["access_key_id"]] = (role["secret_access_key"], role.get("session_token"))
    for key in data.get("iam", {}).get("AccessKey", []):
        out.setdefault(key["access_key_id"], (key["secret_access_key"], None))
    return out


def _xml_identity(text: str) -> dict | None:
    found = {k: re.search(rf"<{k}>([^<]*)</{k}>", text) for k in ("Arn", "Account", "UserId")}
    return {k: m.group(1) for k, m in found.items()} if all(found.values()) else None


def caller(token: str, cluster_id: str, region: str, sts_endpoint: str, sts_kind: str = "front",
           now: float | None = None, ca_bundle: str | None = None) -> Caller:
    """Who signed the token, as STS says; TokenRejected with the reason otherwise."""
    parsed = parse(token, region, sts_endpoint, now)
    params, url = parsed["params"], parsed["url"]
    key_id = params["x-amz-credential"].split("/")[0]
    if sts_kind == "moto":
        secret, session = _moto_secrets(sts_endpoint).get(key_id, (None, None))
        if secret is None:
            raise TokenRejected(UNKNOWN_KEY.format(key=key_id))
        if session != params.get("x-amz-security-token") or not signature_matches(url, cluster_id, secret, session):
            raise TokenRejected(BAD_SIGNATURE)
        sts = boto3.client("sts", region_name=region, endpoint_url=sts_endpoint, aws_access_key_id=key_id,
                           aws_secret_access_key=secret, aws_session_token=session)
        got = sts.get_caller_identity()
        return Caller(got["Arn"], got["Account"], got["UserId"], key_id)
    target = urlsplit(sts_endpoint)
    forward = urlunsplit((target.scheme, target.netloc, "/", urlsplit(url).query, ""))
    headers = {CLUSTER_HEADER: cluster_id, "Accept": "application/json", "Host": urlsplit(url).netloc}
    try:
        resp = requests.get(forward, headers=headers, timeout=10, allow_redirects=False, verify=ca_bundle or True)
    except requests.RequestException as exc:
        raise TokenRejected(STS_ERROR.format(detail=f"error during GET: {type(exc).__name__}")) from None
    if resp.status_code != 200:
        raise TokenRejected(STS_ERROR.format(detail=f"expected 200, got {resp.status_code}: {resp.text[:200]}"))
    try:
        got = resp.json()["GetCallerIdentityResponse"]["GetCallerIdentityResult"]
    except (ValueError, KeyError, TypeError):
        got = _xml_identity(resp.text)   # STS's query API answers XML unless JSON is accepted
    if not got:
        raise TokenRejected(STS_ERROR.format(detail="the answer is not a GetCallerIdentity response"))
    return Caller(got["Arn"], got["Account"], got["UserId"], key_id)


def review(token: str, settings: dict, access: list, now: float | None = None) -> dict:
    """The TokenReview status for `token` (settings: cluster_id, region, sts_endpoint, sts_kind, ca_bundle)."""
    try:
        who = caller(token, settings["cluster_id"], settings["region"], settings["sts_endpoint"],
                     settings.get("sts_kind", "front"), now, settings.get("ca_bundle"))
    except TokenRejected as exc:
        return {"authenticated": False, "error": str(exc)}
    mapped = access_entries.identity(who.arn, access)
    if mapped is None:
        return {"authenticated": False, "error": NO_ENTRY.format(arn=who.arn)}
    username, groups = mapped
    session = who.user_id.split(":", 1)[1] if ":" in who.user_id else ""
    return {"authenticated": True,
            "user": {"username": username, "uid": f"aws-iam-authenticator:{who.account}:{who.user_id}",
                     "groups": groups,
                     "extra": {"arn": [who.arn], "canonicalArn": [access_entries.canonical_arn(who.arn)],
                               "sessionName": [session], "accessKeyId": [who.access_key_id]}}}


# ---------------------------------------------------------------- entries the operator adds

OPERATOR_ENTRIES = "operator-access-entries.json"


def _entries_file(state_dir: Path) -> Path:
    return _dir(state_dir) / OPERATOR_ENTRIES


def _write_entries(state_dir: Path, spec: dict) -> None:
    tmp = _entries_file(state_dir).with_suffix(".tmp")
    write_private(tmp, json.dumps(spec).encode())
    tmp.replace(_entries_file(state_dir))   # a review never reads half a file


def operator_entries(state_dir: Path) -> list:
    """The entries the operator registered, parsed as the template's are (an unknown policy is refused)."""
    f = _entries_file(state_dir)
    spec = json.loads(f.read_text()) if f.exists() else {}
    return access_entries.entries({lid: {"Type": "AWS::EKS::AccessEntry", "Properties": props}
                                   for lid, props in spec.items()})


def register_entry(state_dir: Path, logical_id: str, properties: dict):
    """CreateAccessEntry + AssociateAccessPolicy (the template's AccessEntry properties); the entry."""
    f = _entries_file(state_dir)
    spec = json.loads(f.read_text()) if f.exists() else {}
    entry = access_entries.entries({logical_id: {"Type": "AWS::EKS::AccessEntry", "Properties": properties}})[0]
    _write_entries(state_dir, {**spec, logical_id: properties})
    return entry


def remove_entry(state_dir: Path, logical_id: str) -> None:
    """DeleteAccessEntry: the principal maps to nothing again."""
    f = _entries_file(state_dir)
    if f.exists():
        spec = json.loads(f.read_text())
        spec.pop(logical_id, None)
        _write_entries(state_dir, spec)


# ---------------------------------------------------------------- the server

def _handler(settings: dict, access: list, state_dir: Path | None = None):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):   # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if urlsplit(self.path).path != PATH or body.get("kind") != "TokenReview":
                self.send_error(404)
                return
            extra = operator_entries(state_dir) if state_dir is not None else []
            status = review((body.get("spec") or {}).get("token", ""), settings, [*access, *extra])
            user = status.get("user", {}).get("username", "-")
            print(json.dumps({"time": time.time(), "authenticated": status["authenticated"], "user": user,
                              "error": status.get("error", "")}), flush=True)
            out = json.dumps({"apiVersion": body.get("apiVersion", "authentication.k8s.io/v1"),
                              "kind": "TokenReview", "status": status}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):   # one JSON line per review instead
            pass
    return Handler


def serve(config_file: Path) -> None:
    cfg = json.loads(Path(config_file).read_text())
    access = access_entries.for_environment(cfg["env"])
    # the config lives in <state>/iam-authenticator/: the operator's entries beside it
    server = ThreadingHTTPServer(("127.0.0.1", cfg["port"]), _handler(cfg, access, Path(config_file).parent.parent))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cfg["cert"], cfg["key"])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


def _dir(state_dir: Path) -> Path:
    return Path(state_dir) / NAME


def webhook_config(state_dir: Path) -> Path:
    """The file kube-apiserver's --authentication-token-webhook-config-file names (exists once started)."""
    return _dir(state_dir) / "webhook.kubeconfig"


def start(state_dir: Path, progress=print, sts_endpoint: str | None = None, sts_kind: str | None = None,
          env: str = "dev", ca_bundle: str | None = None) -> dict:
    """Start the webhook on a free loopback port. The STS endpoint defaults to the stack's: the STS
    front's (`sts_endpoint` of its component) when there is one, else moto's `aws_endpoint_url`.
    In a stack's offline mode (and no `sts_endpoint` given) nothing starts."""
    from . import stack

    state_dir = Path(state_dir)
    stop(state_dir)
    if sts_endpoint is None and stack.mode_of(state_dir) != "rehearsal":
        return {"enabled": False}   # the offline mode authenticates by client certificates only
    if sts_endpoint is None:
        comps = (stack.read_state(state_dir) or {}).get("components", {})
        # the STS front: a component naming its own `sts_endpoint`, or the AWS gate (its endpoint, moto behind)
        front = next((c["sts_endpoint"] for c in comps.values() if c.get("sts_endpoint")), None) or (
            comps.get("aws_gate", {}).get("aws_endpoint_url"))
        sts_endpoint, sts_kind = (front, sts_kind or "front") if front else (
            comps.get("moto_server", {}).get("aws_endpoint_url"), sts_kind or "moto")
    if not sts_endpoint:
        raise RuntimeError(f"{NAME}: no STS endpoint (start moto_server or the STS front first)")
    d = _dir(state_dir)
    ca, cert, key = make_serving_pki(d / "pki", NAME)
    _entries_file(state_dir).unlink(missing_ok=True)   # a new cluster: only the template's entries
    port = procs.free_port()
    url = f"https://127.0.0.1:{port}{PATH}"
    env_obj = config.Environment.named(env)
    cfg = {"port": port, "cert": str(cert), "key": str(key), "env": env, "cluster_id": env_obj.cluster_name,
           "region": config.settings()["aws"]["region"], "sts_endpoint": sts_endpoint,
           "sts_kind": sts_kind or "front", "ca_bundle": ca_bundle}
    write_private(d / "config.json", json.dumps(cfg).encode())
    write_webhook_config(webhook_config(state_dir), url, ca)
    progress(f"{NAME}: token webhook on {url} (STS {sts_endpoint}, {cfg['sts_kind']})")
    pid = procs.spawn(NAME, [sys.executable, "-m", f"{__package__}.iam_authenticator", str(d / "config.json")],
                      state_dir)
    procs.wait_port("127.0.0.1", port, 30, pid, NAME)
    return {"webhook_url": url, "webhook_config": str(webhook_config(state_dir)), "webhook_ca": str(ca),
            "cluster_id": env_obj.cluster_name, "sts_endpoint": sts_endpoint, "sts_kind": cfg["sts_kind"],
            "log": str(state_dir / f"{NAME}.log")}


def stop(state_dir: Path) -> None:
    procs.stop(NAME, Path(state_dir))


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
