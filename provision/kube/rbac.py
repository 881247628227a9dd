"""RBAC of the app's ServiceAccounts, as the API server evaluates it.

For tests only, the rendered dev overlay is applied to a fresh namespace (the
deploy engine is provision/kube/deploy.py). What each ServiceAccount may do
comes from a SelfSubjectRulesReview made while impersonating it (what
`kubectl auth can-i --list --as=...` shows), minus what any authenticated
user may do anyway; that difference must equal the allowed matrix.
"""
from __future__ import annotations

import json
import secrets

import yaml

from ..config import Target
from ..findings import Finding, failed, passed
from . import client, kubectl, render

# Deliberately not the deploy's FIELD_MANAGER: these test-only applies must never
# look like (or take fields from) a real deploy.
FIELD_MANAGER = "provision-isolation-tests"
# A ServiceAccount of a namespace that does not exist: no binding names it, so
# it has only what every ServiceAccount of the cluster gets (discovery, the
# service-account-issuer URLs). Grants to all ServiceAccounts cluster-wide are
# therefore not seen here; grants in the app namespace are.
BASELINE_NAMESPACE, BASELINE_SA = "p7-baseline", "nobody"

Right = tuple[str, str, str, str]      # (apiGroup, resource, resourceName or "*", verb)


def fresh_namespace_name() -> str:
    return f"p7-{secrets.token_hex(4)}"


def apply_app(target: Target, namespace: str, objects: list[dict]) -> Finding:
    """Server-side apply of `objects` moved into `namespace` (Pod Security `restricted` enforced)."""
    objs = render.set_namespace(objects, namespace)
    doc = yaml.safe_dump_all(objs, sort_keys=False)
    # kubectl, not client.apply: its stderr carries the server's PodSecurity warnings this check reads
    res = kubectl.run(target, ["apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", "-"],
                      input=doc, check=False)
    warnings = [w for w in res.stderr.splitlines() if "warning" in w.lower()]
    subject = f"the dev overlay applies to the fresh namespace {namespace} under Pod Security restricted"
    if res.returncode != 0 or any("PodSecurity" in w for w in warnings):
        lines = res.stderr.strip().splitlines()[:30]
        marked = [f"FAIL {ln}" if (res.returncode != 0 or "PodSecurity" in ln) else ln for ln in lines]
        return failed(subject, "applied without errors or PodSecurity warnings",
                      f"exit {res.returncode}", marked, grade=target.grade("kube"))
    return passed(subject, f"{len(objs)} objects applied", f"{len(objs)} objects applied",
                  res.stdout.strip().splitlines() + warnings, grade=target.grade("kube"))


def delete_namespace(target: Target, namespace: str) -> None:
    try:
        client.delete(target, "v1", "Namespace", namespace)
    except client.ApiError:
        pass   # cleanup: best effort, as before


def bind_cluster_role(target: Target, namespace: str, sa: str, role: str) -> None:
    """A RoleBinding in `namespace` granting ServiceAccount `sa` the ClusterRole `role`."""
    rb = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
          "metadata": {"name": f"seeded-{sa}-{role}", "namespace": namespace},
          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
          "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}]}
    client.apply(target, rb, field_manager=FIELD_MANAGER)


def service_accounts(target: Target, namespace: str) -> list[str]:
    return sorted(i["metadata"]["name"] for i in client.list_objects(target, "v1", "ServiceAccount", namespace))


def rules_review(target: Target, namespace: str, user: str, groups: list[str]) -> dict:
    """status of a SelfSubjectRulesReview in `namespace`, made as `user`."""
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
              "spec": {"namespace": namespace}}
    # --validate=false: client-side validation would list CRDs as the impersonated user
    args = ["create", "--validate=false", "-f", "-", "-o", "json", f"--as={user}"] + [f"--as-group={g}" for g in groups]
    return kubectl.run(target, args, input=json.dumps(review)).json().get("status", {})


