"""Parameter values of the templates for one Environment: from settings.yaml and earlier stacks' outputs."""

from __future__ import annotations

from pathlib import Path

from ... import config, errors
from ...config import Environment
from .. import alerts
from . import load
from .resolve import Resolver

MISSING_PARAMETER = (
    "stack {stack}: template parameter {name} has no value "
    "(not in settings.yaml environments.{env} nor an output of an earlier stack)"
)
# Parameters whose values are outputs of earlier stacks (or of the EKS API).
FROM_OUTPUTS = {
    "PrivateSubnetIds": "network",
    "PublicSubnetIds": "network",
    "VpcId": "network",
    "ClusterOidcIssuerUrl": "eks",
    "AlertTopicArn": "monitoring",
}


def iam_values(env: Environment) -> dict[str, str]:
    """The iam stack's parameters (the GitHub OIDC trust), all from settings.yaml."""
    s = config.settings()
    gh = s["github"]
    provider = env.get("oidc_provider") or gh.get("oidc_provider", "create")
    return {
        "Project": env.project,
        "EnvironmentName": env.name,
        "ClusterName": env.cluster_name,
        "OidcIssuer": gh["oidc_issuer"],
        "OidcAudience": gh["oidc_audience"],
        "DeploySubject": gh["deploy_subject"],
        "VerifySubject": gh["verify_subject"],
        "SessionSeconds": str(gh["session_seconds"]),
        # One provider per account and issuer: with `create` the owning environment's
        # stack creates it and the others refer to it by its (deterministic) ARN; with
        # an ARN (the account already has one) no stack creates it.
        # (An environment's own `oidc_provider` value overrides settings' github.oidc_provider.)
        "ExistingOidcProviderArn": (
            ""
            if provider == "create" and env.name == gh["oidc_provider_env"]
            else provider if provider != "create"
            else f"arn:aws:iam::{s['aws']['account_id']}:oidc-provider/{gh['oidc_issuer']}"
        ),
    }


def cost_tag(env: Environment) -> tuple[str, str]:
    """The environment's cost allocation tag (key, value): the tag every stack carries (stacks._tags)."""
    return f"{config.settings()['project']}:environment", env.name


def known_values(env: Environment) -> dict[str, str]:
    """Every parameter value settings.yaml provides for the environment."""
    s = config.settings()
    azs = s["aws"]["availability_zones"]
    values = {
        "Project": env.project,
        "EnvironmentName": env.name,
        "ClusterName": env.cluster_name,
        "AvailabilityZone1": azs[0],
        "AvailabilityZone2": azs[1],
        "NatGateways": str(env["nat_gateways"]),
        "KubernetesVersion": ".".join(str(s["versions"]["kubernetes"]).split(".")[:2]),
        # settings api_access: the public endpoint is on only for operators' CIDRs (docs/infrastructure.md)
        "PublicEndpoint": "true" if (env.get("api_access") or {}).get("cidrs") else "false",
        "PublicAccessCidrs": ",".join((env.get("api_access") or {}).get("cidrs") or []),
        "NodeInstanceType": env["node_instance_type"],
        "NodeMin": str(env["node_min"]),
        "NodeDesired": str(env["node_desired"]),
        "NodeMax": str(env["node_max"]),
        "AppNamespace": s["kubernetes"]["namespace"],
        "BudgetUsd": str(env["budget_usd"]),
        "AlertEmail": alerts.alert_email(s),
        "CostTagKeyValue": "user:{}${}".format(*cost_tag(env)),
        # backup.yaml (docs/disaster-recovery.md)
        "BackupPrefix": s["backup"]["prefix"],
        "BackupRetentionDays": str(s["backup"]["retention_days"]),
        "BackupServiceAccount": s["backup"]["service_account"],
        "DrillSubject": s["github"]["drill_subject"],
        **iam_values(env),
    }
    # The iam stack's role ARNs, as iam.yaml names the roles; a real output of
    # that stack, where CloudFormation returns one, takes precedence.
    for kind in ("deploy", "verify"):
        values[f"{kind.capitalize()}RoleArn"] = (
            f"arn:aws:iam::{s['aws']['account_id']}:role/{env.project}-{env.name}-github-{kind}"
        )
    return {k: v for k, v in values.items() if v != ""}


def for_template(stack: str, template: dict, env: Environment, outputs: dict[str, str]) -> dict[str, str]:
    """Values for exactly the template's parameters; BadInput naming the first missing one."""
    known = {**known_values(env), **outputs}
    out = {}
    for name, spec in template.get("Parameters", {}).items():
        if name in known:
            out[name] = str(known[name])
        elif "Default" not in spec:
            raise errors.BadInput(MISSING_PARAMETER.format(stack=stack, name=name, env=env.name))
    return out


def rendered(stack: str, env: Environment, outputs: dict | None = None) -> Resolver:
    """The stack's template resolved leniently with the environment's values (markers for outputs)."""
    template = load.load(load.path(stack, env.template_dir))
    placeholders = {name: f"<{src} output {name}>" for name, src in FROM_OUTPUTS.items()}
    placeholders["ClusterOidcIssuerUrl"] = "https://<cluster OIDC issuer>"
    params = for_template(stack, template, env, {**placeholders, **(outputs or {})})
    s = config.settings()
    return Resolver(template, params, s["aws"]["account_id"], s["aws"]["region"], source=f"{stack}.yaml")


def iam_resolver(
    env: Environment,
    path: Path | None = None,
    account_id: str | None = None,
    region: str | None = None,
    **overrides: str,
) -> tuple[dict, Resolver]:
    """The IAM template and its strict resolver (what IAM would receive), settings' account unless given."""
    s = config.settings()
    p = Path(path or load.IAM_TEMPLATE)
    template = load.load(p)
    r = Resolver(
        template,
        {**iam_values(env), **overrides},
        account_id or s["aws"]["account_id"],
        region or s["aws"]["region"],
        strict=True,
        source=p.name,
    )
    return template, r
