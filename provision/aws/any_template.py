"""Checks that hold for anyone's CloudFormation template (provision check): a template loaded on its own,
resolved leniently with its parameters' defaults (a parameter without one stays a marker, never an error).
The environment-bound checks of this project's stacks are template_checks.template_check."""
from __future__ import annotations

from pathlib import Path

from ..findings import Finding, graded
from .cfn import load
from .cfn.resolve import Resolver
from .iam_eval import as_list
from .iam_roles import json_doc

GITHUB_ISSUER = "token.actions.githubusercontent.com"


def resolver(path: Path) -> tuple[dict, Resolver]:
    """(template, lenient resolver); BadInput naming the file when it does not parse."""
    t = load.load(path)
    # A Number parameter without a default takes its MinValue (or 0): its value is unknown before a stack
    # is created, and a check must not refuse the template for it (other parameters stay "<Name>" markers).
    numbers = {n: str(spec.get("MinValue", 0)) for n, spec in (t.get("Parameters") or {}).items()
               if isinstance(spec, dict) and spec.get("Type") == "Number" and "Default" not in spec}
    return t, Resolver(t, numbers, source=Path(path).name)


@graded("static")
def github_oidc_trust(t: dict, r: Resolver) -> Finding:
    """A role trusting GitHub's OIDC issuer pins `sub` to exact subjects (no `*`) and `aud` to sts."""
    problems, evidence = [], []
    for lid, res in t["Resources"].items():
        if not isinstance(res, dict) or res.get("Type") != "AWS::IAM::Role":
            continue
        props = res.get("Properties") or {}
        try:
            trust = json_doc(r.value(props.get("AssumeRolePolicyDocument") or {})) or {}
        except ValueError:
            problems.append(f"{lid}: AssumeRolePolicyDocument is not a policy document")
            continue
        for st in as_list(trust.get("Statement", []) if isinstance(trust, dict) else []):
            fed = str((st.get("Principal") or {}).get("Federated", "")) if isinstance(st, dict) else ""
            if GITHUB_ISSUER not in fed or st.get("Effect") != "Allow":
                continue
            cond = st.get("Condition") or {}
            subs = [v for op in cond.values() if isinstance(op, dict)
                    for k, vs in op.items() if k.endswith(":sub") for v in as_list(vs)]
            auds = [v for op in cond.values() if isinstance(op, dict)
                    for k, vs in op.items() if k.endswith(":aud") for v in as_list(vs)]
            wild = [s for s in subs if any(ch in str(s) for ch in "*?")]
            if not subs:
                problems.append(f"{lid}: trusts GitHub OIDC with no sub condition (any repository may assume it)")
            problems += [f"{lid}: sub condition {s} has a wildcard (any branch, tag or pull request)" for s in wild]
            if auds != ["sts.amazonaws.com"]:
                problems.append(f"{lid}: aud condition {auds or 'missing'} (expected sts.amazonaws.com)")
            if subs and not wild:
                evidence.append(f"{lid}: sub {', '.join(map(str, subs))}")
    return Finding(not problems, "roles trusting GitHub's OIDC issuer name exact subjects (template)",
                   "sub without wildcards, aud sts.amazonaws.com", "; ".join(problems) or "ok",
                   tuple(f"FAIL {p}" for p in problems) + tuple(evidence))
