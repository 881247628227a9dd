"""Seeded faults of the AWS area: CloudFormation templates, the IAM template, the cost estimate's sizing.

Each is applied to a copy (templates in a temporary directory, an
environment's settings), never to the committed files, and anchored to the
text it changes: a reworded template makes the fault fail loudly, never a
silent no-op.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from provision import errors
from provision.aws import alerts, design_checks, monitoring_checks, template_checks
from provision.aws.cfn import load, parameters
from provision.aws.cfn.lint import cfn_lint
from provision.ci import workflow_model
from provision.config import Environment

# fault -> (template, pattern, replacement): each must match the committed template.
TEMPLATE_FAULTS = {
    "malformed-template": ("eks.yaml", r"^Resources:\n", "Resources:\n  Broken: [unclosed\n"),
    # The first private route table sends 0.0.0.0/0 to the internet gateway: its subnet turns public.
    "public-node-subnet": ("network.yaml", r"NatGatewayId: !Ref NatGateway1\n", "GatewayId: !Ref InternetGateway\n"),
    "no-secret-encryption": ("eks.yaml", r"      EncryptionConfig:\n(        .*\n)+?(?=      Logging:)", ""),
    "wrong-instance-type": ("eks.yaml", r"InstanceTypes: \[!Ref NodeInstanceType\]", "InstanceTypes: [m5.xlarge]"),
    "alarm-without-action": ("monitoring.yaml", r"      AlarmActions: \[!Ref AlertTopic\]\n", ""),
    # A property CloudFormation does not know: cfn-lint's schema check (E3002) goes red.
    "lint-error": ("monitoring.yaml", r"(      LogGroupName: !Sub /aws/eks/\$\{ClusterName\}/cluster\n)",
                   r"\1      RetentionDays: 30\n"),
    # Scaling: the minimum above the desired size; the maximum down to the minimum (no room to scale).
    "scaling-min-above-desired": ("eks.yaml", r"        MinSize: !Ref NodeMin\n", "        MinSize: 9\n"),
    "scaling-max-at-min": ("eks.yaml", r"        MaxSize: !Ref NodeMax\n", "        MaxSize: !Ref NodeMin\n"),
    # The control-plane log group keeps its logs forever.
    "no-log-retention": ("monitoring.yaml",
                         r"(      LogGroupName: !Sub /aws/eks/\$\{ClusterName\}/cluster\n)      RetentionInDays: .*\n",
                         r"\1"),
    "no-container-insights": ("eks.yaml", r"^  ContainerInsightsAddon:\n(    .*\n)+", ""),
    # The dashboard's network widget (its title line, metrics line and the lines continuing it).
    "dashboard-no-network": ("monitoring.yaml", r'^ {10}\{"type": "metric", "x": 12, "y": 6,.*\n'
                             r' {12}"title": "network",.*\n {12}"metrics":.*\n( {24}\[.*\n)+', ""),
    # The log widget of the app namespace, which leads from an alarm to the workloads' logs.
    "dashboard-no-app-logs": ("monitoring.yaml", r'^ {10}\{"type": "log", "x": 0, "y": 15,.*\n.*\n.*\n', ""),
    # A stack applied after eks creates a log group the Container Insights add-on creates itself.
    "service-log-group-after-cluster": ("budget.yaml", r"^Resources:\n",
                                        "Resources:\n  LateApplicationLogGroup:\n    Type: AWS::Logs::LogGroup\n"
                                        "    Properties:\n      LogGroupName: !Sub /aws/containerinsights/"
                                        "${ClusterName}/application\n      RetentionInDays: 30\n"),
    # The restarts alarm back on {ClusterName, Namespace}: Container Insights publishes no such series.
    "restarts-alarm-unpublished-dimensions": ("monitoring.yaml",
                                              r"FROM SCHEMA\(ContainerInsights, ClusterName, Namespace, PodName\)",
                                              "FROM SCHEMA(ContainerInsights, ClusterName, Namespace)"),
    "cpu-alarm-unpublished-dimensions": ("monitoring.yaml",
                                         r"(      MetricName: node_cpu_utilization\n      Dimensions:\n)",
                                         r"\1        - Name: Namespace\n          Value: !Ref AppNamespace\n"),
    # The alert topic without its e-mail subscription: every alarm notifies nobody.
    "no-alert-subscriber": ("monitoring.yaml", r"^  AlertSubscription:\n(    .*\n)+\n", ""),
    # The budget without its tag filter: it compares the whole account with one environment's amount.
    "budget-whole-account": ("budget.yaml", r"^ +# Only the environment's tagged.*\n +CostFilters:\n.*\n.*\n", ""),
}
FAULT_UNKNOWN = "unknown seeded fault {fault!r}: expected one of {known}"


def _rendered(stack: str):
    return lambda env: parameters.rendered(stack, env)


# The static checks a seeded template fault turns red, by the name the scenarios use.
STATIC_CHECKS = {
    "cfn-lint": lambda env: cfn_lint([load.path(s, env.template_dir) for s in load.stacks(env.template_dir)]),
    "node group scaling": lambda env: template_checks.node_group_scales(_rendered("eks")(env)),
    "Container Insights add-on": lambda env: template_checks.container_insights(_rendered("eks")(env)),
    "log-group retention": lambda env: monitoring_checks.log_groups_retained(_rendered("monitoring")(env),
                                                                             env.cluster_name),
    "dashboard metrics": lambda env: monitoring_checks.dashboard_tracks(_rendered("monitoring")(env)),
    "dashboard links": lambda env: monitoring_checks.dashboard_links(_rendered("monitoring")(env), env.cluster_name,
                                                                     monitoring_checks.app_namespace()),
    "alarm actions": lambda env: monitoring_checks.alarms_notify(_rendered("monitoring")(env)),
    "the templates": lambda env: template_checks.template_check(env),
    "service log groups first": lambda env: monitoring_checks.service_log_groups_first(env),
    "alarm metrics": lambda env: monitoring_checks.alarm_metrics_published(_rendered("monitoring")(env)),
    "alert subscription": lambda env: monitoring_checks.alert_subscription(_rendered("monitoring")(env),
                                                                           alerts.alert_email()),
    "budget": lambda env: monitoring_checks.budget_template(_rendered("budget")(env), env["budget_usd"]),
}
# Each template fault and the check it must turn red, naming what (tests/test_aws_templates.py).
TEMPLATE_FAULT_CHECKS = {
    "malformed-template": ("the templates", "template"),
    "public-node-subnet": ("the templates", "private subnets"),
    "no-secret-encryption": ("the templates", "EncryptionConfig"),
    "wrong-instance-type": ("the templates", "t3.medium"),
    "alarm-without-action": ("alarm actions", "AlarmActions"),
    "lint-error": ("cfn-lint", "E3002"),
    "scaling-min-above-desired": ("node group scaling", "min 9 desired 2"),
    "scaling-max-at-min": ("node group scaling", "max 2"),
    "no-log-retention": ("log-group retention", "no RetentionInDays"),
    "no-container-insights": ("Container Insights add-on", "no amazon-cloudwatch-observability add-on"),
    "dashboard-no-network": ("dashboard metrics", "no network widget"),
    "dashboard-no-app-logs": ("dashboard links", "no log widget"),
    "service-log-group-after-cluster": ("service log groups first", "stack budget (LateApplicationLogGroup)"),
    "restarts-alarm-unpublished-dimensions": ("alarm metrics", "not published with {ClusterName, Namespace}"),
    "cpu-alarm-unpublished-dimensions": ("alarm metrics", "node_cpu_utilization is not published with"),
    "no-alert-subscriber": ("alert subscription", "no subscriber"),
    "budget-whole-account": ("budget", "the whole account"),
}


# ---- issue 10's live defects of the endpoint and add-on design (provision/aws/design_checks.py), as
# they were: the public endpoint open only to a documentation range, the deploy job on a GitHub-hosted
# runner that cannot reach the private endpoint, the EBS CSI add-on in the eks stack naming the role that
# only the later irsa stack creates. A fault of a workflow file (.yml) is applied to a copy of the workflows.
WORKFLOW_SUFFIX = ".yml"
TEMPLATE_FAULTS.update({
    "documentation-cidr": ("eks.yaml", r"EndpointPublicAccess: !If .*\n        PublicAccessCidrs: !If .*\n",
                           "EndpointPublicAccess: true\n        PublicAccessCidrs: [203.0.113.0/24]\n"),
    "hosted-runner-private-endpoint": ("deploy-aws-eks.yml", r"^    runs-on: \[self-hosted, .*\n",
                                       "    runs-on: ubuntu-24.04\n"),
    "addon-role-from-later-stack": ("eks.yaml", r"^  # aws-ebs-csi-driver is added by the irsa stack.*\n",
                                    "  EbsCsiAddon:\n    Type: AWS::EKS::Addon\n    DependsOn: NodeGroup\n"
                                    "    Properties:\n      ClusterName: !Ref Cluster\n"
                                    "      AddonName: aws-ebs-csi-driver\n      ServiceAccountRoleArn: !Sub "
                                    "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ClusterName}-ebs-csi\n"),
})


def _workflows(env: Environment) -> list:
    """The workflows next to a seeded copy of the templates, else the committed ones."""
    seeded = Path(env.template_dir).parent / "workflows" if env.template_dir else None
    return workflow_model.committed(seeded if seeded and seeded.exists() else workflow_model.WORKFLOWS_DIR)


STATIC_CHECKS.update({
    "API endpoint reachable": lambda env: design_checks.api_endpoint_reachable(_rendered("eks")(env), env,
                                                                               _workflows(env)),
    "add-on roles ordered": lambda env: design_checks.addon_roles_ordered(
        {s: _rendered(s)(env) for s in ("network", "eks", "irsa")}),
})
TEMPLATE_FAULT_CHECKS.update({
    "documentation-cidr": ("API endpoint reachable", "203.0.113.0/24 is the documentation range"),
    "hosted-runner-private-endpoint": ("API endpoint reachable", "GitHub-hosted runner ubuntu-24.04"),
    "addon-role-from-later-stack": ("add-on roles ordered", "created only by the later stack irsa"),
})

def static_check(name: str, env: Environment):
    """The named static check of the environment's templates (a Finding)."""
    if name not in STATIC_CHECKS:
        raise KeyError(f"unknown static check {name!r}: expected one of {', '.join(STATIC_CHECKS)}")
    return STATIC_CHECKS[name](env)
