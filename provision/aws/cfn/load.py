"""The templates of the stacks: where they are, their order, the one YAML loader with CloudFormation's tags."""

from __future__ import annotations

from pathlib import Path

import yaml

from ... import config, errors

TEMPLATE_DIR = config.ROOT / "provision" / "cloudformation"
# Dependency order of the stacks (down runs in reverse). monitoring precedes eks: it creates the
# log groups EKS and the Container Insights add-on would otherwise create themselves
# (monitoring_checks.service_log_groups_first).
STACKS = ["network", "iam", "monitoring", "eks", "irsa", "backup", "budget"]
IAM_TEMPLATE = TEMPLATE_DIR / "iam.yaml"

TEMPLATE_UNREADABLE = "template {path}: {reason}"
PSEUDO_PARAMETERS = {
    "AWS::AccountId",
    "AWS::Region",
    "AWS::Partition",
    "AWS::URLSuffix",
    "AWS::NoValue",
    "AWS::StackName",
    "AWS::StackId",
    "AWS::NotificationARNs",
}


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
    """The template as a dict (short tags as their long forms); BadInput naming the file when unreadable."""
    try:
        doc = yaml.load(Path(p).read_text(), Loader=_CfnLoader)  # noqa: S506 (SafeLoader subclass)
    except (OSError, yaml.YAMLError) as exc:
        raise errors.BadInput(TEMPLATE_UNREADABLE.format(path=Path(p).name, reason=str(exc).splitlines()[0])) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("Resources"), dict):
        raise errors.BadInput(TEMPLATE_UNREADABLE.format(path=Path(p).name, reason="no Resources section"))
    return doc


def structure_problem(doc: dict) -> str:
    """The first structural error CloudFormation would reject the template for ('' if none)."""
    declared = set(doc.get("Parameters", {}) or {}) | set(doc["Resources"]) | PSEUDO_PARAMETERS
    for lid, res in doc["Resources"].items():
        if not isinstance(res, dict) or not isinstance(res.get("Type"), str):
            return f"resource {lid} has no Type"
        if res.get("Condition") and res["Condition"] not in (doc.get("Conditions") or {}):
            return f"resource {lid} uses the undefined condition {res['Condition']}"
    for ref in refs(doc):
        if ref not in declared:
            return f"Ref to undefined {ref}"
    return ""


def refs(node):
    """Every name a Ref in `node` refers to."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref" and isinstance(v, str):
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)
