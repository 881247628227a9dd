"""The IAM roles and policies of a resolved template, as IAM would receive them."""

from __future__ import annotations

import json

from .cfn.resolve import Resolver


def json_doc(value):
    """A policy or dashboard given as a JSON string (the !Sub form) or as a mapping."""
    return json.loads(value) if isinstance(value, str) else value


def roles(template: dict, r: Resolver) -> dict[str, dict]:
    """Logical id -> {name, trust, policies: {name: doc}, max_session} of every IAM role."""
    out = {}
    for lid, res in template["Resources"].items():
        if res.get("Type") != "AWS::IAM::Role":
            continue
        if "Condition" in res and not r.conditions[res["Condition"]]:
            continue
        p = res.get("Properties", {})
        out[lid] = {
            "name": r.ref(lid),
            "trust": json_doc(r.value(p["AssumeRolePolicyDocument"])),
            "policies": {pol["PolicyName"]: json_doc(r.value(pol["PolicyDocument"])) for pol in p.get("Policies", [])},
            "max_session": int(r.value(p.get("MaxSessionDuration", 3600))),
        }
    return out


def permission_policies(template: dict, r: Resolver) -> dict[str, dict]:
    """'<resource>/<policy>' -> policy document: inline role policies and policy resources."""
    out = {}
    for lid, role in roles(template, r).items():
        for name, doc in role["policies"].items():
            out[f"{lid}/{name}"] = doc
    for lid, res in template["Resources"].items():
        if res.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
            out[lid] = json_doc(r.value(res["Properties"]["PolicyDocument"]))
    return out
