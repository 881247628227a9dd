"""The CloudFormation templates of the stacks: order, parameters, static reading.

One template per stack in provision/cloudformation/. Parameter values come
from settings.yaml (and from the outputs of the stacks applied before); the
intrinsic functions are evaluated here the way CloudFormation would, so the
static checks judge what CloudFormation would receive.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .. import config, errors
from ..findings import Finding, failed, passed

TEMPLATE_DIR = config.ROOT / "provision" / "cloudformation"
# Dependency order of the stacks (down runs in reverse). iam belongs to the
# OIDC area (provision/aws/iam_template.py); it is applied with the others.
STACKS = ["network", "iam", "eks", "irsa", "monitoring", "budget"]

TEMPLATE_UNREADABLE = "template {path}: {reason}"
MISSING_PARAMETER = "stack {stack}: template parameter {name} has no value (not in settings.yaml environments.{env} nor an output of an earlier stack)"
# Parameters whose values are outputs of earlier stacks (or of the EKS API).
FROM_OUTPUTS = {"PrivateSubnetIds": "network", "PublicSubnetIds": "network", "VpcId": "network",
                "ClusterOidcIssuerUrl": "eks", "AlertTopicArn": "monitoring"}


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def path(stack: str, template_dir: Path | None = None) -> Path:
    return Path(template_dir or TEMPLATE_DIR) / f"{stack}.yaml"


def stacks(template_dir: Path | None = None) -> list[str]:
    """The stacks whose template exists, in dependency order."""
    return [s for s in STACKS if path(s, template_dir).exists()]


def load(p: Path) -> dict:
    try:
        doc = yaml.load(Path(p).read_text(), Loader=_CfnLoader)  # noqa: S506 (SafeLoader subclass)
    except (OSError, yaml.YAMLError) as exc:
        raise errors.BadInput(TEMPLATE_UNREADABLE.format(path=Path(p).name, reason=str(exc).splitlines()[0])) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("Resources"), dict):
        raise errors.BadInput(TEMPLATE_UNREADABLE.format(path=Path(p).name, reason="no Resources section"))
    return doc


PSEUDO_PARAMETERS = {"AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::URLSuffix", "AWS::NoValue",
                     "AWS::StackName", "AWS::StackId", "AWS::NotificationARNs"}


def structure_problem(doc: dict) -> str:
    """The first structural error CloudFormation would reject the template for ('' if none)."""
    declared = set(doc.get("Parameters", {}) or {}) | set(doc["Resources"]) | PSEUDO_PARAMETERS
    for lid, res in doc["Resources"].items():
        if not isinstance(res, dict) or not isinstance(res.get("Type"), str):
            return f"resource {lid} has no Type"
        if res.get("Condition") and res["Condition"] not in (doc.get("Conditions") or {}):
            return f"resource {lid} uses the undefined condition {res['Condition']}"
    for ref in _refs(doc):
        if ref not in declared:
            return f"Ref to undefined {ref}"
    return ""


def _refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref" and isinstance(v, str):
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def known_values(env: dict) -> dict[str, str]:
    """Every parameter value settings.yaml provides for an environment (resolved env dict)."""
    s = config.settings()
    k8s_version = ".".join(str(s["versions"]["kubernetes"]).split(".")[:2])
    azs = s["aws"]["availability_zones"]
    values = {
        "Project": env.get("project", s["project"]),
        "EnvironmentName": env["name"],
        "ClusterName": env["cluster_name"],
        "AvailabilityZone1": azs[0],
        "AvailabilityZone2": azs[1],
        "NatGateways": str(env["nat_gateways"]),
        "KubernetesVersion": k8s_version,
        "PublicAccessCidr": env.get("api_public_cidr", ""),
        "NodeInstanceType": env["node_instance_type"],
        "NodeMin": str(env["node_min"]),
        "NodeDesired": str(env["node_desired"]),
        "NodeMax": str(env["node_max"]),
        "AppNamespace": s["kubernetes"]["namespace"],
        "BudgetUsd": str(env["budget_usd"]),
    }
    try:  # the IAM stack's own parameters (OIDC area)
        from . import iam_template
        values.update(iam_template.parameters(env["name"]))
        values["Project"] = env.get("project", values["Project"])
        values["ClusterName"] = env["cluster_name"]
    except (ImportError, AttributeError, KeyError):
        pass
    # The iam stack's role ARNs, as iam.yaml names the roles; a real output of
    # that stack, where CloudFormation returns one, takes precedence.
    for kind in ("deploy", "verify"):
        values[f"{kind.capitalize()}RoleArn"] = (
            f"arn:aws:iam::{s['aws']['account_id']}:role/{values['Project']}-{env['name']}-github-{kind}")
    return {k: v for k, v in values.items() if v != ""}


def parameters(stack: str, template: dict, env: dict, outputs: dict[str, str]) -> dict[str, str]:
    """Values for exactly the template's parameters; BadInput naming the first missing one."""
    known = {**known_values(env), **outputs}
    out = {}
    for name, spec in template.get("Parameters", {}).items():
        if name in known:
            out[name] = str(known[name])
        elif "Default" not in spec:
            raise errors.BadInput(MISSING_PARAMETER.format(stack=stack, name=name, env=env["name"]))
    return out


