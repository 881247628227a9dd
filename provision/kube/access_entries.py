"""What EKS lets each IAM principal do in the cluster, derived from the eks template's access entries.

An `AWS::EKS::AccessEntry` maps an IAM principal to a Kubernetes username (default for a role:
`arn:aws:sts::<account>:assumed-role/<role name>/{{SessionName}}`, the role's path dropped) and
groups (its KubernetesGroups), and associates access policies with a scope (the cluster, or a list
of namespaces). The rules of each policy are the tables of the EKS user guide, kept in
eks_access_policies.yaml with their source; nothing here is written to make a check pass.

EKS evaluates access policies in its own authorizer, keyed on the access entry. The local control
plane has RBAC only, so the same rules become RBAC objects: one ClusterRole per policy
(`eks:access-policy:<Name>`) bound, cluster-wide or in each scoped namespace, to a group naming the
access entry (`eks:access-entry:<principal ARN>`: the `eks:` prefix is one EKS reserves, so no
user-chosen group can take it). The token webhook (provision/local/iam_authenticator.py) adds that
group to the identity it returns for the principal.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .. import errors
from ..aws.cfn import parameters
from ..config import Environment
from ..findings import Finding, failed, graded, passed

POLICIES_FILE = Path(__file__).with_name("eks_access_policies.yaml")
ROLE_PREFIX = "eks:access-policy:"
GROUP_PREFIX = "eks:access-entry:"
SESSION_NAME = "{{SessionName}}"
RBAC = "rbac.authorization.k8s.io"
MANAGED_BY = {"app.kubernetes.io/managed-by": "eks-access-entries"}

UNKNOWN_POLICY = ("access entry {entry}: access policy {arn} is not in the EKS access-policy table "
                  "({path}); add its rules from the EKS user guide")
BAD_SCOPE = "access entry {entry}: access scope {scope!r} (expected cluster, or namespace with Namespaces)"
UNRESOLVED = "access entry {entry}: {what} is unresolved ({value})"

_POLICY_ARN = re.compile(r"^arn:[a-z-]+:eks::aws:cluster-access-policy/(?P<name>[A-Za-z]+)$")
_ROLE_ARN = re.compile(r"^arn:(?P<partition>[a-z-]+):iam::(?P<account>\d{12}):role/(?:.*/)?(?P<name>[^/]+)$")
_ASSUMED = re.compile(r"^arn:(?P<partition>[a-z-]+):sts::(?P<account>\d{12}):"
                      r"assumed-role/(?P<role>[^/]+)/(?P<session>.+)$")


@dataclass(frozen=True)
class Association:
    policy: str                      # the policy's name, e.g. AmazonEKSEditPolicy
    scope: str                       # "cluster" or "namespace"
    namespaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccessEntry:
    logical_id: str
    principal_arn: str
    username: str
    groups: tuple[str, ...] = ()
    policies: tuple[Association, ...] = field(default_factory=tuple)

    @property
    def group(self) -> str:
        """The group the RBAC objects bind for this entry (the webhook adds it)."""
        return GROUP_PREFIX + self.principal_arn


@functools.cache
def policy_table(path: Path = POLICIES_FILE) -> dict[str, dict]:
    """Policy name -> {"similar_to", "rules"} as the EKS user guide lists them."""
    return yaml.safe_load(Path(path).read_text())["policies"]


def default_username(principal_arn: str) -> str:
    """The username EKS gives a STANDARD access entry that names none."""
    m = _ROLE_ARN.match(principal_arn)
    if m:
        return f"arn:{m['partition']}:sts::{m['account']}:assumed-role/{m['name']}/{SESSION_NAME}"
    return principal_arn   # an IAM user: its ARN


def _unresolved(value) -> bool:
    return not isinstance(value, str) or "<" in value


def _association(lid: str, spec: dict, table: dict, path: Path) -> Association:
    arn = spec.get("PolicyArn", "")
    m = _POLICY_ARN.match(arn) if isinstance(arn, str) else None
    if not m or m["name"] not in table:
        raise errors.BadInput(UNKNOWN_POLICY.format(entry=lid, arn=arn, path=path.name))
    scope = spec.get("AccessScope") or {}
    kind = scope.get("Type")
    namespaces = tuple(scope.get("Namespaces") or ())
    if kind == "cluster":
        return Association(m["name"], "cluster")
    if kind == "namespace" and namespaces:
        for ns in namespaces:
            if _unresolved(ns):
                raise errors.BadInput(UNRESOLVED.format(entry=lid, what="a scope namespace", value=ns))
        return Association(m["name"], "namespace", namespaces)
    raise errors.BadInput(BAD_SCOPE.format(entry=lid, scope=scope))


def entries(resources: dict[str, dict], path: Path = POLICIES_FILE) -> list[AccessEntry]:
    """The access entries of resolved template resources (`Resolver.resources()`), in template order."""
    table = policy_table(path)
    out = []
    for lid, res in resources.items():
        if res.get("Type") != "AWS::EKS::AccessEntry":
            continue
        props = res.get("Properties") or {}
        principal = props.get("PrincipalArn")
        if _unresolved(principal):
            raise errors.BadInput(UNRESOLVED.format(entry=lid, what="PrincipalArn", value=principal))
        out.append(AccessEntry(
            logical_id=lid, principal_arn=principal,
            username=props.get("Username") or default_username(principal),
            groups=tuple(props.get("KubernetesGroups") or ()),
            policies=tuple(_association(lid, a, table, path) for a in props.get("AccessPolicies") or ())))
    return out


def for_environment(env: Environment | str) -> list[AccessEntry]:
    """The access entries of the environment's eks template (its `template_dir`, else the committed
    one), resolved with the environment's parameters as the eks stack receives them."""
    env = env if isinstance(env, Environment) else Environment.named(env)
    return entries(parameters.rendered("eks", env).resources("AWS::EKS::AccessEntry"))