FAULT_STALE = "seeded fault {fault!r} no longer matches {template}: update harness/faults/aws.py"


def seeded_templates(fault: str, dest: Path) -> Path:
    """A copy of the templates in `dest` with `fault` applied; returns the copy's directory."""
    if fault not in TEMPLATE_FAULTS:
        raise KeyError(FAULT_UNKNOWN.format(fault=fault, known=", ".join(TEMPLATE_FAULTS)))
    templates = Path(dest) / "cloudformation"
    shutil.copytree(load.TEMPLATE_DIR, templates, dirs_exist_ok=True)
    name, pattern, replacement = TEMPLATE_FAULTS[fault]
    target = templates
    if name.endswith(WORKFLOW_SUFFIX):
        target = Path(dest) / "workflows"
        shutil.copytree(workflow_model.WORKFLOWS_DIR, target, dirs_exist_ok=True)
    text = (target / name).read_text()
    new, n = re.subn(pattern, replacement, text, count=1, flags=re.M)
    if n != 1:
        raise AssertionError(FAULT_STALE.format(fault=fault, template=name))
    (target / name).write_text(new)
    return templates


# ---- the IAM template (features/oidc.feature): each turns one IAM check red.

_DEPLOY_TRUST = '''            "Condition": {"StringEquals": {
              "${OidcIssuer}:aud": "${OidcAudience}",
              "${OidcIssuer}:sub": "${DeploySubject}"}}}]}'''
