"""Checks of the applied stacks as the target's AWS APIs show them, each beside its static twin.

Where the endpoint ignored a resource (moto's CloudFormation skips EKS,
alarms, budgets), the stack does not list it and the Finding names the
target's gap: that part was checked statically only. The endpoint's answers
are graded as the target grades its AWS (emulated offline, real live).
"""

from __future__ import annotations

import botocore.exceptions

from ..config import Environment
from ..findings import Finding, combine, failed, passed
from . import gaps as target_gaps
from .clients import client
from .monitoring_checks import budget_template
from .stack_api import listed as _listed
from .stack_api import outputs as _outputs
from .template_checks import (
    access_and_endpoint,
    alarms_notify,
    container_insights,
    log_groups_retained,
    node_group_config,
    node_subnets_private,
    rendered,
    secrets_encryption,
)


def route_public(route_tables: list[dict], subnet_id: str, vpc_main: dict | None = None) -> str:
    """Why a subnet is public from EC2's route tables ('' if it is private). Pure."""
    table = next(
        (t for t in route_tables if any(a.get("SubnetId") == subnet_id for a in t.get("Associations", []))), vpc_main
    )
    if table is None:
        return ""
    for r in table.get("Routes", []):
        if str(r.get("GatewayId", "")).startswith("igw-") and r.get("State", "active") == "active":
            return f"{table['RouteTableId']} routes {r.get('DestinationCidrBlock')} to {r['GatewayId']}"
    return ""


def node_subnets_live(target, env: Environment) -> Finding:
    subject = "node group only in subnets without a route to an internet gateway"
    g = target.grade("aws")
    listed = _listed(target, env, "eks")
    gaps: tuple[str, ...] = ()
    try:
        ng = client(target, "eks").describe_nodegroup(clusterName=env.cluster_name, nodegroupName=env.node_group)[
            "nodegroup"
        ]
        subnets = ng["subnets"]
    except botocore.exceptions.ClientError:
        if "NodeGroup" in listed:
            return failed(subject, "the node group", "listed by the stack but not shown by the EKS API", grade=g)
        gaps += target_gaps.named(target, "AWS::EKS::Nodegroup")
        subnets = [s for s in _outputs(target, env, "network").get("PrivateSubnetIds", "").split(",") if s]
    if not subnets:
        return failed(
            subject, "subnets of the node group", "none found (is the network stack applied?)", gaps=gaps, grade=g
        )
    ec2 = client(target, "ec2")
    infos = ec2.describe_subnets(SubnetIds=subnets)["Subnets"]
    vpc = infos[0]["VpcId"]
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    main = next((t for t in tables if any(a.get("Main") for a in t.get("Associations", []))), None)
    problems, evidence = [], []
    for s in infos:
        why = route_public(tables, s["SubnetId"], main)
        if s.get("MapPublicIpOnLaunch"):
            why = why or "MapPublicIpOnLaunch is on"
        (problems if why else evidence).append(
            f"{s['SubnetId']} ({s['AvailabilityZone']}): {why or 'no internet gateway route'}"
        )
    static = node_subnets_private(rendered(env, "network"), rendered(env, "eks"))
    live = Finding(
        not problems,
        "node subnets as EC2 shows them",
        "no internet gateway route",
        "; ".join(problems) or "private",
        tuple(problems + evidence),
        gaps,
        grade=g,
    )
    return combine(subject, [static, live])


def _not_shown(target, subject: str, gap: str, actual: str = "not shown here") -> Finding:
    """The endpoint does not show this part (its named gap): it was checked statically only."""
    return passed(subject, "", actual, gaps=target_gaps.named(target, gap), grade=target.grade("aws"))


def node_group_live(target, env: Environment, instance_type: str, desired: int) -> Finding:
    static = node_group_config(rendered(env, "eks"), instance_type, int(env["node_min"]), desired, int(env["node_max"]))
    try:
        ng = client(target, "eks").describe_nodegroup(clusterName=env.cluster_name, nodegroupName=env.node_group)[
            "nodegroup"
        ]
    except botocore.exceptions.ClientError:
        return combine(
            static.subject, [static, _not_shown(target, "node group through the EKS API", "AWS::EKS::Nodegroup")]
        )
    sc = ng["scalingConfig"]
    ok = ng["instanceTypes"] == [instance_type] and sc["desiredSize"] == desired
    live = Finding(
        ok,
        "node group through the EKS API",
        f"{instance_type} x{desired}",
        f"{','.join(ng['instanceTypes'])} x{sc['desiredSize']} (min {sc['minSize']}, max {sc['maxSize']})",
        grade=target.grade("aws"),
    )
    return combine(static.subject, [static, live])


