"""OIDC ID tokens: the issuer's JWKS and the validation STS does before an exchange (the harness's own model)."""

from __future__ import annotations

import json
from functools import lru_cache

import jwt
import requests

from .. import errors
from ..findings import Finding, failed, graded, passed

ISSUER_UNREACHABLE = "OIDC issuer {url} unreachable: {reason}"


@graded("model")
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
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=audience,
            issuer=issuer,
            options={
                "require": ["iss", "aud", "sub", "exp", "iat"],
                "verify_exp": timed,
                "verify_nbf": timed,
                "verify_iat": timed,
            },
            leeway=0,
        )
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
    """The issuer's public keys (discovery, then jwks_uri); TargetUnavailable when unreachable."""
    return json.loads(_jwks(issuer_url))
