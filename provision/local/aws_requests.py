"""Read an AWS API request as the service would: who signed it, which operation, which parameters.

Protocols of the services the project calls (botocore's models say which):
query and ec2 (an `Action` form parameter), json (`X-Amz-Target`),
rest-json (method and URI template), rest-xml for S3 (path-style: method, URI template and the
query keys that tell its sub-resources apart, e.g. `?versioning`) and smithy-rpc-v2-cbor
(`/service/S/operation/Op`, a CBOR body: CloudWatch). The SigV4 signature is checked with the secret of the
key that signed it (header or presigned query), as AWS does.
"""
from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import parse_qsl, unquote, urlsplit

import botocore.session
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.parsers import RpcV2CBORParser

SERVICES = ("cloudformation", "ec2", "eks", "iam", "sts", "secretsmanager", "cloudwatch", "logs", "budgets", "ce",
            "sns", "kms", "ssm", "s3")
# S3 request headers that IAM condition keys read (s3:x-amz-server-side-encryption...): kept as parameters.
S3_CONDITION_HEADERS = ("x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id")
_CRED = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_SIGNED = re.compile(r"SignedHeaders=([^,\s]+)")
_SIG = re.compile(r"Signature=([0-9a-f]+)")
_CBOR_PATH = re.compile(r"^/service/([^/]+)/operation/([^/?]+)")


@cache
def _models() -> dict[str, object]:
    s = botocore.session.get_session()
    return {name: s.get_service_model(name) for name in SERVICES}


def model(service: str):
    return _models()[service]


def service_by_signing_name(signing: str) -> str | None:
    for name, m in _models().items():
        if m.signing_name == signing or name == signing:
            return name
    return None


@dataclass
class ApiRequest:
    method: str
    path: str  # with the query string
    headers: dict[str, str]
    body: bytes
    access_key: str | None = None
    region: str | None = None
    service: str | None = None  # botocore's service name
    signing_name: str | None = None
    operation: str | None = None
    protocol: str | None = None
    params: dict = field(default_factory=dict)
    presigned: bool = False

    def header(self, name: str) -> str | None:
        low = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == low), None)


def parse(method: str, path: str, headers: dict[str, str], body: bytes) -> ApiRequest:
    """Identify signer, service, operation and parameters (fields stay None where the request lacks them)."""
    req = ApiRequest(method, path, dict(headers), body)
    query = dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))
    auth = req.header("Authorization") or ""
    m = _CRED.search(auth) or _CRED.search("Credential=" + query.get("X-Amz-Credential", ""))
    if m:
        req.access_key, _, req.region, req.signing_name = m.groups()
        req.presigned = "X-Amz-Signature" in query
        req.service = service_by_signing_name(req.signing_name)
    form = {}
    ctype = (req.header("Content-Type") or "").lower()
    if "x-www-form-urlencoded" in ctype and body:
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
    action = form.get("Action") or query.get("Action")
    if req.service is None and action == "AssumeRoleWithWebIdentity":
        req.service = "sts"  # boto3 sends this one unsigned
    target = req.header("X-Amz-Target")
    cbor = _CBOR_PATH.match(urlsplit(path).path)
    if target and "." in target:
        req.protocol, req.operation = "json", target.rsplit(".", 1)[1]
        req.service = req.service or _by_target_prefix(target.rsplit(".", 1)[0])
        req.params = json.loads(body or b"{}")
    elif cbor:
        req.protocol, req.operation = "smithy-rpc-v2-cbor", cbor.group(2)
        req.params = _cbor(body)
    elif action:
        req.protocol = "ec2" if req.service == "ec2" else "query"
        req.operation = action
        req.params = unflatten({**query, **form})
    elif req.service == "s3":
        req.protocol = "rest-xml"
        req.operation, req.params = _rest_xml(method, path, req.headers)
        req.params.update({h: v for h in S3_CONDITION_HEADERS if (v := req.header(h))})
    elif req.service and _models()[req.service].protocol == "rest-json":
        req.protocol = "rest-json"
        req.operation, req.params = _rest_json(req.service, method, path, body)
    return req


def _by_target_prefix(prefix: str) -> str | None:
    return next((n for n, m in _models().items() if m.metadata.get("targetPrefix") == prefix), None)


def _cbor(body: bytes) -> dict:
    if not body:
        return {}
    parser = RpcV2CBORParser()
    return parser.parse_data_item(parser.get_peekable_stream_from_bytes(body))


def unflatten(params: dict[str, str]) -> dict:
    """Query parameters `Names.member.1=a` become lists; `Tags.member.1.Key`/`.Value` a tag map under `Tags`."""
    out: dict = {}
    lists: dict[str, dict[int, object]] = {}
    for k, v in params.items():
        parts = k.split(".")
        if len(parts) >= 3 and parts[1] == "member" and parts[2].isdigit():
            entry = lists.setdefault(parts[0], {})
            idx = int(parts[2])
            if len(parts) == 3:
                entry[idx] = v
            else:
                entry.setdefault(idx, {})
                if isinstance(entry[idx], dict):
                    entry[idx][parts[3]] = v
        elif k not in ("Action", "Version") and not k.startswith("X-Amz-"):
            out[k] = v
    for k, entry in lists.items():
        out[k] = [entry[i] for i in sorted(entry)]
    return out


