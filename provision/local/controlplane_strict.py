"""The control plane's rehearsal mode: authentication through the IAM token webhook, the access
entries' rights as RBAC, and an audit log.

Only provision.local.controlplane calls these, and only in rehearsal mode (or strict=True); the
offline mode's flags are unchanged. The API server then:
- authenticates bearer tokens with the webhook of provision.local.iam_authenticator
  (--authentication-token-webhook-config-file; client certificates still work for the operator),
- holds the rights EKS gives each access entry of the eks template (provision.kube.access_entries),
- writes every request at Metadata level to audit.log (JSON lines), so a run's writes can be
  counted afterwards (`writes`).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from .. import errors
from ..config import Environment, settings
from ..kube import access_entries, client
from . import iam_authenticator
from .kubeconfig import write_eks_kubeconfig

WEBHOOK_CACHE_TTL = "30s"
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
NO_WEBHOOK = ("control plane (rehearsal): no token webhook config at {path}; "
              "start the iam_authenticator component before the control plane")
AUDIT_POLICY = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived"],
                "rules": [{"level": "Metadata"}]}


def prepare(d: Path, state_dir: Path) -> list[str]:
    """Write the audit policy; the kube-apiserver flags of rehearsal mode."""
    webhook = iam_authenticator.webhook_config(state_dir)
    if not webhook.exists():
        raise errors.TargetUnavailable(NO_WEBHOOK.format(path=webhook))
    (d / "audit-policy.yaml").write_text(yaml.safe_dump(AUDIT_POLICY, sort_keys=False))
    return [
        f"--authentication-token-webhook-config-file={webhook}",
        f"--authentication-token-webhook-cache-ttl={WEBHOOK_CACHE_TTL}",
        "--authentication-token-webhook-version=v1",
        f"--audit-policy-file={d / 'audit-policy.yaml'}",
        f"--audit-log-path={d / 'audit.log'}",
        "--audit-log-format=json",
        "--audit-log-mode=blocking",     # each event is on disk before the response: counts are exact
    ]


def bootstrap(admin: Path, d: Path, server: str, env: Environment) -> dict:
    """As the operator (admin): the namespaces the access entries are scoped to, their RBAC objects;
    an `aws eks update-kubeconfig`-shaped kubeconfig for the IAM identities. Returns info keys."""
    access = access_entries.for_environment(env)
    namespaces = sorted({ns for e in access for a in e.policies for ns in a.namespaces})
    for ns in namespaces:
        client.create(admin, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, exist_ok=True)
    objects = access_entries.rbac_objects(access)
    for obj in objects:
        client.apply(admin, obj)
    s = settings()
    eks = d / "eks.kubeconfig"
    write_eks_kubeconfig(eks, server, d / "pki" / "ca.crt", env.cluster_name, s["aws"]["region"],
                         s["aws"]["account_id"], [sys.executable, "-m", "provision.kube.token"])
    return {"audit_log": str(d / "audit.log"), "eks_kubeconfig": str(eks), "strict": True,
            "access_entries": [e.principal_arn for e in access],
            "access_rbac": [" ".join(filter(None, (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])))
                            for o in objects]}


def events(audit_log: Path) -> list[dict]:
    """The audit events written so far (ResponseComplete stage)."""
    path = Path(audit_log)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            ev = json.loads(line)
            if ev.get("stage") == "ResponseComplete":
                out.append(ev)
    return out


def writes(audit_log: Path, username: str | None = None, prefix: str | None = None) -> list[dict]:
    """Write requests (create, update, patch, delete) in the audit log, by `username` or a username
    starting with `prefix` when given; refused ones included (their responseStatus says so)."""
    out = []
    for ev in events(audit_log):
        user = (ev.get("user") or {}).get("username", "")
        if ev.get("verb") not in WRITE_VERBS:
            continue
        if (username is None or user == username) and (prefix is None or user.startswith(prefix)):
            out.append(ev)
    return out
