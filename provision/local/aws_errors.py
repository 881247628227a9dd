"""AWS error responses as each protocol sends them (what the SDKs parse into ClientError codes).

query (STS, IAM, CloudFormation, SNS): an XML ErrorResponse; ec2: its own XML
Response/Errors; json and rest-json: a JSON body with `__type` and
X-Amzn-ErrorType; smithy-rpc-v2-cbor (CloudWatch): a CBOR map with `__type`;
rest-xml (S3): an XML Error with Code, Message and RequestId.
"""
from __future__ import annotations

import json
import uuid
from xml.sax.saxutils import escape

# kind -> (query code, json code, HTTP status of query, HTTP status of json)
KINDS = {
    "denied": ("AccessDenied", "AccessDeniedException", 403, 400),
    "invalid_token": ("InvalidClientTokenId", "UnrecognizedClientException", 403, 400),
    "expired_token": ("ExpiredToken", "ExpiredTokenException", 403, 400),
    "missing_auth": ("MissingAuthenticationToken", "MissingAuthenticationTokenException", 403, 400),
    "bad_signature": ("SignatureDoesNotMatch", "InvalidSignatureException", 403, 400),
    "invalid_identity_token": ("InvalidIdentityToken", "InvalidIdentityTokenException", 400, 400),
    "expired_identity_token": ("ExpiredTokenException", "ExpiredTokenException", 400, 400),
    "validation": ("ValidationError", "ValidationException", 400, 400),
}
# EC2 names an authorization failure differently.
EC2_CODES = {"denied": "UnauthorizedOperation", "invalid_token": "AuthFailure"}
REST_JSON_STATUS = {"denied": 403, "invalid_token": 403, "expired_token": 403, "missing_auth": 403,
                    "bad_signature": 403}

MESSAGES = {
    "invalid_token": "The security token included in the request is invalid.",
    "expired_token": "The security token included in the request is expired",
    "missing_auth": "Request is missing Authentication Token",
    "bad_signature": ("The request signature we calculated does not match the signature you provided. "
                      "Check your AWS Secret Access Key and signing method. Consult the service documentation "
                      "for details."),
}


def denied_message(principal: str, action: str, resource: str, explicit: bool) -> str:
    """IAM's AccessDenied wording (no identity-based policy allows / an explicit deny)."""
    on = "" if resource == "*" else f" on resource: {resource}"
    why = ("with an explicit deny in an identity-based policy" if explicit
           else f"because no identity-based policy allows the {action} action")
    return f"User: {principal} is not authorized to perform: {action}{on} {why}"


def code_of(kind: str, protocol: str | None) -> str:
    if protocol == "ec2" and kind in EC2_CODES:
        return EC2_CODES[kind]
    query, js, _, _ = KINDS[kind]
    return js if protocol in ("json", "rest-json") else query


def render(kind: str, protocol: str | None, message: str | None = None,
           query_compatible: bool = False) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of an error of `kind` in `protocol`.

    `query_compatible`: a JSON or CBOR service that kept its query-protocol codes
    (CloudWatch's awsQueryCompatible): the SDKs read them from x-amzn-query-error.
    """
    message = message or MESSAGES.get(kind, kind)
    code = code_of(kind, protocol)
    rid = str(uuid.uuid4())
    _, _, q_status, j_status = KINDS[kind]
    compat = {"x-amzn-query-error": f"{KINDS[kind][0]};Sender"} if query_compatible else {}
    if protocol in ("json", "rest-json"):
        status = REST_JSON_STATUS.get(kind, j_status) if protocol == "rest-json" else j_status
        status = q_status if query_compatible else status
        body = json.dumps({"__type": code, "message": message, "Message": message}).encode()
        return status, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code,
                        "x-amzn-RequestId": rid, **compat}, body
    if protocol == "smithy-rpc-v2-cbor":
        body = _cbor_map({"__type": code, "message": message})
        return q_status, {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor",
                          "x-amzn-RequestId": rid, **compat}, body
    if protocol == "rest-xml":
        xml = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>"
               f"<Message>{escape(message)}</Message><RequestId>{rid}</RequestId></Error>")
        return q_status, {"Content-Type": "application/xml", "x-amz-request-id": rid}, xml.encode()
    if protocol == "ec2":
        xml = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{code}</Code>"
               f"<Message>{escape(message)}</Message></Error></Errors><RequestID>{rid}</RequestID></Response>")
        return q_status, {"Content-Type": "text/xml"}, xml.encode()
    xml = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
           f"</Error><RequestId>{rid}</RequestId></ErrorResponse>")
    return q_status, {"Content-Type": "text/xml", "x-amzn-RequestId": rid}, xml.encode()


def _cbor_head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | info]) + n.to_bytes(size, "big")
    raise ValueError(n)


def _cbor_map(d: dict[str, str]) -> bytes:
    """A CBOR map of text strings (all an error body needs)."""
    out = _cbor_head(5, len(d))
    for k, v in d.items():
        for s in (k, v):
            b = s.encode()
            out += _cbor_head(3, len(b)) + b
    return out