class Resolver:
    """Evaluates a template's intrinsic functions for one set of parameter values.

    A reference to a resource's attribute that exists only once created stays
    symbolic ("<Logical.Attr>"), which is all a static check needs.
    """

    # Types whose Ref is the name given in this property (others stay symbolic).
    REF_IS_NAME = {"AWS::Logs::LogGroup": "LogGroupName", "AWS::EKS::Cluster": "Name", "AWS::IAM::Role": "RoleName"}
    PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None}

    def __init__(self, template: dict, params: dict, account_id: str = "000000000000", region: str = "us-east-1",
                 physical: dict[str, str] | None = None):
        self.t = template
        self.physical = physical or {}
        self.refs = {k: str(v["Default"]) for k, v in template.get("Parameters", {}).items() if "Default" in v}
        self.refs.update(params)
        self.refs.update(self.PSEUDO)
        self.refs.update({"AWS::AccountId": account_id, "AWS::Region": region, "AWS::StackName": "<stack>"})
        self.conditions = {n: bool(self.value(e)) for n, e in template.get("Conditions", {}).items()}

    def ref(self, name: str):
        if name in self.refs:
            value = self.refs[name]
            ptype = self.t.get("Parameters", {}).get(name, {}).get("Type", "")
            return value.split(",") if ptype.startswith("List<") and isinstance(value, str) else value
        if name in self.physical:
            return self.physical[name]
        res = self.t["Resources"].get(name, {})
        prop = self.REF_IS_NAME.get(res.get("Type"))
        if prop and prop in res.get("Properties", {}):
            return self.value(res["Properties"][prop])
        return f"<{name}>"

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
                return str(self.value(arg[0])) == str(self.value(arg[1]))
            if fn == "Fn::GetAtt":
                return f"<{arg[0]}.{arg[1]}>"
            if fn == "Fn::Select":
                seq = self.value(arg[1])
                i = int(self.value(arg[0]))
                return seq[i] if isinstance(seq, list) and i < len(seq) else f"<select {i} of {seq}>"
            if fn == "Fn::Split":
                text = self.value(arg[1])
                return text.split(arg[0]) if isinstance(text, str) else [text]
            if fn == "Fn::Join":
                return arg[0].join(str(v) for v in self.value(arg[1]))
        return {k: self.value(v) for k, v in node.items()}

    def _sub(self, text: str, extra: dict) -> str:
        def one(m):
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in extra:
                return str(extra[name])
            if "." in name:
                return "<%s>" % name
            return str(self.ref(name))
        return re.sub(r"\$\{([^}]+)\}", one, text)

    def resources(self, rtype: str | None = None) -> dict[str, dict]:
        """Logical id -> {"Type", "Properties"} (resolved), skipping resources whose condition is false."""
        out = {}
        for lid, res in self.t["Resources"].items():
            if rtype and res.get("Type") != rtype:
                continue
            if "Condition" in res and not self.conditions.get(res["Condition"], False):
                continue
            out[lid] = {"Type": res.get("Type"), "Properties": self.value(res.get("Properties", {}))}
        return out


def outputs(template: dict, params: dict, physical: dict[str, str]) -> dict[str, str]:
    """The template's Outputs resolved from the stack's physical ids (those fully resolvable)."""
    r = Resolver(template, params, physical=physical)
    out = {}
    for key, spec in template.get("Outputs", {}).items():
        value = r.value(spec.get("Value"))
        if isinstance(value, str) and "<" not in value:
            out[key] = value
    return out


def json_doc(value):
    """A policy or dashboard given as a JSON string (the !Sub form) or as a mapping."""
    return json.loads(value) if isinstance(value, str) else value


def rendered(stack: str, env: dict, template_dir: Path | None = None, outputs: dict | None = None) -> Resolver:
    """The stack's template resolved with the environment's values (placeholders for outputs)."""
    template = load(path(stack, template_dir))
    placeholders = {name: f"<{src} output {name}>" for name, src in FROM_OUTPUTS.items()}
    placeholders["ClusterOidcIssuerUrl"] = "https://<cluster OIDC issuer>"
    params = parameters(stack, template, env, {**placeholders, **(outputs or {})})
    s = config.settings()
    return Resolver(template, params, s["aws"]["account_id"], s["aws"]["region"])


def cfn_lint(paths: list[Path]) -> Finding:
    """cfn-lint on the templates (run as a subprocess, from an argument list)."""
    exe = Path(sys.executable).parent / "cfn-lint"
    argv = [str(exe) if exe.exists() else (shutil.which("cfn-lint") or "cfn-lint"),
            "--format", "parseable", "--", *[str(p) for p in paths]]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    problems = [line for line in proc.stdout.splitlines() if line.strip()]
    subject = f"cfn-lint on {len(paths)} templates"
    if proc.returncode == 0:
        return passed(subject, "no errors or warnings", "clean", evidence=[Path(p).name for p in paths])
    return failed(subject, "no errors or warnings", f"exit {proc.returncode}, {len(problems)} findings",
                  evidence=problems[:20] or [proc.stderr.strip()[-500:]])
