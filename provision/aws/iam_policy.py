"""IAM's evaluation of a role session's identity-based policies for one request (the harness's own model).

AWS's documented logic for a request within one account, by a role session
whose only policies are its role's (inline and attached; no session policy,
permissions boundary or SCP): an explicit Deny in any applicable statement
wins; otherwise an applicable Allow allows; otherwise the request is
implicitly denied. A statement applies when its Action (or NotAction), its
Resource (or NotResource) and every condition match the request.
Condition operators are those of `iam_eval.condition_holds`; policy variables
(`${aws:username}`, `${aws:PrincipalTag/team}`, `${*}`, `${?}`, `${$}`) are
replaced from the request context, and a Resource naming a variable the
context lacks does not match, as IAM documents.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ..findings import Finding, failed, graded, passed
from .iam_eval import _like, arn_like, as_list, condition_holds

ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = "allowed", "explicitDeny", "implicitDeny"
_VAR = re.compile(r"\$\{([^}]+)\}")
_LITERAL = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True)
class Request:
    """What IAM sees of one call: `service:Action`, the resource ARNs and the request context."""

    action: str
    resources: tuple[str, ...] = ("*",)
    context: dict[str, list[str]] = field(default_factory=dict)

    def ctx(self) -> dict[str, list[str]]:
        # Context key names are case-insensitive.
        return {k.lower(): [str(v) for v in as_list(vals)] for k, vals in self.context.items()}


@dataclass(frozen=True)
class Decision:
    decision: str  # allowed | explicitDeny | implicitDeny
    resource: str
    statement: str = ""  # "<policy>/<sid>" that allowed or denied
    notes: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOW


class _Unresolved(Exception):
    """A policy variable the request context has no value for."""


def substitute(text: str, ctx: dict[str, list[str]], literal_wildcards: bool = False) -> str:
    """Replace `${key}` by the context's single value (`${key, 'default'}` takes the default)."""

    def one(m: re.Match) -> str:
        name, _, default = m.group(1).partition(",")
        name = name.strip()
        if name in _LITERAL:
            return _LITERAL[name]
        vals = ctx.get(name.lower())
        if vals and len(vals) == 1:
            val = vals[0]
        elif default.strip():
            val = default.strip().strip("'")
        else:
            raise _Unresolved(name)
        # A value from the request is data, never a wildcard of the policy.
        return val.replace("*", "\0").replace("?", "\1") if literal_wildcards else val

    return _VAR.sub(one, text)


def _restore(s: str) -> str:
    return s.replace("\0", "*").replace("\1", "?")


def _action_matches(patterns, action: str) -> bool:
    return any(_like(p.lower(), action.lower()) for p in as_list(patterns))


def _resource_matches(patterns, resource: str, ctx: dict[str, list[str]]) -> bool:
    for p in as_list(patterns):
        try:
            pat = substitute(p, ctx, literal_wildcards=True)
        except _Unresolved:
            continue  # IAM: a variable without a value makes that resource entry match nothing
        if "\0" in pat or "\1" in pat:
            if _restore(pat) == resource:  # a substituted wildcard character matches only itself
                return True
            pat = pat.replace("\0", "\uffff").replace("\1", "\ufffe")
        if arn_like(pat, resource):
            return True
    return False


def _conditions(st: dict, ctx: dict[str, list[str]]) -> list[str]:
    unmet = []
    for op, block in st.get("Condition", {}).items():
        for key, vals in block.items():
            try:
                vals = [substitute(str(v), ctx) if isinstance(v, str) else v for v in as_list(vals)]
            except _Unresolved:
                unmet.append(f"{op} {key} (policy variable without a value)")
                continue
            if not condition_holds(op, key, vals, ctx):
                unmet.append(f"{op} {key}")
    return unmet


def statement_applies(st: dict, action: str, resource: str, ctx: dict[str, list[str]]) -> tuple[bool, str]:
    if "Action" in st and not _action_matches(st["Action"], action):
        return False, "action not listed"
    if "NotAction" in st and _action_matches(st["NotAction"], action):
        return False, "action excluded by NotAction"
    if "Resource" in st and not _resource_matches(st["Resource"], resource, ctx):
        return False, f"resource {resource} not listed"
    if "NotResource" in st and _resource_matches(st["NotResource"], resource, ctx):
        return False, f"resource {resource} excluded by NotResource"
    unmet = _conditions(st, ctx)
    if unmet:
        return False, "condition not met: " + ", ".join(unmet)
    return True, ""


def _statements(policies: dict[str, dict | str]):
    for name, doc in policies.items():
        doc = json.loads(doc) if isinstance(doc, str) else doc
        for i, st in enumerate(as_list(doc.get("Statement", []))):
            yield f"{name}/{st.get('Sid', f'#{i}')}", st


def decide_one(policies: dict[str, dict | str], action: str, resource: str, ctx: dict[str, list[str]]) -> Decision:
    allowed_by, notes = "", []
    for where, st in _statements(policies):
        applies, why = statement_applies(st, action, resource, ctx)
        if not applies:
            notes.append(f"{where}: {why}")
            continue
        if st.get("Effect") == "Deny":
            return Decision(EXPLICIT_DENY, resource, where, tuple(notes))
        if st.get("Effect") == "Allow" and not allowed_by:
            allowed_by = where
    if allowed_by:
        return Decision(ALLOW, resource, allowed_by, tuple(notes))
    return Decision(IMPLICIT_DENY, resource, "", tuple(notes))


def decide(policies: dict[str, dict | str], request: Request) -> Decision:
    """The decision for a request: each of its resources must be allowed (an explicit deny of any wins)."""
    ctx = request.ctx()
    out = [decide_one(policies, request.action, r, ctx) for r in request.resources or ("*",)]
    for d in out:
        if d.decision == EXPLICIT_DENY:
            return d
    for d in out:
        if d.decision == IMPLICIT_DENY:
            return d
    return out[0]


@graded("model")
def evaluate(policies: dict[str, dict | str], request: Request) -> Finding:
    """`decide` as a Finding (model grade): passed when IAM would allow the request."""
    d = decide(policies, request)
    subject = f"{request.action} on {d.resource}"
    if d.allowed:
        return passed(subject, ALLOW, f"allowed by {d.statement}", evidence=d.notes)
    why = f"explicitly denied by {d.statement}" if d.decision == EXPLICIT_DENY else "no statement allows it"
    return failed(subject, ALLOW, f"{d.decision}: {why}", evidence=tuple(f"FAIL {n}" for n in d.notes))
