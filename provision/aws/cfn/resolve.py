"""The one evaluator of a template's intrinsic functions, as CloudFormation evaluates them.

Strict (what is about to be created: the IAM roles) refuses what
CloudFormation would refuse: a parameter without a value, an unknown
reference, a Select out of range. Lenient (static checks, outputs) leaves
what is unknown before creation as a deterministic marker "<Name>" or
"<Logical.Attr>", which is all a static check needs.
"""

from __future__ import annotations

import re

from ... import errors

MISSING_VALUE = "template {path}: parameter {name} has no value"
UNKNOWN_REFERENCE = "template {path}: {what} refers to the undefined {name}"
SELECT_OUT_OF_RANGE = "template {path}: Fn::Select index {index} is outside the list {items}"


def unresolved(value) -> bool:
    """A marker of the lenient resolver (or a value built from one)."""
    return isinstance(value, str) and "<" in value


def logical_id(value) -> str:
    """The logical id in a lenient marker: '<Logical>' or '<Logical.Attr>' -> 'Logical' ('' for anything else)."""
    if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
        return value[1:-1].split(".")[0]
    return ""


def _scalar(value):
    # Fn::Equals compares values as CloudFormation sees them: parameters are strings, literals become strings.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [_scalar(v) for v in value]
    return "" if value is None else str(value)


class Resolver:
    """Evaluates the intrinsic functions of one template for one set of parameter values."""

    # Types whose Ref is the name given in this property (others stay a marker).
    REF_IS_NAME = {"AWS::Logs::LogGroup": "LogGroupName", "AWS::EKS::Cluster": "Name", "AWS::IAM::Role": "RoleName"}
    PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None}

    def __init__(
        self,
        template: dict,
        params: dict,
        account_id: str = "000000000000",
        region: str = "us-east-1",
        physical: dict[str, str] | None = None,
        *,
        strict: bool = False,
        source: str = "template",
    ):
        self.t = template
        self.strict = strict
        self.source = source
        self.physical = physical or {}
        declared = template.get("Parameters", {}) or {}
        self.refs = {k: str(v["Default"]) for k, v in declared.items() if "Default" in v}
        self.refs.update(params)
        missing = [k for k in declared if k not in self.refs]
        if missing and strict:
            raise errors.BadInput(MISSING_VALUE.format(path=source, name=missing[0]))
        self.refs.update(self.PSEUDO)
        self.refs.update({"AWS::AccountId": account_id, "AWS::Region": region, "AWS::StackName": "<stack>"})
        self.conditions = {n: bool(self.value(e)) for n, e in (template.get("Conditions") or {}).items()}

    def _unknown(self, what: str, name: str) -> str:
        if self.strict:
            raise errors.BadInput(UNKNOWN_REFERENCE.format(path=self.source, what=what, name=name))
        return f"<{name}>"

    def ref(self, name: str):
        if name in self.refs:
            value = self.refs[name]
            ptype = self.t.get("Parameters", {}).get(name, {}).get("Type", "")
            listed = ptype.startswith("List<") or ptype == "CommaDelimitedList"
            return value.split(",") if listed and isinstance(value, str) else value
        if name in self.physical:
            return self.physical[name]
        res = self.t["Resources"].get(name)
        if res is None:
            return self._unknown("a Ref", name)
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::IAM::OIDCProvider":  # Ref is the provider's ARN
            url = self.value(props.get("Url", ""))
            if isinstance(url, str) and url and not unresolved(url):
                return f"arn:aws:iam::{self.refs['AWS::AccountId']}:oidc-provider/{url.split('://', 1)[-1]}"
        prop = self.REF_IS_NAME.get(res.get("Type"))
        if prop and prop in props:
            return self.value(props[prop])
        return f"<{name}>"

    def getatt(self, name: str, attr: str):
        """The known value (a physical one, or a role's ARN from its name), else the marker "<name.attr>"."""
        if f"{name}.{attr}" in self.physical:
            return self.physical[f"{name}.{attr}"]
        res = self.t["Resources"].get(name)
        if res is None:
            return self._unknown("a GetAtt", f"{name}.{attr}")
        if attr == "Arn" and res.get("Type") == "AWS::IAM::Role":
            role = self.ref(name)
            if isinstance(role, str) and not unresolved(role):
                return f"arn:{self.refs['AWS::Partition']}:iam::{self.refs['AWS::AccountId']}:role/{role}"
        return f"<{name}.{attr}>"

    def select(self, index, items):
        i = int(index)
        if isinstance(items, list) and 0 <= i < len(items):
            return items[i]
        if self.strict:
            raise errors.BadInput(SELECT_OUT_OF_RANGE.format(path=self.source, index=i, items=items))
        return f"<select {i} of {items}>"

    def value(self, node):
        if isinstance(node, list):
            return [self.value(n) for n in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((fn, arg),) = node.items()
            if fn in self._FUNCTIONS:
                return self._FUNCTIONS[fn](self, arg)
        return {k: self.value(v) for k, v in node.items()}

    def _sub(self, arg) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], {k: self.value(v) for k, v in arg[1].items()})

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

    def _split(self, arg):
        text = self.value(arg[1])
        return text.split(arg[0]) if isinstance(text, str) else [text]

    _FUNCTIONS = {
        "Ref": lambda self, a: self.ref(a),
        "Fn::Sub": _sub,
        "Fn::If": lambda self, a: self.value(a[1] if self.conditions[a[0]] else a[2]),
        "Fn::Equals": lambda self, a: _scalar(self.value(a[0])) == _scalar(self.value(a[1])),
        "Fn::Not": lambda self, a: not self.value(a[0]),
        "Fn::And": lambda self, a: all(self.value(c) for c in a),
        "Fn::Or": lambda self, a: any(self.value(c) for c in a),
        "Condition": lambda self, a: self.conditions[a],
        "Fn::GetAtt": lambda self, a: self.getatt(*a),
        "Fn::Select": lambda self, a: self.select(self.value(a[0]), self.value(a[1])),
        "Fn::Split": _split,
        "Fn::Join": lambda self, a: a[0].join(str(v) for v in self.value(a[1])),
    }

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


def outputs(template: dict, params: dict, physical: dict[str, str], account_id: str, region: str) -> dict[str, str]:
    """The template's Outputs resolved from the stack's physical ids (those fully resolvable)."""
    r = Resolver(template, params, account_id, region, physical=physical)
    out = {}
    for key, spec in template.get("Outputs", {}).items():
        value = r.value(spec.get("Value"))
        if isinstance(value, str) and not unresolved(value):
            out[key] = value
    return out
