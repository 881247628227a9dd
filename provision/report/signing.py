"""Ed25519 signatures of release reports: canonical JSON, per-field digests, the one-line verdict of a check.

The signature covers the canonical JSON of the report object (sorted keys, no
spaces, UTF-8). Beside it the signature file keeps the SHA-256 of each
top-level field (and of each ID's entry), so a report that no longer verifies
can say which fields changed since it was signed. The private key comes from
the environment (`CTL_RELEASE_SIGNING_KEY`, PEM or base64 of the 32 raw
bytes) as a `config.Secret` and is never printed or written; without it a
throwaway key is made for the one run, and the report says it is not a release.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .. import config, errors

KEY_ENV = "CTL_RELEASE_SIGNING_KEY"
PUBLIC_KEY_FILE = config.ROOT / "keys" / "release-ed25519.pub"
ALGORITHM = "ed25519"
THROWAWAY = "throwaway"
THROWAWAY_NOTE = "signed with a throwaway key: not a release"

BAD_PRIVATE_KEY = f"{KEY_ENV} is not an Ed25519 private key (expected a PEM or base64 of the 32 raw bytes)"
BAD_PUBLIC_KEY = "{path} is not an Ed25519 public key (expected a PEM 'BEGIN PUBLIC KEY' block)"
NO_PUBLIC_KEY = "no public key at {path}: give one with --public-key FILE"
KEY_EXISTS = "{path} exists: the private key is written only to a new file (nothing was changed)"


def canonical(obj) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(obj) -> str:
    return hashlib.sha256(canonical(obj)).hexdigest()


def field_digests(report: dict) -> dict[str, str]:
    """SHA-256 of each top-level field, and `ids[<ID>]` of each entry of `ids` (a list of {"id": ...})."""
    out = {k: digest(v) for k, v in report.items()}
    for entry in report.get("ids", []) if isinstance(report.get("ids"), list) else []:
        if isinstance(entry, dict) and "id" in entry:
            out[f"ids[{entry['id']}]"] = digest(entry)
    return out


def changed_fields(signed: dict[str, str], report: dict) -> list[str]:
    """The fields whose digest differs from the signed one (added and removed ones too), IDs named."""
    now = field_digests(report)
    keys = sorted(set(signed) | set(now))
    changed = [k for k in keys if signed.get(k) != now.get(k)]
    ids = [k for k in changed if k.startswith("ids[")]
    top = [k for k in changed if not k.startswith("ids[")]
    if ids:
        top = [k for k in top if k != "ids"] + ["ids " + ", ".join(k[4:-1] for k in ids)]
    return top


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key: Ed25519PublicKey) -> str:
    """`sha256:` and the first 16 hex digits of the raw public key's hash: how reports and messages name a key."""
    return "sha256:" + hashlib.sha256(public_raw(key)).hexdigest()[:16]


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@dataclass(frozen=True)
class SigningKey:
    """A private key and where it came from (`CTL_RELEASE_SIGNING_KEY` or `throwaway`); repr shows neither key."""

    key: Ed25519PrivateKey
    source: str

    def __repr__(self) -> str:
        return f"SigningKey(source={self.source!r}, public={fingerprint(self.public)})"

    @property
    def public(self) -> Ed25519PublicKey:
        return self.key.public_key()

    @property
    def throwaway(self) -> bool:
        return self.source == THROWAWAY


def parse_private(text: config.Secret) -> Ed25519PrivateKey:
    """A PEM (PKCS#8) or base64 of the 32 raw bytes; BadInput that never shows the value."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise errors.BadInput(BAD_PRIVATE_KEY)
    return key


def signing_key(environ=os.environ) -> SigningKey:
    """The release key from the environment, or a throwaway key made now (and forgotten after the run)."""
    value = config.Secret(environ.get(KEY_ENV, ""))
    if value.strip():
        return SigningKey(parse_private(value), KEY_ENV)
    return SigningKey(Ed25519PrivateKey.generate(), THROWAWAY)


def load_public(path: Path) -> Ed25519PublicKey:
    path = Path(path)
    if not path.is_file():
        raise errors.BadInput(NO_PUBLIC_KEY.format(path=path))
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except ValueError:
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise errors.BadInput(BAD_PUBLIC_KEY.format(path=path))
    return key


def sign(report: dict, key: SigningKey) -> dict:
    """The signature record stored beside the report."""
    return {
        "algorithm": ALGORITHM,
        "key": key.source,
        "public_key": base64.b64encode(public_raw(key.public)).decode(),
        "fingerprint": fingerprint(key.public),
        "signature": base64.b64encode(key.key.sign(canonical(report))).decode(),
        "signed": field_digests(report),
    }


def _verifies(public: Ed25519PublicKey, signature: bytes, report: dict) -> bool:
    try:
        public.verify(signature, canonical(report))
        return True
    except InvalidSignature:
        return False


@dataclass(frozen=True)
class Check:
    ok: bool
    line: str  # one line: what verified, or what did not


def check(report: dict, record: dict, trusted: Ed25519PublicKey) -> Check:
    """Does `record` sign `report` with `trusted`? If not, say why in one line (changed fields first).

    `record` must already be well-formed (see `well_formed`).
    """
    signature = base64.b64decode(record["signature"])
    signer = Ed25519PublicKey.from_public_bytes(base64.b64decode(record["public_key"]))
    throwaway = record.get("key") == THROWAWAY or (report.get("signing") or {}).get("key") == THROWAWAY
    if _verifies(trusted, signature, report):
        if throwaway:
            return Check(False, THROWAWAY_NOTE)
        return Check(True, f"signature ok: signed by {fingerprint(trusted)}")
    changed = changed_fields(record["signed"], report)
    if changed:
        return Check(False, "the report's content changed since it was signed: " + "; ".join(changed))
    if throwaway:
        return Check(False, THROWAWAY_NOTE)
    if _verifies(signer, signature, report):
        return Check(False, f"signed by key {fingerprint(signer)}, not the release key {fingerprint(trusted)}")
    return Check(False, "the signature does not match the report (the signature or the report changed)")


def well_formed(record) -> str:
    """'' when the signature record has every part in its shape, else what is wrong with it."""
    if not isinstance(record, dict):
        return "not a JSON object"
    for name in ("signature", "public_key"):
        try:
            raw = base64.b64decode(str(record.get(name, "")), validate=True)
        except ValueError:
            return f"{name} is not base64"
        if len(raw) != {"signature": 64, "public_key": 32}[name]:
            return f"{name} is missing or of the wrong length"
    if record.get("algorithm") != ALGORITHM:
        return f"algorithm {record.get('algorithm')!r} is not {ALGORITHM}"
    signed = record.get("signed")
    if not isinstance(signed, dict) or not all(isinstance(v, str) for v in signed.values()):
        return "signed (the per-field digests) is missing"
    return ""


def write_private(path: Path, key: Ed25519PrivateKey) -> None:
    """A new file, mode 0600, never an existing one."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise errors.BadInput(KEY_EXISTS.format(path=path)) from None
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
