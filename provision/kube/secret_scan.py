"""Secret values in files: known token formats, and Secret objects whose values are real.

A value is judged, not its presence: empty, templated (`${VAR}`, `$(VAR)`, `{{ .x }}`) and placeholder
values (`changeme`, `<...>`, `REPLACE_ME`, AWS's EXAMPLE keys) are not secrets; a known token format is
one wherever it stands. Evidence names file and line, never the value."""
from __future__ import annotations

import base64
import binascii
import re
import subprocess
from pathlib import Path

import yaml

from .. import config, errors, findings
from ..findings import Finding
from .checks import tally

SECRET_PATTERNS = {
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA |ENCRYPTED )?PRIVATE KEY-----"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "GitHub fine-grained token": re.compile(r"\bgithub_pat_[A-Za-z0-9_]{50,}\b"),
    "Slack token": re.compile(r"\bxox[abpors]-[A-Za-z0-9-]{10,}\b"),
    "Slack webhook": re.compile(r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,}"),
    # developers.cloudflare.com/fundamentals/api/get-started/token-formats: prefix, 40 characters, checksum
    "Cloudflare API credential": re.compile(r"\bcf(?:k|ut|at)_[A-Za-z0-9]{40}[0-9a-f]{8}\b"),
    "Docker Hub token": re.compile(r"\bdckr_pat_[A-Za-z0-9_-]{20,}\b"),
    "Auth0/JWT token": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
}
# Documentation placeholders (AWS's own examples) are not secrets.
PLACEHOLDER = re.compile(r"EXAMPLE|XXXX|0000000000000000", re.I)
# Values that stand for a secret without being one.
TEMPLATED = re.compile(r"^\s*(?:\$\{[^}]*\}|\$\([^)]*\)|\{\{.*\}\}|%\([^)]*\)s)\s*$")
PLACEHOLDER_VALUE = re.compile(
    r"^\s*(?:<[^>]*>|changeme|change[-_ ]?me|replace[-_ ]?me|placeholder|todo|tbd|dummy|example|redacted|secret|"
    r"password|xxx+|\*+|\.\.\.)\s*$", re.I)


def is_secret_value(value) -> bool:
    """A value that is a secret: not empty, not templated, not a placeholder."""
    text = "" if value is None else str(value)
    return bool(text.strip()) and not TEMPLATED.match(text) and not PLACEHOLDER_VALUE.match(text)


def secret_keys(doc: dict) -> list[str]:
    """Keys of a Secret object whose values are secrets (data is base64: decoded first)."""
    out = [k for k, v in (doc.get("stringData") or {}).items() if is_secret_value(v)]
    for k, v in (doc.get("data") or {}).items():
        try:
            value = base64.b64decode(str(v or ""), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            value = str(v)   # not base64 text: judged as written
        if is_secret_value(value):
            out.append(k)
    return out


def scan_text(path: str, text: str, secret_name: str) -> list[str]:
    """Secret values in one file: common credential patterns, and Secret objects with data."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        for what, rx in SECRET_PATTERNS.items():
            m = rx.search(line)
            if m and not PLACEHOLDER.search(m.group(0)):
                out.append(f"{path}:{n}: looks like a {what}")
    if path.endswith((".yaml", ".yml")) and "Secret" in text:
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            docs = []
        for d in docs:
            if isinstance(d, dict) and d.get("kind") == "Secret" and secret_keys(d):
                name = (d.get("metadata") or {}).get("name")
                tag = f" ({secret_name})" if name == secret_name else ""
                out.append(f"{path}: Secret {name}{tag} holds data/stringData values")
    return out


def repository_files(root: Path = config.ROOT) -> list[str]:
    """Tracked files plus untracked ones git would take (not ignored)."""
    argv = ["git", "-C", str(root), "ls-files", "--cached", "--others", "--exclude-standard", "-z"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise errors.ProvisionError(f"git ls-files failed: {p.stderr.strip()[:200]}")
    return sorted({f for f in p.stdout.split("\0") if f})


@findings.graded("static")
def check_no_secrets_in_files(root: Path, files: list[str], secret_name: str | None = None) -> Finding:
    # None: this project's Secret (settings); "": anyone's files, no Secret name of ours
    secret_name = config.settings()["kubernetes"]["secret"] if secret_name is None else secret_name
    bad, scanned = [], 0
    for rel in files:
        path = Path(root) / rel
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue   # binary
        scanned += 1
        bad.extend(scan_text(rel, text, secret_name))
    # Evidence names file and line, never the value.
    for_ = f" (for {secret_name} or otherwise)" if secret_name else ""
    return tally(f"no tracked file holds a secret value{for_}", bad, scanned, "files")