IAM_FAULTS = {
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
    # Both roles trust the verification subject: the read-only nightly job can assume the deploy role.
    "roles-share-subject": (_DEPLOY_TRUST, '''            "Condition": {"StringEquals": {
              "${OidcIssuer}:aud": "${OidcAudience}",
              "${OidcIssuer}:sub": ["${DeploySubject}", "${VerifySubject}"]}}}]}'''),
}
IAM_FAULT_NOT_APPLIED = "seeded fault {fault!r} no longer applies to {path}: update harness/faults/aws.py IAM_FAULTS"


def seeded_iam_copy(fault: str, directory: Path, source: Path = load.IAM_TEMPLATE) -> Path:
    """A copy of the IAM template with `fault` applied, in `directory`."""
    if fault not in IAM_FAULTS:
        raise errors.BadInput(FAULT_UNKNOWN.format(fault=fault, known=", ".join(IAM_FAULTS)))
    old, new = IAM_FAULTS[fault]
    text = Path(source).read_text()
    if text.count(old) != 1:
        raise errors.ProvisionError(IAM_FAULT_NOT_APPLIED.format(fault=fault, path=source))
    out = Path(directory) / Path(source).name
    out.write_text(text.replace(old, new))
    return out


# ---- the cost estimate (features/cost.feature): overrides of an environment's settings.

COST_FAULTS = {
    "ten-m5-xlarge-nodes": {"node_instance_type": "m5.xlarge", "node_min": 10, "node_desired": 10, "node_max": 10},
    "nat-per-az-times-5": {"nat_gateways": 10},
}
UNKNOWN_COST_FAULT = "unknown seeded cost fault {fault!r}: expected one of {known}"


