"""GitHub OIDC -> STS: token validation, trust-policy evaluation, the exchange,
and the static checks of the IAM template (provision/cloudformation/iam.yaml).

moto's STS accepts any web-identity token, so on the offline target the harness
itself does what STS and IAM do before any credentials are issued: it validates
the token (JWKS signature, iss, aud, exp, nbf) and evaluates the role's trust
policy as IAM does. A refused run never reaches STS. On the live target real
STS does both.
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import boto3
import jwt
import requests
from botocore.exceptions import ClientError

from .. import config, errors, findings
from ..config import Secret, Target
from ..findings import Finding, combine, failed, passed
from . import iam_template

WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
EMULATOR = "moto_server"  # target.local key of the emulated AWS endpoint

TOKEN_REFUSED = "token exchange refused (checked as STS and IAM would): {reason}"
STS_REFUSED = "token exchange refused by STS: {reason}"
NO_ACTIONS_TOKEN = "needs a GitHub Actions run's OIDC token"
ISSUER_UNREACHABLE = "OIDC issuer {url} unreachable: {reason}"
UNKNOWN_ROLE = "unknown role {role!r}: expected one of {known}"


def _gap() -> str:
    from ..local.moto_server import GAPS
    return GAPS["sts-web-identity"]


# ---------------------------------------------------------------- pure: token

def validate_token(token: str, jwks: dict, issuer: str, audience: str, now: float | None = None) -> Finding:
    """Is `token` an RS256 JWT signed by a key of `jwks`, from `issuer`, for `audience`, valid now?"""
    subject = "OIDC token"
    want = f"RS256 signed by {issuer}'s JWKS, aud {audience}, within iat/nbf/exp"
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        return failed(subject, want, f"not a JWT: {exc}")
    if header.get("alg") != "RS256":
        return failed(subject, want, f"alg {header.get('alg')!r}")
    keys = [k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")]
    if not keys:
        return failed(subject, want, f"kid {header.get('kid')!r} not in the issuer's JWKS")
    key = jwt.PyJWK(keys[0], algorithm="RS256").key
    # With an explicit `now` (unit tests on saved tokens) the times are checked below.
    timed = now is None
    try:
        claims = jwt.decode(token, key, algorithms=["RS256"], audience=audience, issuer=issuer,
                            options={"require": ["iss", "aud", "sub", "exp", "iat"], "verify_exp": timed,
                                     "verify_nbf": timed, "verify_iat": timed}, leeway=0)
    except jwt.InvalidSignatureError:
        return failed(subject, want, "signature does not verify with the issuer's key")
    except jwt.InvalidIssuerError:
        return failed(subject, want, f"iss {_claim(token, 'iss')!r}")
    except jwt.InvalidAudienceError:
        return failed(subject, want, f"aud {_claim(token, 'aud')!r}")
    except jwt.ExpiredSignatureError:
        return failed(subject, want, f"exp {_claim(token, 'exp')} is in the past")
    except jwt.ImmatureSignatureError:
        return failed(subject, want, f"nbf {_claim(token, 'nbf')} is in the future")
    except jwt.PyJWTError as exc:
        return failed(subject, want, str(exc))
    if now is not None and now >= claims["exp"]:
        return failed(subject, want, f"exp {claims['exp']} is in the past")
    if now is not None and now < claims.get("nbf", 0):
        return failed(subject, want, f"nbf {claims['nbf']} is in the future")
    return passed(subject, want, f"valid token for {claims['sub']}")


def _claim(token: str, name: str):
    try:
        return jwt.decode(token, options={"verify_signature": False}).get(name)
    except jwt.PyJWTError:
        return None


def token_claims(token: str) -> dict:
    """The claims, unverified: call only after validate_token passed (or for evidence)."""
    return jwt.decode(token, options={"verify_signature": False})


# ---------------------------------------------------------- pure: trust policy

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


_MATCHERS = {
    "StringEquals": lambda p, v: p == v,
    "StringLike": _like,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
}
_NEGATED = {"StringNotEquals": "StringEquals", "StringNotLike": "StringLike",
            "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase"}


def condition_holds(operator: str, key: str, policy_values, context: dict[str, list[str]]) -> bool:
    """One operator/key pair of a Condition block, as IAM evaluates it.

    Several policy values are ORed (for a negated operator: the value matches none).
    """
    pvals = [str(v).lower() if isinstance(v, bool) else str(v) for v in
             (policy_values if isinstance(policy_values, list) else [policy_values])]
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


def _as_list(v) -> list:
    return v if isinstance(v, list) else [v]


def _statement_applies(st: dict, action: str, provider_arn: str | None) -> tuple[bool, str]:
    if "Action" in st:
        if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _as_list(st["Action"])):
            return False, "action not listed"
    elif "NotAction" in st:
        if any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _as_list(st["NotAction"])):
            return False, "action excluded by NotAction"
    principal = st.get("Principal", {})
    if principal != "*" and provider_arn is not None:
        feds = _as_list(principal.get("Federated", [])) if isinstance(principal, dict) else []
        if provider_arn not in feds and "*" not in feds:
            return False, f"principal is not {provider_arn}"
    return True, ""


def evaluate_trust(policy_document: dict | str, claims: dict, provider_host: str,
                   provider_arn: str | None = None, action: str = WEB_IDENTITY) -> Finding:
    """Would IAM let a token with `claims` from `provider_host` assume the role? (pure)

    An explicit Deny wins; otherwise an Allow statement must apply (action,
    federated principal) and all its conditions hold (operators AND, keys AND,
    values OR).
    """
    doc = json.loads(policy_document) if isinstance(policy_document, str) else policy_document
    ctx = context_keys(claims, provider_host)
    subject = f"trust policy for {claims.get('sub', '?')} (aud {claims.get('aud', '?')})"
    allowed_by, notes = None, []
    for i, st in enumerate(_as_list(doc.get("Statement", []))):
        sid = st.get("Sid", f"#{i}")
        applies, why = _statement_applies(st, action, provider_arn)
        if not applies:
            notes.append(f"{sid}: {why}")
            continue
        unmet = [f"{op} {key}" for op, block in st.get("Condition", {}).items()
                 for key, vals in block.items() if not condition_holds(op, key, vals, ctx)]
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


# ------------------------------------------------------------ template checks

def _judge_template(path: Path, env: str = "dev", account_id: str | None = None):
    s = config.settings()
    t = iam_template.load(path)
    r = iam_template.Resolver(t, iam_template.parameters(env), account_id or s["aws"]["account_id"], s["aws"]["region"])
    return t, r


def check_no_admin(path: Path = iam_template.TEMPLATE, env: str = "dev") -> Finding:
    """No Allow statement grants a wildcard action on a wildcard resource; parliament finds nothing."""
    from parliament import analyze_policy_string

    t, r = _judge_template(path, env)
    bad, lint = [], []
    policies = iam_template.permission_policies(t, r)
    for where, doc in policies.items():
        for st in _as_list(doc.get("Statement", [])):
            if st.get("Effect") != "Allow":
                continue
            resources = _as_list(st.get("Resource", []))
            if "NotAction" in st or "NotResource" in st:
                bad.append(f"{where}: Allow with NotAction/NotResource")
            elif any(a in ("*", "*:*") for a in _as_list(st.get("Action", []))) and "*" in resources:
                bad.append(f"Action * on * in {where}")
        for f in analyze_policy_string(json.dumps(doc)).findings:
            lint.append(f"{where}: parliament {f.issue} {f.detail or ''}".strip())
    problems = bad + lint
    return Finding(not problems, f"IAM policies of {Path(path).name}", "no Action * on *, no parliament finding",
                   "; ".join(problems) or f"{len(policies)} policies, none over-broad",
                   evidence=tuple(problems) or tuple(policies), gaps=(_iam_gap(),))


def _iam_gap() -> str:
    from ..local.moto_server import GAPS
    return GAPS["iam-simulation"]


def _probe_claims(subject: str, audience: str, **over) -> dict:
    return {"sub": subject, "aud": audience, **over}


def check_trust(path: Path = iam_template.TEMPLATE, env: str = "dev", role: str = "DeployRole",
                subject_key: str = "deploy_subject") -> Finding:
    """The role's trust admits only the main-branch subject, and only with the audience.

    Two views: the shape (StringEquals on <issuer>:aud and <issuer>:sub, no
    wildcard) and the behaviour (the IAM evaluator admits the subject and
    refuses forks, pull requests, other branches and other audiences).
    """
    gh = config.settings()["github"]
    host, aud, want_sub = gh["oidc_issuer"], gh["oidc_audience"], gh[subject_key]
    t, r = _judge_template(path, env)
    rs = iam_template.roles(t, r)
    if role not in rs:
        raise errors.BadInput(UNKNOWN_ROLE.format(role=role, known=", ".join(rs)))
    trust = rs[role]["trust"]
    shape = []
    subs, auds = [], []
    for st in _as_list(trust.get("Statement", [])):
        if st.get("Effect") != "Allow":
            continue
        fed = _as_list((st.get("Principal") or {}).get("Federated", [])) if isinstance(st.get("Principal"), dict) else ["*"]
        if not all(f.endswith(f":oidc-provider/{host}") for f in fed):
            shape.append(f"principal {fed} is not the {host} provider")
        conds = st.get("Condition", {})
        for op, block in conds.items():
            for key, vals in block.items():
                k = key.lower()
                if k == f"{host}:sub".lower():
                    subs += [(op, v) for v in _as_list(vals)]
                elif k == f"{host}:aud".lower():
                    auds += [(op, v) for v in _as_list(vals)]
    if not auds:
        shape.append(f"no condition on {host}:aud: any audience is accepted")
    for op, v in auds:
        if op != "StringEquals" or v != aud:
            shape.append(f"aud condition {op} {v!r} (expected StringEquals {aud!r})")
    if not subs:
        shape.append(f"no condition on {host}:sub: any repository and branch is accepted")
    for op, v in subs:
        if v != want_sub or op not in ("StringEquals", "StringLike") or any(c in v for c in "*?"):
            shape.append(f"sub condition {op} admits {v!r} (expected only {want_sub!r})")
    provider_arn = f"arn:aws:iam::{r.refs['AWS::AccountId']}:oidc-provider/{host}"
    repo = gh["repository"]
    behaviour = []
    refuse = {
        "a fork": _probe_claims(want_sub.replace(f"repo:{repo}:", "repo:someone/fork:"), aud),
        "a pull request": _probe_claims(f"repo:{repo}:pull_request", aud),
        "another branch": _probe_claims(f"repo:{repo}:ref:refs/heads/dev", aud),
        "a tag": _probe_claims(f"repo:{repo}:ref:refs/tags/v1.0.0", aud),
        "an environment": _probe_claims(f"repo:{repo}:environment:prod", aud),
        "another audience": _probe_claims(want_sub, "sts.example.com"),
        "no audience": {"sub": want_sub},
    }
    if evaluate_trust(trust, _probe_claims(want_sub, aud), host, provider_arn).ok is False:
        behaviour.append(f"refuses {want_sub} with aud {aud}")
    for what, claims in refuse.items():
        if evaluate_trust(trust, claims, host, provider_arn).ok:
            behaviour.append(f"admits {what} ({claims.get('sub')}, aud {claims.get('aud', '-')})")
    problems = shape + behaviour
    return Finding(not problems, f"trust policy of {role} in {Path(path).name}",
                   f"only {want_sub} with aud {aud}", "; ".join(problems) or "only the main branch subject, audience required",
                   evidence=tuple(problems) or (json.dumps(trust),), gaps=())


def caught(finding: Finding, naming: str) -> Finding:
    """A check that had to come out red did, and its evidence names `naming`."""
    return findings.caught(finding, naming, case_sensitive=True)


def check_template(path: Path = iam_template.TEMPLATE, env: str = "dev") -> Finding:
    """The whole IAM check: least privilege, and both roles' trust."""
    return combine(f"IAM template {Path(path).name}", [
        check_no_admin(path, env),
        check_trust(path, env, "DeployRole", "deploy_subject"),
        check_trust(path, env, "VerifyRole", "verify_subject"),
    ])