def sa_user(namespace: str, sa: str) -> tuple[str, list[str]]:
    return (f"system:serviceaccount:{namespace}:{sa}",
            ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"])


# ------------------------------------------------------------ pure part

def expand(status: dict) -> set[Right]:
    """Rules of a SelfSubjectRulesReview status as single rights; non-resource URLs as ("url", path, "", verb)."""
    out: set[Right] = set()
    for r in status.get("resourceRules") or []:
        for g in r.get("apiGroups") or [""]:
            for res in r.get("resources") or []:
                for name in r.get("resourceNames") or ["*"]:
                    for v in r.get("verbs") or []:
                        out.add((g, res, name, v))
    for r in status.get("nonResourceRules") or []:
        for u in r.get("nonResourceURLs") or []:
            for v in r.get("verbs") or []:
                out.add(("url", u, "", v))
    return out


def allowed_matrix(rows: list[dict]) -> dict[str, set[Right]]:
    """From table rows serviceaccount | verbs | resource ("res" or "res.group") | name."""
    out: dict[str, set[Right]] = {}
    for row in rows:
        rights = out.setdefault(row["serviceaccount"], set())
        resource = (row.get("resource") or "").strip()
        if not resource:
            continue
        res, _, group = resource.partition(".")
        for v in (row.get("verbs") or "").split(","):
            if v.strip():
                rights.add((group, res, (row.get("name") or "").strip() or "*", v.strip()))
    return out


def describe(right: Right) -> str:
    g, res, name, verb = right
    if g == "url":
        return f"{verb} {res}"
    return f"{verb} {res}{'.' + g if g else ''}{'/' + name if name not in ('*', '') else ''}"


def compare(actual: dict[str, set[Right]], allowed: dict[str, set[Right]], namespace: str) -> Finding:
    subject = f"the RBAC can-i matrix of every ServiceAccount in {namespace} matches the allowed matrix"
    bad, good = [], []
    for sa in sorted(set(actual) | set(allowed)):
        if sa not in allowed:
            bad.append(f"{sa}: ServiceAccount has no row in the allowed matrix")
            continue
        have, want = actual.get(sa, set()), allowed[sa]
        extra, missing = sorted(have - want), sorted(want - have)
        for r in extra[:15]:
            bad.append(f"{sa}: may {describe(r)} (not allowed)")
        if len(extra) > 15:
            bad.append(f"{sa}: ... and {len(extra) - 15} more rights beyond the allowed matrix")
        for r in missing:
            bad.append(f"{sa}: may not {describe(r)} (allowed, but not granted)")
        if not extra and not missing:
            good.append(f"{sa}: exactly {len(have)} rights beyond any authenticated user")
    if bad:
        return failed(subject, "every ServiceAccount exactly as allowed", f"{len(bad)} differences",
                      [f"FAIL {b}" for b in bad] + good)
    return passed(subject, "every ServiceAccount exactly as allowed", f"{len(good)} ServiceAccounts as allowed", good)


def matrix(target: Target, namespace: str, sas: list[str]) -> dict[str, set[Right]]:
    """Each ServiceAccount's rights beyond what any authenticated user has."""
    base = expand(rules_review(target, namespace, *sa_user(BASELINE_NAMESPACE, BASELINE_SA)))
    return {sa: expand(rules_review(target, namespace, *sa_user(namespace, sa))) - base for sa in sas}


def check_matrix(target: Target, namespace: str, allowed: dict[str, set[Right]]) -> Finding:
    sas = sorted(set(service_accounts(target, namespace)) | set(allowed))
    return compare(matrix(target, namespace, sas), allowed, namespace).graded(target.grade("kube"))


# ------------------------------------------------------------ static part: Roles and bindings as files say

SECRET_READ_VERBS = {"get", "list", "watch", "*"}
ESCALATING_VERBS = {"bind", "escalate", "impersonate"}
EXEC_RESOURCES = {"pods/exec", "pods/attach"}
# Workloads whose job is to read Secrets (image repository -> reason): their ServiceAccount's Secret reads are
# shown as exempt, never silently passed.
SECRET_READER_IMAGES = {
    "registry.k8s.io/ingress-nginx/controller": "an ingress controller reads the TLS Secrets its Ingresses name",
}


def rule_risks(rule: dict) -> list[str]:
    """What one PolicyRule of a Role/ClusterRole lets its holder do that reads Secrets or escalates."""
    groups, resources = set(rule.get("apiGroups") or []), set(rule.get("resources") or [])
    verbs = set(rule.get("verbs") or [])
    out = []
    if "*" in verbs:
        out.append("every verb (*)")
    if "*" in resources:
        out.append("every resource (*)")
    out += [f"{v}" for v in sorted(verbs & ESCALATING_VERBS)]
    if verbs & {"create", "*"} and resources & EXEC_RESOURCES:
        out.append(f"create {', '.join(sorted(resources & EXEC_RESOURCES))}")
    if groups & {"", "*"} and resources & {"secrets", "*"} and verbs & SECRET_READ_VERBS:
        out.append(f"read Secrets ({', '.join(sorted(verbs & SECRET_READ_VERBS))})")
    return out


def _subjects(objects: list[dict]) -> dict[tuple[str, str | None, str], list[str]]:
    """(role kind, namespace or None, role name) -> 'Subject name via Binding' for every binding."""
    out: dict[tuple[str, str | None, str], list[str]] = {}
    for b in objects:
        if b.get("kind") not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        ns = (b.get("metadata") or {}).get("namespace")
        role = b.get("roleRef") or {}
        k = (role.get("kind"), ns if role.get("kind") == "Role" else None, role.get("name"))
        for s in b.get("subjects") or []:
            sns = s.get("namespace") or (ns if s.get("kind") == "ServiceAccount" else None)
            who = f"{s.get('kind')} {sns + '/' if sns else ''}{s.get('name')}"
            out.setdefault(k, []).append(f"{who} via {b.get('kind')}/{(b.get('metadata') or {}).get('name')}")
    return out


def _secret_readers(objects: list[dict]) -> dict[str, str]:
    """'ServiceAccount ns/name' -> reason, for the accounts of workloads whose job is to read Secrets."""
    from .hardening import repository
    from .objects import containers, pod_spec, workloads

    out = {}
    for w in workloads(objects):
        reasons = [SECRET_READER_IMAGES[r] for c in containers(w) if (r := repository(c.get("image", "")))
                   in SECRET_READER_IMAGES]
        if reasons:
            spec = pod_spec(w) or {}
            sa = spec.get("serviceAccountName") or "default"
            out[f"ServiceAccount {(w.get('metadata') or {}).get('namespace')}/{sa}"] = reasons[0]
    return out


def check_static_rbac(objects: list[dict]) -> Finding:
    """Who may read Secrets or escalate (wildcards, bind, escalate, impersonate, create pods/exec), from the
    Roles, ClusterRoles and bindings of the files alone (the can-i matrix above asks a live API server)."""
    from .hardening import verdict

    subjects, readers = _subjects(objects), _secret_readers(objects)
    bad, exempt, n = [], [], 0
    for role in objects:
        if role.get("kind") not in ("Role", "ClusterRole"):
            continue
        n += 1
        md = role.get("metadata") or {}
        k = (role["kind"], md.get("namespace") if role["kind"] == "Role" else None, md.get("name"))
        risks = list(dict.fromkeys(r for rule in role.get("rules") or [] for r in rule_risks(rule)))
        if not risks:
            continue
        holders = subjects.get(k, []) or ["nobody in these files"]
        for who in holders:
            reason = readers.get(who.split(" via ")[0])
            only_reads = all(r.startswith("read Secrets") for r in risks)
            line = f"{role['kind']}/{md.get('name')} held by {who}: may {'; '.join(risks)}"
            (exempt.append(f"{line}, exempt: {reason}") if reason and only_reads else bad.append(line))
    f = verdict("no Role or ClusterRole lets its holders read Secrets or escalate", "no Secret reads, no escalation",
                bad, exempt, n, "roles")
    return f.graded("static")