# ---------------------------------------------------------------- RBAC objects

def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")


def cluster_role(policy: str, path: Path = POLICIES_FILE) -> dict:
    return {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole",
            "metadata": {"name": ROLE_PREFIX + policy, "labels": dict(MANAGED_BY)},
            "rules": [dict(r) for r in policy_table(path)[policy]["rules"]]}


def rbac_objects(access: list[AccessEntry], path: Path = POLICIES_FILE) -> list[dict]:
    """ClusterRoles of the policies in use, then a ClusterRoleBinding per cluster scope and a
    RoleBinding per scoped namespace, each binding the entry's group."""
    used = sorted({a.policy for e in access for a in e.policies})
    out = [cluster_role(p, path) for p in used]
    for e in access:
        subject = [{"apiGroup": RBAC, "kind": "Group", "name": e.group}]
        for a in e.policies:
            name = f"eks-access-entry-{_slug(e.logical_id)}-{_slug(a.policy)}"
            ref = {"apiGroup": RBAC, "kind": "ClusterRole", "name": ROLE_PREFIX + a.policy}
            meta = {"name": name, "labels": dict(MANAGED_BY),
                    "annotations": {"eks.amazonaws.com/principal-arn": e.principal_arn}}
            if a.scope == "cluster":
                out.append({"apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": meta,
                            "roleRef": ref, "subjects": subject})
            for ns in a.namespaces:
                out.append({"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding",
                            "metadata": {**meta, "namespace": ns}, "roleRef": ref, "subjects": subject})
    return out


# ---------------------------------------------------------------- identities

def canonical_arn(arn: str) -> str:
    """An assumed-role ARN as its role's IAM ARN (as aws-iam-authenticator canonicalises); others unchanged."""
    m = _ASSUMED.match(arn)
    return f"arn:{m['partition']}:iam::{m['account']}:role/{m['role']}" if m else arn