# ---------------------------------------------------------- roles on a target

def _client(target: Target, service: str, **creds):
    if not creds:
        return _shared_client(target.aws_endpoint_url, target.region, service)
    return boto3.client(service, endpoint_url=target.aws_endpoint_url, region_name=target.region, **creds)


@lru_cache(maxsize=16)
def _shared_client(endpoint: str | None, region: str, service: str):
    # Building a boto3 client costs ~50 ms; the property makes hundreds of calls.
    return boto3.client(service, endpoint_url=endpoint, region_name=region)


def _emulated(target: Target) -> bool:
    return EMULATOR in target.local


def ensure_roles(target: Target, env: str) -> dict[str, str]:
    """Offline: create the template's OIDC provider and roles in the emulator's IAM.

    The same trust and permission documents the stack would create (resolved
    from iam.yaml and settings); idempotent. Returns logical id -> role ARN.
    """
    gh = config.settings()["github"]
    iam = _client(target, "iam")
    url = f"https://{gh['oidc_issuer']}"
    arns = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    provider = next((a for a in arns if a.endswith(f":oidc-provider/{gh['oidc_issuer']}")), None)
    if provider is None:
        try:
            provider = iam.create_open_id_connect_provider(Url=url, ClientIDList=[gh["oidc_audience"]])[
                "OpenIDConnectProviderArn"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
            provider = next(a for a in (p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"])
                            if a.endswith(gh["oidc_issuer"]))
    t = iam_template.load()
    account = provider.split(":")[4]
    r = iam_template.Resolver(t, {**iam_template.parameters(env), "ExistingOidcProviderArn": provider},
                              account, target.region)
    out = {}
    for lid, role in iam_template.roles(t, r).items():
        trust = json.dumps(role["trust"])
        try:
            arn = iam.create_role(RoleName=role["name"], AssumeRolePolicyDocument=trust,
                                  MaxSessionDuration=role["max_session"])["Role"]["Arn"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
            iam.update_assume_role_policy(RoleName=role["name"], PolicyDocument=trust)
            arn = iam.get_role(RoleName=role["name"])["Role"]["Arn"]
        for name, doc in role["policies"].items():
            iam.put_role_policy(RoleName=role["name"], PolicyName=name, PolicyDocument=json.dumps(doc))
        out[lid] = arn
    return out


def role_arn(target: Target, env: str, role: str = "DeployRole") -> str:
    """The ARN of a role of iam.yaml on the target (offline: created in the emulator first)."""
    if _emulated(target):
        arns = ensure_roles(target, env)
    else:
        t = iam_template.load()
        r = iam_template.Resolver(t, {**iam_template.parameters(env), "ExistingOidcProviderArn": "x"},
                                  target.account_id, target.region)
        arns = {lid: r.getatt(lid, "Arn") for lid in iam_template.roles(t, r)}
    if role not in arns:
        raise errors.BadInput(UNKNOWN_ROLE.format(role=role, known=", ".join(arns)))
    return arns[role]


# ------------------------------------------------------------------ issuer

@dataclass(frozen=True)
class Issuer:
    url: str
    local: dict | None = field(default=None, repr=False)  # offline: key file and kid for minting


def issuer(target: Target, environ: dict | None = None) -> Issuer:
    """The target's OIDC issuer; live, only a GitHub Actions run can get a token from it."""
    if target.oidc_issuer_url and "oidc" in target.local:
        return Issuer(target.oidc_issuer_url, target.local["oidc"])
    env = os.environ if environ is None else environ
    if not (env.get("ACTIONS_ID_TOKEN_REQUEST_URL") and env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")):
        raise errors.TargetUnavailable(NO_ACTIONS_TOKEN)
    return Issuer(f"https://{config.settings()['github']['oidc_issuer']}")


def workflow_token(iss: Issuer, ref: str = "refs/heads/main", **claims) -> str:
    """A run's ID token: offline minted by the local issuer; live requested from GitHub."""
    if iss.local is not None:
        from ..local import oidc as local_oidc
        return local_oidc.mint(iss.local, {**local_oidc.run_claims(iss.url, ref), **claims})
    aud = config.settings()["github"]["oidc_audience"]
    r = requests.get(os.environ["ACTIONS_ID_TOKEN_REQUEST_URL"], params={"audience": aud},
                     headers={"Authorization": f"Bearer {os.environ['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}"}, timeout=30)
    r.raise_for_status()
    return r.json()["value"]


@lru_cache(maxsize=8)
def _jwks(issuer_url: str) -> str:
    try:
        disc = requests.get(f"{issuer_url}/.well-known/openid-configuration", timeout=10)
        disc.raise_for_status()
        keys = requests.get(disc.json()["jwks_uri"], timeout=10)
        keys.raise_for_status()
    except requests.RequestException as exc:
        raise errors.TargetUnavailable(ISSUER_UNREACHABLE.format(url=issuer_url, reason=exc)) from None
    return keys.text


def jwks(issuer_url: str) -> dict:
    return json.loads(_jwks(issuer_url))


# ---------------------------------------------------------------- exchange

@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: Secret = field(repr=False)
    session_token: Secret = field(repr=False)
    expiration: datetime
    assumed_role_arn: str


@dataclass(frozen=True)
class Exchange:
    finding: Finding                 # ok: STS issued credentials and they work
    credentials: Credentials | None
    sts_called: bool


def gate(target: Target, role: str, token: str, duration: int) -> Finding:
    """What STS and IAM check before issuing credentials, done by the harness (offline)."""
    gh = config.settings()["github"]
    tok = validate_token(token, jwks(target.oidc_issuer_url), target.oidc_issuer_url, gh["oidc_audience"])
    if not tok.ok:
        return tok
    got = _client(target, "iam").get_role(RoleName=role.rsplit("/", 1)[-1])["Role"]
    doc = got["AssumeRolePolicyDocument"]
    doc = json.loads(doc) if isinstance(doc, str) else doc
    provider_arn = f"arn:aws:iam::{role.split(':')[4]}:oidc-provider/{gh['oidc_issuer']}"
    # The local issuer stands in for GitHub's: its claims are judged under GitHub's keys.
    trust = evaluate_trust(doc, token_claims(token), gh["oidc_issuer"], provider_arn)
    if not trust.ok:
        return trust
    if duration > got.get("MaxSessionDuration", 3600):
        return failed("session duration", f"<= {got.get('MaxSessionDuration', 3600)}", str(duration))
    return trust


def exchange(target: Target, role: str, token: str, duration: int | None = None) -> Credentials:
    """AssumeRoleWithWebIdentity on the target's STS; raises Refused when no credentials are issued."""
    duration = duration or config.settings()["github"]["session_seconds"]
    if _emulated(target):
        g = gate(target, role, token, duration)
        if not g.ok:
            raise errors.Refused(TOKEN_REFUSED.format(reason=g.actual), evidence=(g.line(), *g.evidence))
    try:
        out = _client(target, "sts").assume_role_with_web_identity(
            RoleArn=role, RoleSessionName=f"github-{uuid.uuid4().hex[:12]}", WebIdentityToken=token,
            DurationSeconds=duration)
    except ClientError as exc:
        e = exc.response["Error"]
        raise errors.Refused(STS_REFUSED.format(reason=f"{e['Code']}: {e.get('Message', '')}")) from None
    c = out["Credentials"]
    return Credentials(c["AccessKeyId"], Secret(c["SecretAccessKey"]), Secret(c["SessionToken"]),
                       c["Expiration"], out["AssumedRoleUser"]["Arn"])


def request_credentials(target: Target, role: str, token: str) -> Exchange:
    """The exchange as a Finding: credentials issued by STS, and STS says who they are."""
    gaps = (_gap(),) if _emulated(target) else ()
    try:
        creds = exchange(target, role, token)
    except errors.Refused as exc:
        return Exchange(failed(f"credentials for {role}", "temporary STS credentials", str(exc),
                               evidence=exc.evidence, gaps=gaps), None,
                        str(exc).startswith(STS_REFUSED.split("{")[0]))
    who = _client(target, "sts", aws_access_key_id=creds.access_key_id,
                  aws_secret_access_key=str(creds.secret_access_key),
                  aws_session_token=str(creds.session_token)).get_caller_identity()["Arn"]
    role_name = role.rsplit("/", 1)[-1]
    ok = f":assumed-role/{role_name}/" in who and creds.access_key_id.startswith("ASIA")
    return Exchange(Finding(ok, f"credentials for {role}", f"STS session of {role_name} (ASIA... key)",
                            f"{who} with key {creds.access_key_id[:8]}...", evidence=(f"caller identity {who}",), gaps=gaps),
                    creds, True)


def refused(ex: Exchange) -> Finding:
    """The run got no credentials, and (offline) STS was never asked."""
    subject = "token exchange"
    if ex.credentials is not None:
        return failed(subject, "refused", f"credentials issued: {ex.credentials.access_key_id[:8]}...",
                      gaps=ex.finding.gaps)
    if ex.finding.gaps and ex.sts_called:  # offline the harness must refuse before STS is asked
        return failed(subject, "refused before STS is asked", ex.finding.actual, gaps=ex.finding.gaps)
    return passed(subject, "refused", ex.finding.actual, evidence=ex.finding.evidence, gaps=ex.finding.gaps)


def check_expiry(creds: Credentials, max_seconds: int, now: datetime | None = None) -> Finding:
    """Credentials expire in the future and within `max_seconds` (and settings.github.session_seconds)."""
    limit = min(max_seconds, config.settings()["github"]["session_seconds"])
    now = now or datetime.now(UTC)
    exp = creds.expiration if creds.expiration.tzinfo else creds.expiration.replace(tzinfo=UTC)
    left = (exp - now).total_seconds()
    # One second of slack: STS stamps the expiry from its own clock, a moment earlier.
    return Finding(0 < left <= limit + 1, "credential lifetime", f"0 < lifetime <= {limit}s",
                   f"expires {exp.isoformat()} ({left:.0f}s from now)")


def check_distinct(a: Credentials, b: Credentials) -> Finding:
    return Finding(a.access_key_id != b.access_key_id, "two runs' credentials",
                   "different access key ids", f"{a.access_key_id[:8]}... and {b.access_key_id[:8]}...")


def judge_run(ex: Exchange, allowed: bool, max_seconds: int) -> Finding:
    """One generated run of property P1: allowed runs get short-lived credentials, others nothing."""
    if allowed:
        if ex.credentials is None:
            return failed("allowed run", "credentials", ex.finding.actual, evidence=ex.finding.evidence)
        return combine("allowed run", [ex.finding, check_expiry(ex.credentials, max_seconds)])
    if ex.credentials is not None or ex.sts_called:
        return failed("refused run", "no credentials, STS never asked",
                      f"credentials: {ex.credentials is not None}, STS asked: {ex.sts_called}")
    return passed("refused run", "no credentials", ex.finding.actual)


def property_result(seen: list[tuple[bool, Finding]], failures: list[str], n: int) -> Finding:
    """Property P1 over the generated runs: enough examples, both kinds, no counterexample."""
    allowed = sum(1 for a, _ in seen if a)
    refused_ = len(seen) - allowed
    reasons = sorted({f.actual.split(": ", 1)[-1][:70] for a, f in seen if not a})
    problems = list(failures)
    if len(seen) < n:
        problems.append(f"only {len(seen)} examples ran")
    if not allowed or not refused_:
        problems.append("the generated runs did not cover both allowed and refused runs")
    gaps = tuple(dict.fromkeys(g for _, f in seen for g in f.gaps)) or (_gap(),)
    return Finding(not problems, "P1: only runs the trust policy allows obtain credentials",
                   f">= {n} runs, allowed ones get <= session_seconds credentials, others none",
                   f"{len(seen)} runs: {allowed} allowed got credentials, {refused_} refused"
                   + (f"; counterexample: {'; '.join(problems)}" if problems else ""),
                   evidence=tuple(problems) + tuple(f"refused: {r}" for r in reasons), gaps=gaps)
