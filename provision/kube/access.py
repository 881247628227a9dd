"""Who can read what: real requests made as another identity (impersonation).

The caller's kubeconfig must be allowed to impersonate (cluster admin is);
the API server then authorises the request exactly as it would for that
identity, so a 403 here is RBAC's own answer, not a prediction.
"""
from __future__ import annotations

from ..config import Target
from ..findings import Finding, failed, passed
from . import client


def service_account_user(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def read_secret_as(target: Target, user: str, namespace: str, name: str) -> tuple[int, dict | None]:
    """HTTP status and data of a GET of the Secret made as `user`."""
    try:
        s = client.get(target, "v1", "Secret", name, namespace, impersonate=user)
    except client.ApiError as exc:
        return exc.status, None
    return (404, None) if s is None else (200, dict(s.get("data") or {}))


def secret_readable_only_by(target: Target, namespace: str, name: str, allowed: list[str], denied: list[str],
                            expected_data: dict | None = None) -> Finding:
    """Every `allowed` identity reads the Secret (with the expected data), every `denied` one gets 403."""
    bad, seen = [], []
    for user in allowed:
        status, data = read_secret_as(target, user, namespace, name)
        seen.append(f"{user}: {status}")
        if status != 200:
            bad.append(f"{user} could not read it (HTTP {status})")
        elif expected_data is not None and data != expected_data:
            bad.append(f"{user} read different data")
    for user in denied:
        status, _ = read_secret_as(target, user, namespace, name)
        seen.append(f"{user}: {status}")
        if status != 403:
            bad.append(f"{user} got HTTP {status}, expected 403")
    subject = f"read access to Secret {namespace}/{name}"
    expected = f"{len(allowed)} allowed read it, {len(denied)} denied get 403"
    grade = target.grade("kube")   # RBAC's own answers
    return (failed(subject, expected, "; ".join(bad), evidence=seen, grade=grade) if bad
            else passed(subject, expected, "as expected", evidence=seen, grade=grade))


def grant_secret_reader(target: Target, namespace: str, service_account: str) -> str:
    """Idempotent: a ServiceAccount with a Role that may only `get` Secrets of its namespace; returns its user name."""
    role = f"{service_account}-get-secrets"
    objs = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": service_account, "namespace": namespace}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": role, "namespace": namespace},
         "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": role, "namespace": namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
         "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}]},
    ]
    for obj in objs:
        client.apply(target, obj)
    return service_account_user(namespace, service_account)


def create_service_account(target: Target, namespace: str, name: str) -> str:
    """Idempotent: a ServiceAccount with no binding at all; returns its user name."""
    client.apply(target, {"apiVersion": "v1", "kind": "ServiceAccount",
                          "metadata": {"name": name, "namespace": namespace}})
    return service_account_user(namespace, name)
