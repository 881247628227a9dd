"""Secret values in the repository's files: common credential patterns, and
Secret objects that carry data. Evidence names file and line, never the value."""
from __future__ import annotations

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
    "Slack token": re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}\b"),
    "Docker Hub token": re.compile(r"\bdckr_pat_[A-Za-z0-9_-]{20,}\b"),
    "Auth0/JWT token": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
}
# Documentation placeholders (AWS's own examples) are not secrets.
PLACEHOLDER = re.compile(r"EXAMPLE|XXXX|0000000000000000", re.I)


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
            if isinstance(d, dict) and d.get("kind") == "Secret" and (d.get("data") or d.get("stringData")):
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
    secret_name = secret_name or config.settings()["kubernetes"]["secret"]
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
    return tally(f"no tracked file holds a secret value (for {secret_name} or otherwise)", bad, scanned, "files")
