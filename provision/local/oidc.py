"""Offline stand-in for GitHub's OIDC issuer (token.actions.githubusercontent.com).

It speaks the real protocol: an HTTP server (provision.local.oidc_server) serves
the discovery document and the JWKS, and `mint` signs RS256 JWTs with GitHub's
claim set. The RSA key is generated at start, kept only in a 0600 file under the
stack's state dir, and deleted at stop: no key is ever committed or printed.
"""
from __future__ import annotations

import base64
import hashlib
import os
import sys
import time
import uuid
from pathlib import Path

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from .. import config, errors
from . import procs

NAME = "oidc"
KEY_FILE = "oidc-issuer.key"
TOKEN_LIFETIME = 300  # GitHub's ID tokens live about five minutes

UNKNOWN_VARIANT = ("unknown token variant {claim}={value!r}: "
                   "expected sub, aud, iss or ref=<text>, exp=expired, nbf=future or sig=forged")

# GitHub's claims (https://docs.github.com/actions/reference/openid-connect-reference).
CLAIMS = ("iss", "aud", "sub", "repository", "repository_owner", "ref", "ref_type", "event_name",
          "environment", "job_workflow_ref", "run_id", "run_attempt", "iat", "nbf", "exp", "jti")


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_id(key) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:16]).decode().rstrip("=")


def public_jwks(key) -> dict:
    jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {"keys": [{**jwk, "alg": "RS256", "use": "sig", "kid": key_id(key)}]}


def discovery_document(issuer: str) -> dict:
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks",
        "subject_types_supported": ["public", "pairwise"],
        "response_types_supported": ["id_token"],
        "claims_supported": list(CLAIMS),
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid"],
    }


def start(state_dir: Path, progress=print) -> dict:
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    key_file = state_dir / KEY_FILE
    key = new_key()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    key_file.unlink(missing_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    port = procs.free_port()
    issuer = f"http://127.0.0.1:{port}"
    progress(f"starting OIDC issuer on {issuer}")
    pid = procs.spawn(NAME, [sys.executable, "-m", "provision.local.oidc_server", "--port", str(port),
                             "--key", str(key_file), "--issuer", issuer], state_dir, cwd=config.ROOT)
    procs.wait_port("127.0.0.1", port, 30, pid, "OIDC issuer")
    requests.get(f"{issuer}/.well-known/openid-configuration", timeout=5).raise_for_status()
    return {"oidc_issuer_url": issuer, "key_file": str(key_file), "kid": key_id(key)}


def stop(state_dir: Path) -> None:
    procs.stop(NAME, Path(state_dir))
    (Path(state_dir) / KEY_FILE).unlink(missing_ok=True)


def _load_key(info: dict):
    return serialization.load_pem_private_key(Path(info["key_file"]).read_bytes(), password=None)


def run_claims(issuer_url: str, ref: str = "refs/heads/main", *, repository: str | None = None,
               event_name: str = "push", environment: str | None = None, audience: str | None = None,
               now: float | None = None, lifetime: int = TOKEN_LIFETIME, run_id: int | None = None) -> dict:
    """The claims GitHub puts in a run's ID token; `sub` follows GitHub's default template."""
    gh = config.settings()["github"]
    repository = repository or gh["repository"]
    if environment:
        sub = f"repo:{repository}:environment:{environment}"
    elif event_name in ("pull_request", "pull_request_target"):
        sub = f"repo:{repository}:pull_request"
    else:
        sub = f"repo:{repository}:ref:{ref}"
    now = int(time.time() if now is None else now)
    claims = {
        "iss": issuer_url,
        "aud": gh["oidc_audience"] if audience is None else audience,
        "sub": sub,
        "repository": repository,
        "repository_owner": repository.split("/")[0],
        "ref": ref,
        "ref_type": "tag" if ref.startswith("refs/tags/") else "branch",
        "event_name": event_name,
        "job_workflow_ref": f"{repository}/.github/workflows/deploy.yml@{ref}",
        "run_id": str(run_id if run_id is not None else uuid.uuid4().int % 10**10),
        "run_attempt": "1",
        "iat": now,
        "nbf": now - 5,
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
    }
    if environment:
        claims["environment"] = environment
    return claims


def mint(issuer_info: dict, claims: dict, signing_key=None) -> str:
    """An RS256 JWT for `claims`, signed by the issuer's key (or `signing_key`, to forge one)."""
    key = signing_key or _load_key(issuer_info)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": issuer_info["kid"], "typ": "JWT"})


def mint_variant(issuer_info: dict, claims: dict, claim: str, value: str) -> str:
    """A token whose `claim` is changed to `value` (exp=expired, nbf=future and sig=forged are special)."""
    claims = dict(claims)
    now = int(time.time())
    if claim in ("sub", "aud", "iss", "ref", "repository", "environment", "event_name"):
        claims[claim] = value
    elif (claim, value) == ("exp", "expired"):
        claims.update(iat=now - 3 * TOKEN_LIFETIME, nbf=now - 3 * TOKEN_LIFETIME, exp=now - 2 * TOKEN_LIFETIME)
    elif (claim, value) == ("nbf", "future"):
        claims.update(nbf=now + TOKEN_LIFETIME)
    elif (claim, value) == ("sig", "forged"):
        return mint(issuer_info, claims, signing_key=new_key())
    else:
        raise errors.BadInput(UNKNOWN_VARIANT.format(claim=claim, value=value))
    return mint(issuer_info, claims)