def cost_environment(name: str, fault: str) -> Environment:
    """The environment with a seeded cost fault applied to its copy of the settings."""
    if fault not in COST_FAULTS:
        raise errors.BadInput(UNKNOWN_COST_FAULT.format(fault=fault, known=", ".join(COST_FAULTS)))
    return Environment.named(name, overrides=COST_FAULTS[fault])


# ---- the audit trail (features/infrastructure.feature, R6.4): edits of a copy of the records.

AUDIT_FAULTS = {
    "record-missing": lambda r: None,
    "record-without-actor": lambda r: {**r, "who": ""},
    "record-of-another-env": lambda r: {**r, "env": r["env"] + "-other"},
    "record-without-commit": lambda r: {**r, "commit": ""},
}
UNKNOWN_AUDIT_FAULT = "unknown seeded audit fault {fault!r}: expected one of {known}"
AUDIT_FAULT_NOT_APPLIED = "seeded audit fault {fault!r}: no record of change set {change_set!r} in {path}"


def seeded_audit(fault: str, records: Path, change_set: str, dest: Path) -> Path:
    """A copy of the audit records in `dest` with the record of `change_set` dropped or altered by `fault`."""
    if fault not in AUDIT_FAULTS:
        raise errors.BadInput(UNKNOWN_AUDIT_FAULT.format(fault=fault, known=", ".join(AUDIT_FAULTS)))
    rows = [json.loads(line) for line in Path(records).read_text().splitlines() if line.strip()]
    if not any(r.get("change_set") == change_set for r in rows):
        raise errors.ProvisionError(AUDIT_FAULT_NOT_APPLIED.format(fault=fault, change_set=change_set, path=records))
    edited = [AUDIT_FAULTS[fault](r) if r.get("change_set") == change_set else r for r in rows]
    out = Path(dest) / "audit.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in edited if r is not None))
    return out


# ---- stacks as describe_stacks shows them (stacks COMPLETE, commit tags): edits of a copy.

STACK_FAULTS = {
    "rolled-back": lambda s, sha: {**s, "StackStatus": "UPDATE_ROLLBACK_COMPLETE"},
    "create-failed": lambda s, sha: {**s, "StackStatus": "CREATE_FAILED"},
    "no-commit-tag": lambda s, sha: {**s, "Tags": [t for t in s.get("Tags", []) if t["Value"] != sha]},
    "other-commit-tag": lambda s, sha: {**s, "Tags": [{**t, "Value": "0" * 40} if t["Value"] == sha else t
                                                      for t in s.get("Tags", [])]},
}


def seeded_stacks(fault: str, found: dict, stack: str, sha: str = "") -> dict:
    """A copy of describe_stacks entries (name -> entry) with `fault` applied to `stack`."""
    if fault not in STACK_FAULTS:
        raise errors.BadInput(FAULT_UNKNOWN.format(fault=fault, known=", ".join(STACK_FAULTS)))
    if found.get(stack) is None:
        raise errors.ProvisionError(f"seeded stack fault {fault!r}: stack {stack} does not exist")
    return {n: (STACK_FAULTS[fault](s, sha) if n == stack else s) for n, s in found.items()}


# ---- settings.yaml github: (features/oidc.feature): edits of a copy of the github block.

GITHUB_FAULTS = {
    # The owner's case as someone typed it, not as GitHub sends it: IAM refuses every exchange.
    "subject-case-differs": lambda gh: {**gh, "deploy_subject": gh["deploy_subject"].replace(
        f"repo:{gh['repository']}:", f"repo:{gh['repository'].upper()}:")},
    # The verification job's subject back to the deploy subject: the nightly job could assume the deploy role.
    "verify-subject-is-main": lambda gh: {**gh, "verify_subject": gh["deploy_subject"]},
    # A provider ARN of another account: the trust would name a provider that does not exist here.
    "provider-other-account": lambda gh: {**gh, "oidc_provider": f"arn:aws:iam::111111111111:oidc-provider/"
                                                                  f"{gh['oidc_issuer']}"},
}


def seeded_github(fault: str) -> dict:
    """A copy of settings.yaml's github block with `fault` applied."""
    from provision import config

    if fault not in GITHUB_FAULTS:
        raise errors.BadInput(FAULT_UNKNOWN.format(fault=fault, known=", ".join(GITHUB_FAULTS)))
    return GITHUB_FAULTS[fault](dict(config.settings()["github"]))
