"""Pod hardening rules that hold for anyone's manifests: read-only root filesystem, no API token where
the pod does not need the API, no privileged containers or privilege escalation, no host namespaces or
hostPath volumes. Pure functions of the objects, one static Finding each (provision check runs them).

An exemption is never silent: it is an `EXEMPT ...` evidence line with its reason, and provision check
prints it as a note.
"""
from __future__ import annotations

import dataclasses

from .. import findings
from ..findings import Finding, failed, passed
from .objects import containers, pod_spec, ref, split_image, workloads

STATIC = findings.graded("static")

# Images whose own process writes into the root filesystem, with the reason shown for the exemption.
WRITABLE_ROOT_IMAGES = {
    "registry.k8s.io/ingress-nginx/controller":
        "nginx renders its configuration into /etc/nginx at run time (upstream ships readOnlyRootFilesystem: false)",
}
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")


def repository(image: str) -> str:
    """The repository of an image reference, without tag or digest."""
    repo = split_image(image or "")[0]
    last = repo.rsplit("/", 1)[-1]
    return repo.rsplit(":", 1)[0] if ":" in last else repo


def verdict(subject: str, expected: str, bad: list[str], exempt: list[str], n: int, what: str) -> Finding:
    """FAIL-marked violations, EXEMPT-marked exemptions with their reason; passed when nothing is in violation."""
    evidence = [f"FAIL {b}" for b in bad] + [f"EXEMPT {e}" for e in exempt]
    if bad:
        return failed(subject, expected, f"{len(bad)} of {n} {what} in violation", evidence)
    return passed(subject, expected, f"all {n} {what} comply" + (f" ({len(exempt)} exempt)" if exempt else ""),
                  evidence)


@STATIC
def check_read_only_root(objects: list[dict]) -> Finding:
    """Every container sets securityContext.readOnlyRootFilesystem: true."""
    bad, exempt, n = [], [], 0
    for w in workloads(objects):
        for c in containers(w):
            n += 1
            if (c.get("securityContext") or {}).get("readOnlyRootFilesystem") is True:
                continue
            where = f"{ref(w)} container {c.get('name')}"
            reason = WRITABLE_ROOT_IMAGES.get(repository(c.get("image", "")))
            if reason:
                exempt.append(f"{where}: readOnlyRootFilesystem not true, exempt: {reason}")
            else:
                bad.append(f"{where}: readOnlyRootFilesystem is not true")
    return verdict("every container has a read-only root filesystem", "readOnlyRootFilesystem: true", bad, exempt,
                   n, "containers")


def _bound_accounts(objects: list[dict]) -> dict[tuple[str, str], str]:
    """(namespace, ServiceAccount) -> the binding that grants it rights, for every binding in the objects."""
    out = {}
    for b in objects:
        if b.get("kind") not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        ns = (b.get("metadata") or {}).get("namespace")
        for s in b.get("subjects") or []:
            if s.get("kind") == "ServiceAccount":
                out.setdefault((s.get("namespace") or ns, s.get("name")), ref(b))
    return out


@STATIC
def check_service_account_token(objects: list[dict]) -> Finding:
    """No API token is mounted into a pod whose ServiceAccount no binding of the objects grants anything:
    automountServiceAccountToken (pod, else its ServiceAccount, else the default true) must be false there."""
    accounts = {((o.get("metadata") or {}).get("namespace"), (o.get("metadata") or {}).get("name")): o
                for o in objects if o.get("kind") == "ServiceAccount"}
    bound = _bound_accounts(objects)
    bad, notes, n = [], [], 0
    for w in workloads(objects):
        n += 1
        spec = pod_spec(w) or {}
        ns = (w.get("metadata") or {}).get("namespace")
        sa = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        mount = spec.get("automountServiceAccountToken")
        if mount is None:
            mount = (accounts.get((ns, sa)) or {}).get("automountServiceAccountToken", True)
        if mount is False:
            continue
        # a namespace left to the deploy (none, or templated) matches a binding by account name
        known = not ns or "{{" in str(ns)
        binding = bound.get((ns, sa)) or next((b for (bns, n), b in bound.items() if n == sa and (
            known or not bns or "{{" in str(bns))), None)
        if binding:
            notes.append(f"{ref(w)}: mounts the token of ServiceAccount {sa}, which {binding} grants rights")
        else:
            bad.append(f"{ref(w)}: automountServiceAccountToken is not false, but no Role/ClusterRole binding "
                       f"grants ServiceAccount {sa} anything (the pod does not need the API)")
    f = verdict("no pod mounts an API token it does not need", "automountServiceAccountToken: false unless bound",
                bad, [], n, "workloads")
    return dataclasses.replace(f, evidence=f.evidence + tuple(notes))


@STATIC
def check_privileged(objects: list[dict]) -> Finding:
    """No container is privileged or may escalate privileges (allowPrivilegeEscalation defaults to true)."""
    bad, n = [], 0
    for w in workloads(objects):
        for c in containers(w):
            n += 1
            sc = c.get("securityContext") or {}
            where = f"{ref(w)} container {c.get('name')}"
            if sc.get("privileged") is True:
                bad.append(f"{where}: privileged: true")
            if sc.get("allowPrivilegeEscalation") is not False:
                bad.append(f"{where}: allowPrivilegeEscalation is not false")
    return verdict("no container is privileged or may escalate privileges",
                   "privileged unset or false, allowPrivilegeEscalation: false", bad, [], n, "containers")


@STATIC
def check_host_access(objects: list[dict]) -> Finding:
    """No pod shares the node's network, PID or IPC namespace, or mounts a hostPath volume."""
    bad, n = [], 0
    for w in workloads(objects):
        n += 1
        spec = pod_spec(w) or {}
        bad += [f"{ref(w)}: {field}: true" for field in HOST_NAMESPACES if spec.get(field) is True]
        bad += [f"{ref(w)}: volume {v.get('name')} is hostPath {(v.get('hostPath') or {}).get('path')}"
                for v in spec.get("volumes") or [] if isinstance(v, dict) and "hostPath" in v]
    return verdict("no pod uses the node's namespaces or a hostPath volume", "no hostNetwork/hostPID/hostIPC/hostPath",
                   bad, [], n, "workloads")
