"""The GitHub OIDC -> STS exchange against the target: the roles of iam.yaml, AssumeRoleWithWebIdentity,
and what the credentials must be.

Where the target's STS accepts any web-identity token (its gap
"sts-web-identity": moto), the harness first does what STS and IAM do
(token validation, trust evaluation); a refused run never reaches STS.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from .. import config, errors
from ..config import Environment, Secret, Target
from ..findings import Finding, failed, passed
from . import gaps as target_gaps
from . import iam_roles
from .cfn import parameters
from .clients import client
from .iam_eval import evaluate_trust
from .jwt_tokens import jwks, token_claims, validate_token

TOKEN_REFUSED = "token exchange refused (checked as STS and IAM would): {reason}"
STS_REFUSED = "token exchange refused by STS: {reason}"
UNKNOWN_ROLE = "unknown role {role!r}: expected one of {known}"
STS_GAP = "sts-web-identity"


def _gated(target: Target) -> bool:
    """The target's STS does not check tokens itself: the harness does it before asking."""
    return target.gap(STS_GAP) is not None


def ensure_roles(target: Target, env: Environment) -> dict[str, str]:
    """Create the template's OIDC provider and roles in the target's (emulated) IAM.

    The same trust and permission documents the stack would create (resolved
    from iam.yaml and settings); idempotent. Returns logical id -> role ARN.
    """
    gh = config.settings()["github"]
    iam = client(target, "iam")
    url = f"https://{gh['oidc_issuer']}"
    arns = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    provider = next((a for a in arns if a.endswith(f":oidc-provider/{gh['oidc_issuer']}")), None)
    if provider is None:
        try:
            provider = iam.create_open_id_connect_provider(Url=url, ClientIDList=[gh["oidc_audience"]])[
                "OpenIDConnectProviderArn"
            ]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
            provider = next(
                a
                for a in (p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"])
                if a.endswith(gh["oidc_issuer"])
            )
    t, r = parameters.iam_resolver(
        env, account_id=provider.split(":")[4], region=target.region, ExistingOidcProviderArn=provider
    )
    out = {}
    for lid, role in iam_roles.roles(t, r).items():
        trust = json.dumps(role["trust"])
        try:
            arn = iam.create_role(
                RoleName=role["name"], AssumeRolePolicyDocument=trust, MaxSessionDuration=role["max_session"]
            )["Role"]["Arn"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
            iam.update_assume_role_policy(RoleName=role["name"], PolicyDocument=trust)
            arn = iam.get_role(RoleName=role["name"])["Role"]["Arn"]
        for name, doc in role["policies"].items():
            iam.put_role_policy(RoleName=role["name"], PolicyName=name, PolicyDocument=json.dumps(doc))
        out[lid] = arn
    return out


def role_arn(target: Target, env: Environment, role: str = "DeployRole") -> str:
    """The ARN of a role of iam.yaml on the target (on an emulated endpoint: created there first)."""
    if target_gaps.shared_emulator(target):
        arns = ensure_roles(target, env)
    else:
        t, r = parameters.iam_resolver(
            env, account_id=target.account_id, region=target.region, ExistingOidcProviderArn="x"
        )
        arns = {lid: r.getatt(lid, "Arn") for lid in iam_roles.roles(t, r)}
    if role not in arns:
        raise errors.BadInput(UNKNOWN_ROLE.format(role=role, known=", ".join(arns)))
    return arns[role]


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: Secret = field(repr=False)
    session_token: Secret = field(repr=False)
    expiration: datetime
    assumed_role_arn: str
    grade: str = ""  # of the STS that issued them


@dataclass(frozen=True)
class Exchange:
    finding: Finding  # ok: STS issued credentials and they work
    credentials: Credentials | None
    sts_called: bool


def gate(target: Target, role: str, token: str, duration: int) -> Finding:
    """What STS and IAM check before issuing credentials, done by the harness (model)."""
    gh = config.settings()["github"]
    tok = validate_token(token, jwks(target.oidc_issuer_url), target.oidc_issuer_url, gh["oidc_audience"])
    if not tok.ok:
        return tok
    got = client(target, "iam").get_role(RoleName=role.rsplit("/", 1)[-1])["Role"]
    doc = got["AssumeRolePolicyDocument"]
    doc = json.loads(doc) if isinstance(doc, str) else doc
    provider_arn = f"arn:aws:iam::{role.split(':')[4]}:oidc-provider/{gh['oidc_issuer']}"
    # The local issuer stands in for GitHub's: its claims are judged under GitHub's keys.
    trust = evaluate_trust(doc, token_claims(token), gh["oidc_issuer"], provider_arn)
    if not trust.ok:
        return trust
    if duration > got.get("MaxSessionDuration", 3600):
        return failed("session duration", f"<= {got.get('MaxSessionDuration', 3600)}", str(duration), grade="model")
    return trust


def exchange(target: Target, role: str, token: str, duration: int | None = None) -> Credentials:
    """AssumeRoleWithWebIdentity on the target's STS; raises Refused when no credentials are issued."""
    duration = duration or config.settings()["github"]["session_seconds"]
    if _gated(target):
        g = gate(target, role, token, duration)
        if not g.ok:
            raise errors.Refused(TOKEN_REFUSED.format(reason=g.actual), evidence=(g.line(), *g.evidence))
    try:
        out = client(target, "sts").assume_role_with_web_identity(
            RoleArn=role,
            RoleSessionName=f"github-{uuid.uuid4().hex[:12]}",
            WebIdentityToken=token,
            DurationSeconds=duration,
        )
    except ClientError as exc:
        e = exc.response["Error"]
        raise errors.Refused(STS_REFUSED.format(reason=f"{e['Code']}: {e.get('Message', '')}")) from None
    c = out["Credentials"]
    return Credentials(
        c["AccessKeyId"],
        Secret(c["SecretAccessKey"]),
        Secret(c["SessionToken"]),
        c["Expiration"],
        out["AssumedRoleUser"]["Arn"],
        target.grade("aws"),
    )


def request_credentials(target: Target, role: str, token: str) -> Exchange:
    """The exchange as a Finding: credentials issued by STS, and STS says who they are."""
    gaps = target_gaps.named(target, STS_GAP)
    try:
        creds = exchange(target, role, token)
    except errors.Refused as exc:
        sts_called = str(exc).startswith(STS_REFUSED.split("{")[0])
        return Exchange(
            failed(
                f"credentials for {role}",
                "temporary STS credentials",
                str(exc),
                evidence=exc.evidence,
                gaps=gaps,
                grade=target.grade("aws") if sts_called else "model",
            ),
            None,
            sts_called,
        )
    who = client(target, "sts", credentials=creds).get_caller_identity()["Arn"]
    role_name = role.rsplit("/", 1)[-1]
    ok = f":assumed-role/{role_name}/" in who and creds.access_key_id.startswith("ASIA")
    return Exchange(
        Finding(
            ok,
            f"credentials for {role}",
            f"STS session of {role_name} (ASIA... key)",
            f"{who} with key {creds.access_key_id[:8]}...",
            evidence=(f"caller identity {who}",),
            gaps=gaps,
            grade=target.grade("aws"),
        ),
        creds,
        True,
    )


def refused(ex: Exchange) -> Finding:
    """The run got no credentials, and (where the harness gates STS) STS was never asked."""
    subject = "token exchange"
    grade = ex.finding.grade
    if ex.credentials is not None:
        return failed(
            subject,
            "refused",
            f"credentials issued: {ex.credentials.access_key_id[:8]}...",
            gaps=ex.finding.gaps,
            grade=grade,
        )
    if ex.finding.gaps and ex.sts_called:  # a gated target must refuse before STS is asked
        return failed(subject, "refused before STS is asked", ex.finding.actual, gaps=ex.finding.gaps, grade=grade)
    return passed(
        subject, "refused", ex.finding.actual, evidence=ex.finding.evidence, gaps=ex.finding.gaps, grade=grade
    )


def check_expiry(creds: Credentials, max_seconds: int, now: datetime | None = None) -> Finding:
    """Credentials expire in the future and within `max_seconds` (and settings.github.session_seconds)."""
    limit = min(max_seconds, config.settings()["github"]["session_seconds"])
    now = now or datetime.now(UTC)
    exp = creds.expiration if creds.expiration.tzinfo else creds.expiration.replace(tzinfo=UTC)
    left = (exp - now).total_seconds()
    # One second of slack: STS stamps the expiry from its own clock, a moment earlier.
    return Finding(
        0 < left <= limit + 1,
        "credential lifetime",
        f"0 < lifetime <= {limit}s",
        f"expires {exp.isoformat()} ({left:.0f}s from now)",
        grade=creds.grade,
    )


def check_distinct(a: Credentials, b: Credentials) -> Finding:
    return Finding(
        a.access_key_id != b.access_key_id,
        "two runs' credentials",
        "different access key ids",
        f"{a.access_key_id[:8]}... and {b.access_key_id[:8]}...",
        grade=a.grade,
    )
