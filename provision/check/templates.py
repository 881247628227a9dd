"""The template rules: any CloudFormation template on its own (provision/aws/any_template.py and the
EKS predicates of template_checks.py, resolved with the parameters' defaults), and this project's
environment-bound template check when its own settings are given."""
from __future__ import annotations

from pathlib import Path

from .. import config, errors
from ..aws import any_template, template_checks, trust_checks
from ..aws.cfn import load
from ..config import Environment
from ..findings import failed
from .discover import Inputs
from .issues import GENERIC, NOTE, POLICY, Issue, Rule, from_finding

RULES = [
    (Rule("cfn.structure", "templates", GENERIC, "every Ref names a parameter, resource or pseudo parameter; "
          "every resource has a Type"), None),
    (Rule("cfn.github-oidc-trust", "templates", GENERIC, "roles trusting GitHub's OIDC issuer pin sub exactly "
          "(no repo:X:*) and aud to sts.amazonaws.com"), any_template.github_oidc_trust),
    (Rule("cfn.iam-admin", "templates", GENERIC, "no Allow of Action * on Resource *, no Allow with "
          "NotAction/NotResource"), None),
    (Rule("cfn.eks-secrets-encryption", "templates", GENERIC, "EKS secrets envelope-encrypted with a rotating "
          "KMS key"), lambda t, r: template_checks.secrets_encryption(r)),
    (Rule("cfn.eks-logging", "templates", GENERIC, "EKS control-plane logging of api, audit, authenticator, "
          "controllerManager, scheduler"), lambda t, r: template_checks.control_plane_logging(r)),
    (Rule("cfn.eks-endpoint", "templates", GENERIC, "EKS access through access entries (API mode), private "
          "endpoint on, public endpoint not open to 0.0.0.0/0"),
     lambda t, r: template_checks.access_and_endpoint(r, roles=())),
    (Rule("cfn.project", "templates", POLICY, "this project's templates against its settings' environments "
          "(node group, add-ons, IRSA trust, alarms, budget, endpoint reachability)"), None),
]
EKS_RULES = {"cfn.eks-secrets-encryption", "cfn.eks-logging", "cfn.eks-endpoint"}
POLICY_NEEDS_OWN_SETTINGS = ("this project's template policy reads its own settings.yaml: run on this repository "
                             "(or give its settings) to apply it")


def _one(inputs: Inputs, p: Path) -> list[Issue]:
    where = inputs.rel(p)
    try:
        t, r = any_template.resolver(p)
    except errors.ProvisionError as exc:
        return [Issue("input.malformed", str(exc), where)]
    problem = load.structure_problem(t)
    if problem:
        return [Issue("cfn.structure", problem, where)]
    has_eks = any(isinstance(x, dict) and x.get("Type") == "AWS::EKS::Cluster" for x in t["Resources"].values())
    issues = []
    for rule, fn in RULES:
        if rule.scope == POLICY or (rule.id in EKS_RULES and not has_eks) or rule.id == "cfn.structure":
            continue
        try:
            f = trust_checks.no_admin(t, r, p.name, lint=False) if rule.id == "cfn.iam-admin" else fn(t, r)
        except (errors.ProvisionError, KeyError, TypeError, ValueError, AttributeError) as exc:
            f = failed(rule.what, "the template evaluates", f"{type(exc).__name__}: {exc}")
        issues += from_finding(rule.id, f, lambda msg, w=where: (w, t_line(p, msg)), where)
    return issues


def t_line(p: Path, msg: str) -> int:
    """The line where the logical id a message starts with is declared (0 when not found)."""
    lid = msg.split(":", 1)[0].split(" ", 1)[0].split(".", 1)[0]
    for n, line in enumerate(p.read_text().splitlines(), 1):
        if line.strip().startswith(f"{lid}:") or line.strip().startswith(f'"{lid}"'):
            return n
    return 0


def run(inputs: Inputs) -> list[Issue]:
    issues = [i for p in inputs.templates for i in _one(inputs, p)]
    if inputs.settings and inputs.templates:
        own = inputs.settings_path and inputs.settings_path.resolve() == config.SETTINGS_FILE.resolve()
        if not own:
            issues.append(Issue("cfn.project", POLICY_NEEDS_OWN_SETTINGS, inputs.rel(inputs.settings_path), 0, NOTE))
        elif any(p.resolve().parent == load.TEMPLATE_DIR.resolve() for p in inputs.templates):
            for env in config.environments():
                f = template_checks.template_check(Environment.named(env))
                issues += from_finding("cfn.project", f, None, inputs.rel(load.TEMPLATE_DIR))
    return issues