def _rest_json(service: str, method: str, path: str, body: bytes) -> tuple[str | None, dict]:
    parts = urlsplit(path)
    segs = [unquote(s) for s in parts.path.strip("/").split("/")] if parts.path.strip("/") else []
    model = _models()[service]
    for op in model.operation_names:
        om = model.operation_model(op)
        if om.http.get("method") != method:
            continue
        tmpl = om.http["requestUri"].split("?")[0].strip("/")
        tsegs = tmpl.split("/") if tmpl else []
        if len(tsegs) != len(segs):
            continue
        labels = {}
        for t, s in zip(tsegs, segs, strict=True):
            if t.startswith("{") and t.endswith("}"):
                labels[t.strip("{}+")] = s
            elif t != s:
                break
        else:
            params = dict(parse_qsl(parts.query))
            if body:
                try:
                    params.update(json.loads(body))
                except ValueError:
                    pass
            if om.input_shape is not None:  # label names -> member names too
                for member, shape in om.input_shape.members.items():
                    loc = shape.serialization
                    if loc.get("location") == "uri" and loc.get("name") in labels:
                        params[member] = labels[loc["name"]]
            return op, {**labels, **params}
    return None, {}


def _rest_xml(method: str, path: str, headers: dict[str, str] | None = None) -> tuple[str | None, dict]:
    """S3's operation for a path-style request: the method, the URI template ({Key+} takes the rest), the
    operation's required query and header members present, and the most query keys of the template's
    query the request carries (GET /b?versioning is GetBucketVersioning, GET /b?list-type=2
    ListObjectsV2, GET /b ListObjects; PUT with x-amz-copy-source is CopyObject, else PutObject)."""
    have_headers = {k.lower() for k in (headers or {})}
    parts = urlsplit(path)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    segs = [unquote(x) for x in parts.path.lstrip("/").split("/", 1) if x] if parts.path.strip("/") else []
    model = _models()["s3"]
    best: tuple[int, str, dict] | None = None
    for op in model.operation_names:
        http = model.operation_model(op).http
        if http.get("method") != method:
            continue
        uri, _, tq = http["requestUri"].partition("?")
        tsegs = [x for x in uri.lstrip("/").split("/", 1) if x]
        if len(tsegs) != len(segs):
            continue
        need = {k: v for k, v in parse_qsl(tq, keep_blank_values=True) if k != "x-id"}
        if any(k not in query or (v and query[k] != v) for k, v in need.items()):
            continue
        if not _required_present(model.operation_model(op), query, have_headers):
            continue
        labels = {t.strip("{}+"): v for t, v in zip(tsegs, segs, strict=True)}
        if best is None or len(need) > best[0]:
            best = (len(need), op, {**query, **labels})
    return (best[1], best[2]) if best else (None, {})


def _required_present(om, query: dict, headers: set[str]) -> bool:
    """Every required querystring and header member of the operation is in the request."""
    shape = om.input_shape
    for name in (shape.required_members if shape is not None else ()):
        loc = shape.members[name].serialization
        where = loc.get("location")
        if where == "querystring" and loc.get("name") not in query:
            return False
        if where == "header" and (loc.get("name") or "").lower() not in headers:
            return False
    return True


def signature_ok(req: ApiRequest, host: str, secret: str, token: str | None) -> bool:
    """Does the request's SigV4 signature verify with `secret`? (as AWS checks it)"""
    auth = req.header("Authorization") or ""
    creds = Credentials(req.access_key, secret, token)
    parts = urlsplit(req.path)
    if req.presigned:
        query = parse_qsl(parts.query, keep_blank_values=True)
        q = dict(query)
        given, signed = q.get("X-Amz-Signature", ""), q.get("X-Amz-SignedHeaders", "host")
        stamp = q.get("X-Amz-Date", "")
        # The canonical query is built from the query as sent (still percent-encoded).
        rest = "&".join(x for x in parts.query.split("&") if not x.startswith("X-Amz-Signature="))
        url = f"http://{host}{parts.path}?{rest}"
        signer = SigV4QueryAuth(creds, req.signing_name, req.region)
    else:
        m, s = _SIG.search(auth), _SIGNED.search(auth)
        if not (m and s):
            return False
        given, signed, stamp = m.group(1), s.group(1), req.header("X-Amz-Date") or ""
        url = f"http://{host}{req.path}"
        signer = SigV4Auth(creds, req.signing_name, req.region)
    names = signed.split(";")
    headers = {k: v for k, v in req.headers.items() if k.lower() in names}
    if "host" in names and not any(k.lower() == "host" for k in headers):
        headers["host"] = host
    areq = AWSRequest(method=req.method, url=url, data=req.body, headers=headers)
    areq.context["timestamp"] = stamp
    canonical = signer.canonical_request(areq)
    want = signer.signature(signer.string_to_sign(areq, canonical), areq)
    return hmac.compare_digest(want, given)