def _same_principal(entry_arn: str, canonical: str) -> bool:
    # an access entry may name a role with its path; the caller's ARN never carries one
    m, c = _ROLE_ARN.match(entry_arn), _ROLE_ARN.match(canonical)
    if m and c:
        return (m["partition"], m["account"], m["name"]) == (c["partition"], c["account"], c["name"])
    return entry_arn == canonical


def identity(caller_arn: str, access: list[AccessEntry]) -> tuple[str, list[str]] | None:
    """(username, groups) EKS gives the caller of sts:GetCallerIdentity `caller_arn`; None without an entry."""
    canonical = canonical_arn(caller_arn)
    for e in access:
        if _same_principal(e.principal_arn, canonical):
            m = _ASSUMED.match(caller_arn)
            user = e.username.replace(SESSION_NAME, m["session"] if m else "")
            return user, [*e.groups, e.group]
    return None


# ---------------------------------------------------------------- rights (pure, for checks)

Need = tuple[str | None, str, str, str]    # (namespace or None for cluster-wide, apiGroup, resource, verb)


def _rule_allows(rule: dict, group: str, resource: str, verb: str) -> bool:
    def has(key, value):
        vals = rule.get(key) or []
        return "*" in vals or value in vals
    return "resources" in rule and has("apiGroups", group) and has("resources", resource) and has("verbs", verb)


def allows(entry: AccessEntry, need: Need, path: Path = POLICIES_FILE) -> bool:
    """Whether the entry's access policies grant `need`, as RBAC evaluates the derived bindings."""
    namespace, group, resource, verb = need
    table = policy_table(path)
    for a in entry.policies:
        in_scope = a.scope == "cluster" or (namespace is not None and namespace in a.namespaces)
        if in_scope and any(_rule_allows(r, group, resource, verb) for r in table[a.policy]["rules"]):
            return True
    return False


def plural(kind: str) -> str:
    """The resource name of a kind, as kubectl guesses it for a kind it does not know."""
    k = kind.lower()
    if k.endswith("y") and not k.endswith(("ay", "ey", "oy", "uy")):
        return k[:-1] + "ies"
    return k + ("es" if k.endswith(("s", "x", "ch", "sh")) else "s")


def needs_for_apply(objects: list[dict], cluster_scoped: frozenset[str]) -> list[Need]:
    """What a server-side apply of `objects` needs: get and patch on each object's resource."""
    out: list[Need] = []
    for obj in objects:
        group = obj["apiVersion"].rsplit("/", 1)[0] if "/" in obj["apiVersion"] else ""
        ns = None if obj["kind"] in cluster_scoped else (obj.get("metadata") or {}).get("namespace")
        if obj["kind"] == "Namespace":
            ns = obj["metadata"]["name"]   # a namespace's own attributes carry its name as the namespace
        for verb in ("get", "patch"):
            need = (ns, group, plural(obj["kind"]), verb)
            if need not in out:
                out.append(need)
    return out


@graded("static")
def check_rights(access: list[AccessEntry], principal_arn: str, needs: list[Need], purpose: str) -> Finding:
    """Every need is granted to `principal_arn` by its access entry's policies (and scopes)."""
    subject = f"Kubernetes rights of {principal_arn} ({purpose})"
    entry = next((e for e in access if _same_principal(e.principal_arn, canonical_arn(principal_arn))), None)
    expected = f"{len(needs)} rights granted by its access entry"
    if entry is None:
        return failed(subject, expected, "no access entry", ["FAIL no AWS::EKS::AccessEntry names the principal"])
    policies = ", ".join(f"{a.policy} ({a.scope}{': ' + ','.join(a.namespaces) if a.namespaces else ''})"
                         for a in entry.policies) or "none"
    missing = [n for n in needs if not allows(entry, n)]
    lines = [f"access entry {entry.logical_id}: {policies}"]
    lines += [f"FAIL {verb} {res}{'.' + grp if grp else ''} in {ns or 'the cluster'}: not granted"
              for ns, grp, res, verb in missing]
    if missing:
        return failed(subject, expected, f"{len(missing)} of {len(needs)} not granted", lines)
    return passed(subject, expected, "all granted", lines)
