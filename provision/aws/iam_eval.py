"""IAM's evaluation of a role's trust policy for a web-identity token (the harness's own model of IAM).

moto's STS accepts any web-identity token, so on a target with that gap the
harness does what IAM does before credentials are issued; live, real IAM does it.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
from datetime import datetime

from ..findings import Finding, failed, graded, passed

WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"


def context_keys(claims: dict, provider_host: str) -> dict[str, list[str]]:
    """The request context IAM builds from a web-identity token of `provider_host`.

    IAM exposes `<host>:aud` (azp when the token has one, else aud), `<host>:oaud`
    (aud when azp is set) and `<host>:sub`; GitHub's other claims are not
    condition keys, so a policy that names them never matches (fails closed).
    Keys are lower-cased: IAM compares condition key names case-insensitively.
    """

    def vals(v):
        return [str(x) for x in (v if isinstance(v, list) else [v])]

    ctx = {f"{provider_host}:sub".lower(): vals(claims["sub"])} if "sub" in claims else {}
    if "azp" in claims:
        ctx[f"{provider_host}:aud".lower()] = vals(claims["azp"])
        ctx[f"{provider_host}:oaud".lower()] = vals(claims["aud"])
    elif "aud" in claims:
        ctx[f"{provider_host}:aud".lower()] = vals(claims["aud"])
    return ctx


def _like(pattern: str, value: str) -> bool:
    # IAM's StringLike: * any run of characters (also empty), ? exactly one; case-sensitive.
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, flags=re.DOTALL) is not None


def arn_like(pattern: str, arn: str) -> bool:
    """IAM's ArnLike (and Resource matching): the six colon-separated parts match one by one,
    wildcards never cross the first five colons; `*` alone matches every ARN."""
    if pattern == "*":
        return True
    p, a = pattern.split(":", 5), arn.split(":", 5)
    return len(p) == len(a) == 6 and all(_like(x, y) for x, y in zip(p, a, strict=True))


def _ip(p: str, v: str) -> bool:
    try:
        return ipaddress.ip_address(v) in ipaddress.ip_network(p, strict=False)
    except ValueError:
        return False


def _num(cmp):
    def match(p, v):
        try:
            return cmp(float(v), float(p))
        except ValueError:
            return False

    return match


def _date(cmp):
    def when(x: str) -> float:
        try:
            return float(x)  # epoch seconds
        except ValueError:
            return datetime.fromisoformat(x.replace("Z", "+00:00")).timestamp()

    def match(p, v):
        try:
            return cmp(when(v), when(p))
        except ValueError:
            return False

    return match


_MATCHERS = {
    "StringEquals": lambda p, v: p == v,
    "StringLike": _like,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "ArnLike": arn_like,
    "ArnEquals": arn_like,  # IAM documents ArnEquals with the same wildcard matching as ArnLike
    "Bool": lambda p, v: p.lower() == v.lower(),
    "IpAddress": _ip,
    "NumericEquals": _num(lambda v, p: v == p),
    "NumericLessThan": _num(lambda v, p: v < p),
    "NumericLessThanEquals": _num(lambda v, p: v <= p),
    "NumericGreaterThan": _num(lambda v, p: v > p),
    "NumericGreaterThanEquals": _num(lambda v, p: v >= p),
    "DateEquals": _date(lambda v, p: v == p),
    "DateLessThan": _date(lambda v, p: v < p),
    "DateLessThanEquals": _date(lambda v, p: v <= p),
    "DateGreaterThan": _date(lambda v, p: v > p),
    "DateGreaterThanEquals": _date(lambda v, p: v >= p),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotLike": "StringLike",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "ArnNotLike": "ArnLike",
    "ArnNotEquals": "ArnEquals",
    "NotIpAddress": "IpAddress",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
}


def condition_holds(operator: str, key: str, policy_values, context: dict[str, list[str]]) -> bool:
    """One operator/key pair of a Condition block, as IAM evaluates it.

    Several policy values are ORed (for a negated operator: the value matches none).
    """
    pvals = [
        str(v).lower() if isinstance(v, bool) else str(v)
        for v in (policy_values if isinstance(policy_values, list) else [policy_values])
    ]
    req = context.get(key.lower())
    if operator == "Null":
        return (req is None) == (pvals[0].lower() == "true")
    set_op, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    negated = op in _NEGATED
    base = _NEGATED.get(op, op)
    if base not in _MATCHERS:
        return False  # an operator the harness does not model: fail closed
    match = _MATCHERS[base]
    if req is None:
        if set_op == "ForAllValues":
            return True
        return True if (if_exists or negated) and set_op != "ForAnyValue" else False

    def one(v):
        hit = any(match(p, v) for p in pvals)
        return not hit if negated else hit

    if set_op == "ForAnyValue":
        return any(one(v) for v in req)
    if set_op == "ForAllValues":
        return all(one(v) for v in req)
    # A single-valued operator on a multi-valued key is undefined in IAM: refuse.
    return len(req) == 1 and one(req[0])


def as_list(v) -> list:
    return v if isinstance(v, list) else [v]


def _statement_applies(st: dict, action: str, provider_arn: str | None) -> tuple[bool, str]:
    if "Action" in st:
        if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in as_list(st["Action"])):
            return False, "action not listed"
    elif "NotAction" in st:
        if any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in as_list(st["NotAction"])):
            return False, "action excluded by NotAction"
    principal = st.get("Principal", {})
    if principal != "*" and provider_arn is not None:
        feds = as_list(principal.get("Federated", [])) if isinstance(principal, dict) else []
        if provider_arn not in feds and "*" not in feds:
            return False, f"principal is not {provider_arn}"
    return True, ""


@graded("model")
def evaluate_trust(
    policy_document: dict | str,
    claims: dict,
    provider_host: str,
    provider_arn: str | None = None,
    action: str = WEB_IDENTITY,
) -> Finding:
    """Would IAM let a token with `claims` from `provider_host` assume the role? (pure)

    An explicit Deny wins; otherwise an Allow statement must apply (action,
    federated principal) and all its conditions hold (operators AND, keys AND,
    values OR).
    """
    doc = json.loads(policy_document) if isinstance(policy_document, str) else policy_document
    ctx = context_keys(claims, provider_host)
    subject = f"trust policy for {claims.get('sub', '?')} (aud {claims.get('aud', '?')})"
    allowed_by, notes = None, []
    for i, st in enumerate(as_list(doc.get("Statement", []))):
        sid = st.get("Sid", f"#{i}")
        applies, why = _statement_applies(st, action, provider_arn)
        if not applies:
            notes.append(f"{sid}: {why}")
            continue
        unmet = [
            f"{op} {key}"
            for op, block in st.get("Condition", {}).items()
            for key, vals in block.items()
            if not condition_holds(op, key, vals, ctx)
        ]
        if unmet:
            notes.append(f"{sid}: condition not met: {', '.join(unmet)}")
            continue
        if st.get("Effect") == "Deny":
            return failed(subject, "allowed", f"explicitly denied by {sid}", evidence=notes)
        if st.get("Effect") == "Allow" and allowed_by is None:
            allowed_by = sid
    if allowed_by is None:
        return failed(subject, "allowed", "no statement allows it (implicit deny)", evidence=notes)
    return passed(subject, "allowed", f"allowed by {allowed_by}", evidence=notes)