def kms_live(target, env: Environment) -> Finding:
    g = target.grade("aws")
    static = secrets_encryption(rendered(env, "eks"))
    key = _listed(target, env, "eks").get("SecretsKey")
    if not key:
        return combine(
            static.subject,
            [static, failed("the secrets KMS key", "created by the eks stack", "not listed (is it applied?)", grade=g)],
        )
    kms = client(target, "kms")
    rotation = kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"]
    parts = [
        static,
        Finding(
            rotation, "secrets KMS key rotation (KMS API)", "rotation on", "on" if rotation else "off", (key,), grade=g
        ),
    ]
    try:
        c = client(target, "eks").describe_cluster(name=env.cluster_name)["cluster"]
        arns = [
            e.get("provider", {}).get("keyArn", "")
            for e in c.get("encryptionConfig", [])
            if "secrets" in e.get("resources", [])
        ]
        parts.append(
            Finding(
                any(key in a for a in arns),
                "cluster encryptionConfig (EKS API)",
                key,
                ", ".join(arns) or "none",
                grade=g,
            )
        )
    except botocore.exceptions.ClientError:
        parts.append(_not_shown(target, "cluster encryptionConfig (EKS API)", "AWS::EKS::Cluster"))
    return combine(static.subject, parts)


def log_groups_live(target, env: Environment) -> Finding:
    g = target.grade("aws")
    static = log_groups_retained(rendered(env, "monitoring"), env.cluster_name)
    listed = {lid: p for lid, p in _listed(target, env, "monitoring").items() if "LogGroup" in lid}
    if not listed:
        return combine(
            static.subject,
            [
                static,
                failed("log groups (CloudWatch Logs API)", "created by the monitoring stack", "none listed", grade=g),
            ],
        )
    logs = client(target, "logs")
    problems, evidence = [], []
    for name in listed.values():
        got = [x for x in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] if x["logGroupName"] == name]
        days = got[0].get("retentionInDays") if got else None
        (evidence if days else problems).append(
            f"{name}: {f'{days} days' if days else 'no retention' if got else 'absent'}"
        )
    live = Finding(
        not problems,
        "log groups (CloudWatch Logs API)",
        "each with a retention",
        "; ".join(problems) or f"{len(listed)} retained",
        tuple(problems + evidence),
        grade=g,
    )
    return combine("log groups exist with retention", [static, live])


def alarms_live(target, env: Environment) -> Finding:
    mon = rendered(env, "monitoring")
    static = alarms_notify(mon)
    listed = _listed(target, env, "monitoring")
    alarm_ids = list(mon.resources("AWS::CloudWatch::Alarm"))
    if not any(a in listed for a in alarm_ids):
        return combine(
            static.subject,
            [static, _not_shown(target, "alarms (CloudWatch API)", "AWS::CloudWatch::Alarm", "not created here")],
        )
    cw = client(target, "cloudwatch")
    topic = listed.get("AlertTopic", "")
    names = [listed[a] for a in alarm_ids if a in listed]
    got = cw.describe_alarms(AlarmNames=names)["MetricAlarms"]
    bad = [a["AlarmName"] for a in got if topic not in a.get("AlarmActions", [])]
    live = Finding(
        not bad and len(got) == len(names),
        "alarms (CloudWatch API)",
        f"{len(names)} alarms -> {topic}",
        ", ".join(bad) or f"{len(got)} alarms notify the topic",
        grade=target.grade("aws"),
    )
    return combine(static.subject, [static, live])


