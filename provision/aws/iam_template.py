"""Read provision/cloudformation/iam.yaml the way CloudFormation would.

Parameters come from settings.yaml; intrinsic functions the template uses
(Ref, Fn::Sub, Fn::If, Fn::Equals, Fn::GetAtt, Fn::Select, Fn::Split, Fn::Join)
are resolved so the policies can be judged, and created on the offline target,
exactly as IAM would receive them.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from .. import config, errors

TEMPLATE = config.ROOT / "provision" / "cloudformation" / "iam.yaml"
TEMPLATE_UNREADABLE = "IAM template {path}: {reason}"


def load(path: Path = TEMPLATE) -> dict:
    """The IAM template with CloudFormation's short tags, through the one loader of templates.py."""
    from . import templates

    return templates.load(path)


def parameters(env: str) -> dict[str, str]:
    """The template's parameter values, all from settings.yaml."""
    s = config.settings()
    gh = s["github"]
    e = config.environment(env)
    return {
        "Project": s["project"],
        "EnvironmentName": e["name"],
        "ClusterName": e["cluster_name"],
        "OidcIssuer": gh["oidc_issuer"],
        "OidcAudience": gh["oidc_audience"],
        "DeploySubject": gh["deploy_subject"],
        "VerifySubject": gh["verify_subject"],
        "SessionSeconds": str(gh["session_seconds"]),
        # One provider per account and issuer: the owning environment's stack
        # creates it, the others refer to it by its (deterministic) ARN.
        "ExistingOidcProviderArn": ("" if e["name"] == gh["oidc_provider_env"] else
                                    f"arn:aws:iam::{s['aws']['account_id']}:oidc-provider/{gh['oidc_issuer']}"),
    }


class Resolver:
    """Evaluates the intrinsic functions of one template for one set of parameters."""

    def __init__(self, template: dict, params: dict, account_id: str, region: str,
                 physical: dict[str, str] | None = None):
        self.t = template
        declared = template.get("Parameters", {})
        self.refs = {k: str(v.get("Default", "")) for k, v in declared.items() if "Default" in v}
        self.refs.update(params)
        missing = [k for k in declared if k not in self.refs]
        if missing:
            raise errors.BadInput(TEMPLATE_UNREADABLE.format(path="iam.yaml", reason=f"no value for {', '.join(missing)}"))
        self.refs.update({"AWS::AccountId": account_id, "AWS::Region": region, "AWS::Partition": "aws",
                          "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None})
        self.physical = physical or {}
        self.conditions = {}
        for name, expr in template.get("Conditions", {}).items():
            self.conditions[name] = bool(self.value(expr))

    def ref(self, name: str):
        if name in self.refs:
            return self.refs[name]
        if name in self.physical:
            return self.physical[name]
        res = self.t["Resources"].get(name)
        if res is None:
            raise errors.BadInput(TEMPLATE_UNREADABLE.format(path="iam.yaml", reason=f"unknown Ref {name}"))
        # What Ref returns for the types this template uses.
        if res["Type"] == "AWS::IAM::OIDCProvider":
            url = self.value(res["Properties"]["Url"])
            return f"arn:aws:iam::{self.refs['AWS::AccountId']}:oidc-provider/{url.split('://', 1)[-1]}"
        return self.value(res["Properties"].get("RoleName", name))

    def getatt(self, name: str, attr: str):
        if attr == "Arn" and self.t["Resources"][name]["Type"] == "AWS::IAM::Role":
            return f"arn:aws:iam::{self.refs['AWS::AccountId']}:role/{self.ref(name)}"
        return f"{name}.{attr}"

    def value(self, node):
        if isinstance(node, list):
            return [self.value(n) for n in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Ref":
                return self.ref(arg)
            if fn == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], {k: self.value(v) for k, v in arg[1].items()})
                return self._sub(text, extra)
            if fn == "Fn::If":
                return self.value(arg[1] if self.conditions[arg[0]] else arg[2])
            if fn == "Fn::Equals":
                return self.value(arg[0]) == self.value(arg[1])
            if fn == "Fn::GetAtt":
                return self.getatt(*arg)
            if fn == "Fn::Select":
                return self.value(arg[1])[int(self.value(arg[0]))]
            if fn == "Fn::Split":
                return self.value(arg[1]).split(arg[0])
            if fn == "Fn::Join":
                return arg[0].join(self.value(arg[1]))
        return {k: self.value(v) for k, v in node.items()}

    def _sub(self, text: str, extra: dict) -> str:
        def one(m):
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in extra:
                return str(extra[name])
            if "." in name:
                return str(self.getatt(*name.split(".", 1)))
            return str(self.ref(name))
        return re.sub(r"\$\{([^}]+)\}", one, text)


def _doc(value):
    # A policy given as a JSON string (the !Sub form) or as YAML.
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
            "trust": _doc(r.value(p["AssumeRolePolicyDocument"])),
            "policies": {pol["PolicyName"]: _doc(r.value(pol["PolicyDocument"])) for pol in p.get("Policies", [])},
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
            out[lid] = _doc(r.value(res["Properties"]["PolicyDocument"]))
    return out


# Seeded faults (features/oidc.feature): each turns one IAM check red. Applied
# to a copy in a temporary directory, never to the committed template.
_DEPLOY_TRUST = '''            "Condition": {"StringEquals": {
              "${OidcIssuer}:aud": "${OidcAudience}",
              "${OidcIssuer}:sub": "${DeploySubject}"}}}]}'''
FAULTS = {
    "wildcard-admin-policy": ("""        - PolicyName: deploy
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
""", """        - PolicyName: deploy
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Sid: SeededAdmin
                Effect: Allow
                Action: "*"
                Resource: "*"
"""),
    "open-trust-subject": (_DEPLOY_TRUST, '''            "Condition": {"StringEquals": {
              "${OidcIssuer}:aud": "${OidcAudience}"},
              "StringLike": {"${OidcIssuer}:sub": "repo:*"}}}]}'''),
    "missing-audience": (_DEPLOY_TRUST, '''            "Condition": {"StringEquals": {
              "${OidcIssuer}:sub": "${DeploySubject}"}}}]}'''),
}
UNKNOWN_FAULT = "unknown seeded fault {fault!r}: expected one of {known}"
FAULT_NOT_APPLIED = "seeded fault {fault!r} no longer applies to {path}: update iam_template.FAULTS"


def seeded_copy(fault: str, directory: Path, source: Path = TEMPLATE) -> Path:
    """A copy of the template with `fault` applied, in `directory`."""
    if fault not in FAULTS:
        raise errors.BadInput(UNKNOWN_FAULT.format(fault=fault, known=", ".join(FAULTS)))
    old, new = FAULTS[fault]
    text = Path(source).read_text()
    if text.count(old) != 1:
        raise errors.ProvisionError(FAULT_NOT_APPLIED.format(fault=fault, path=source))
    out = Path(directory) / Path(source).name
    out.write_text(text.replace(old, new))
    return out
