"""The API server's own flags, read from its running process through testinfra's local backend.

Where the target's API server is a process of this machine (the offline and rehearsal control planes,
provision/local/controlplane.py), its command line must show: an encryption provider config whose first
provider for Secrets is not `identity`, `--authorization-mode` with Node and RBAC (never AlwaysAllow), the
NodeRestriction admission plugin enabled and neither it nor PodSecurity disabled. Live, EKS runs the API
server: the probe is unverifiable there, with the reason (the eks template's checks read its configuration).
"""
from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from urllib.parse import urlparse

import yaml

from ..config import Target
from ..findings import Finding, failed, passed, unverifiable

SUBJECT = "the kube-apiserver process runs with encryption at rest, RBAC and Node authorization, admission plugins"
EXPECTED = ("--encryption-provider-config (Secrets not identity first), --authorization-mode with Node,RBAC, "
            "NodeRestriction enabled, PodSecurity not disabled")
WANT_AUTHZ = ("Node", "RBAC")
WANT_ADMISSION = ("NodeRestriction",)
NEVER_DISABLED = ("PodSecurity", "NodeRestriction")
NOT_HERE = ("the API server at {server} is not a process of this machine (EKS runs it): its encryption and "
            "logging are read from the eks template and the EKS API instead")
NOT_FOUND = "no kube-apiserver process with --secure-port={port} is visible on this machine"


def server_of(target: Target) -> str | None:
    """The API server URL of the target's kubeconfig (its current context), or None when unreadable."""
    path = target.kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    try:
        kc = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    ctx = next((c["context"] for c in kc.get("contexts") or [] if c.get("name") == kc.get("current-context")), {})
    clusters = kc.get("clusters") or []
    cluster = next((c["cluster"] for c in clusters if c.get("name") == ctx.get("cluster")),
                   clusters[0]["cluster"] if clusters else {})
    return cluster.get("server")


def flags(args: list[str]) -> dict[str, str]:
    """--name=value and --name value flags of a command line (the last one wins, as Go's flag package does)."""
    out, i = {}, 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            if "=" in a:
                k, v = a.split("=", 1)
            elif i + 1 < len(args) and not args[i + 1].startswith("--"):
                k, v = a, args[i + 1]
                i += 1
            else:
                k, v = a, "true"
            out[k] = v
        i += 1
    return out


def first_secret_provider(config_text: str) -> str | None:
    """The first provider the EncryptionConfiguration lists for Secrets (it writes with that one)."""
    doc = yaml.safe_load(config_text) or {}
    for r in doc.get("resources") or []:
        if "secrets" in (r.get("resources") or []) or "*.*" in (r.get("resources") or []):
            providers = r.get("providers") or []
            return next(iter(providers[0]), None) if providers else None
    return None


def judge_apiserver(args: list[str], config_text: str | None, grade: str = "real") -> Finding:
    """Pure: the flags of one kube-apiserver command line and the text of its encryption config."""
    f = flags(args)
    bad, ok = [], []
    enc = f.get("--encryption-provider-config")
    if not enc:
        bad.append("no --encryption-provider-config: Secrets are stored in etcd as plain text")
    elif config_text is None:
        bad.append(f"--encryption-provider-config={enc} cannot be read")
    else:
        first = first_secret_provider(config_text)
        (bad if first in (None, "identity") else ok).append(
            f"--encryption-provider-config={enc}: Secrets written with {first or 'no provider'}")
    authz = f.get("--authorization-mode", "AlwaysAllow").split(",")
    missing = [m for m in WANT_AUTHZ if m not in authz]
    (bad if missing or "AlwaysAllow" in authz else ok).append(
        f"--authorization-mode={','.join(authz)}" + (f" lacks {', '.join(missing)}" if missing else ""))
    enabled = f.get("--enable-admission-plugins", "").split(",")
    disabled = [p for p in f.get("--disable-admission-plugins", "").split(",") if p]
    lacking = [p for p in WANT_ADMISSION if p not in enabled]
    off = [p for p in NEVER_DISABLED if p in disabled]
    (bad if lacking or off else ok).append(
        f"--enable-admission-plugins={','.join(p for p in enabled if p) or '(defaults)'}"
        + (f" lacks {', '.join(lacking)}" if lacking else "") + (f"; disables {', '.join(off)}" if off else ""))
    evidence = [*(f"FAIL {b}" for b in bad), *(f"ok   {o}" for o in ok)]
    if bad:
        return failed(SUBJECT, EXPECTED, f"{len(bad)} problems: {bad[0]}", evidence, grade=grade)
    return passed(SUBJECT, EXPECTED, "all flags present", evidence, grade=grade)


def local_host():
    import testinfra

    return testinfra.get_host("local://")


def check_apiserver(target: Target, host=None) -> Finding:
    """The target's kube-apiserver, when it runs on this machine, judged by its process's command line."""
    server = server_of(target)
    url = urlparse(server or "")
    grade = target.grade("kube")
    try:
        here = bool(url.hostname) and ipaddress.ip_address(url.hostname).is_loopback
    except ValueError:
        here = url.hostname == "localhost"
    if not here:
        return unverifiable(SUBJECT, EXPECTED, "not a local process", (NOT_HERE.format(server=server or "?"),),
                            grade=grade)
    port = url.port or 443
    host = host or local_host()
    mine = [p for p in host.process.filter(comm="kube-apiserver") if f"--secure-port={port}" in p.args.split()]
    if not mine:
        return unverifiable(SUBJECT, EXPECTED, "process not visible", (NOT_FOUND.format(port=port),), grade=grade)
    args = mine[0].args.split()
    enc = flags(args).get("--encryption-provider-config")
    text = host.file(enc).content_string if enc and host.file(enc).exists else None
    f = judge_apiserver(args, text, grade)
    return Finding(f.status, f.subject, f.expected, f.actual, (f"pid {mine[0].pid}", *f.evidence), f.gaps, f.grade)