def budget_live(target, env: Environment) -> Finding:
    """R2.5: the budget of the environment's amount with thresholds to the alert topic."""
    outputs = _outputs(target, env, "monitoring")
    bud = rendered(env, "budget", {"AlertTopicArn": outputs.get("AlertTopicArn", "<monitoring output AlertTopicArn>")})
    static = budget_template(bud, env["budget_usd"], target_gaps.named(target, "AWS::Budgets::Budget"))
    listed = _listed(target, env, "budget")
    if "MonthlyBudget" not in listed:
        return static  # its gap names that the endpoint's CloudFormation ignores budgets
    budgets = client(target, "budgets", attempts=1)
    account = client(target, "sts").get_caller_identity()["Account"]
    name = listed["MonthlyBudget"]
    return combine(
        static.subject,
        [
            static,
            budget_api(budgets, account, name, float(env["budget_usd"]), outputs.get("AlertTopicArn", ""), target),
        ],
    )


def budget_api(budgets, account: str, name: str, amount: float, topic: str, target=None) -> Finding:
    """The budget as the Budgets API shows it (also run against moto's Budgets API in tests)."""
    subject = f"budget {name} (Budgets API)"
    g = target.grade("aws") if target is not None else ""
    try:
        b = budgets.describe_budget(AccountId=account, BudgetName=name)["Budget"]
    except botocore.exceptions.ClientError as exc:
        return failed(subject, "exists", exc.response["Error"]["Message"], grade=g)
    notes = budgets.describe_notifications_for_budget(AccountId=account, BudgetName=name).get("Notifications", [])
    to_topic, gaps = [], ()
    for n in notes:
        try:
            subs = budgets.describe_subscribers_for_notification(AccountId=account, BudgetName=name, Notification=n)[
                "Subscribers"
            ]
        except Exception:  # noqa: BLE001 - moto answers the unimplemented call with a 500 page
            gaps = target_gaps.named(target, "budgets-subscribers")
            to_topic.append(f"{n['NotificationType']} > {n['Threshold']}% (subscribers not shown here)")
            continue
        if any(s["SubscriptionType"] == "SNS" and s["Address"] == topic for s in subs):
            to_topic.append(f"{n['NotificationType']} > {n['Threshold']}%")
    limit = float(b["BudgetLimit"]["Amount"])
    ok = b["TimeUnit"] == "MONTHLY" and limit == amount and bool(to_topic)
    return Finding(
        ok,
        subject,
        f"MONTHLY {amount} USD, thresholds -> {topic}",
        f"{b['TimeUnit']} {limit} {b['BudgetLimit']['Unit']}, {len(to_topic)} thresholds to the topic",
        tuple(to_topic),
        gaps,
        grade=g,
    )


def access_live(target, env: Environment) -> Finding:
    static = access_and_endpoint(rendered(env, "eks"))
    try:
        c = client(target, "eks").describe_cluster(name=env.cluster_name)["cluster"]
    except botocore.exceptions.ClientError:
        return combine(static.subject, [static, _not_shown(target, "cluster access (EKS API)", "AWS::EKS::Cluster")])
    mode = c.get("accessConfig", {}).get("authenticationMode", "")
    vpc = c.get("resourcesVpcConfig", {})
    ok = (
        mode == "API"
        and vpc.get("endpointPrivateAccess")
        and "0.0.0.0/0" not in vpc.get("publicAccessCidrs", ["0.0.0.0/0"])
    )
    return combine(
        static.subject,
        [
            static,
            Finding(
                bool(ok),
                "cluster access (EKS API)",
                "API, private on, public restricted",
                f"{mode}, public {vpc.get('publicAccessCidrs')}",
                grade=target.grade("aws"),
            ),
        ],
    )


def container_insights_live(target, env: Environment) -> Finding:
    static = container_insights(rendered(env, "eks"))
    try:
        a = client(target, "eks").describe_addon(
            clusterName=env.cluster_name, addonName="amazon-cloudwatch-observability"
        )["addon"]
        live = Finding(
            a["status"] == "ACTIVE",
            "Container Insights add-on (EKS API)",
            "ACTIVE",
            a["status"],
            grade=target.grade("aws"),
        )
    except botocore.exceptions.ClientError:
        live = _not_shown(target, "Container Insights add-on (EKS API)", "AWS::EKS::Addon")
    return combine(static.subject, [static, live])
