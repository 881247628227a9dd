"""Checks of the applied stacks as the target's AWS APIs show them, each beside its static twin.

A part the endpoint could not show (moto's CloudFormation skips EKS, alarms
and budgets; a refused read) is unverifiable, naming the target's gap and
the reason, never passed: the combined Finding is then unverifiable (or
failed, when the template is wrong). A part is passed only when it was read
and is right. The endpoint's answers are graded as the target grades its AWS
(emulated offline, real live).
"""

from __future__ import annotations

import botocore.exceptions

from ..config import Environment
from ..findings import Finding, combine, failed, unverifiable
from . import gaps as target_gaps
from .clients import client
from .monitoring_checks import budget_filter_problems, budget_template, cost_tag
from .stack_api import listed as _listed
from .stack_api import outputs as _outputs
from .template_checks import (
    access_and_endpoint,
    alarms_notify,
    container_insights,
    log_groups_retained,
    node_group_config,
    node_group_scales,
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
    except botocore.exceptions.ClientError as exc:
        if "NodeGroup" in listed:
            return failed(subject, "the node group", "listed by the stack but not shown by the EKS API", grade=g)
        gaps += target_gaps.named(target, "AWS::EKS::Nodegroup")
        if not gaps:  # no named gap: the node group should be there
            return could_not_read(target, subject, "the node group's subnets", exc)
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
        line = f"{s['SubnetId']} ({s['AvailabilityZone']}): {why or 'no internet gateway route'}"
        (problems if why else evidence).append(f"FAIL {line}" if why else line)
    static = node_subnets_private(rendered(env, "network"), rendered(env, "eks"))
    # Where the EKS API shows no node group (its gap), the subnets read are those the template gives it.
    shown = "the private subnets the template gives the node group" if gaps else "node subnets"
    live = Finding(
        not problems,
        f"{shown} as EC2 shows them",
        "no internet gateway route",
        "; ".join(p.removeprefix("FAIL ") for p in problems) or "private",
        tuple(problems + evidence),
        gaps,
        grade=g,
    )
    return combine(subject, [static, live])


NOT_FOUND = ("ResourceNotFoundException", "NotFoundException", "NotFound", "ResourceNotFound")
NOT_SHOWN = "not shown by this endpoint: {reason}"
# IAM's refusal, as each protocol names it (EC2: UnauthorizedOperation; SNS: AuthorizationError)
DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError")


def _reason(exc: Exception) -> tuple[str, str]:
    """(error code, first line of the message) of a failed call."""
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        return str(err.get("Code", "")), str(err.get("Message", "")).splitlines()[0][:200] if err.get("Message") else ""
    return type(exc).__name__, str(exc).splitlines()[0][:200] if str(exc) else ""


def not_shown(target, subject: str, expected: str, gap: str, reason: str = "") -> Finding:
    """The endpoint does not show this part (its named gap): unverifiable, never passed."""
    why = reason or "the endpoint ignores it"
    return unverifiable(subject, expected, NOT_SHOWN.format(reason=why), evidence=[f"{subject}: {why}"],
                        gaps=target_gaps.named(target, gap), grade=target.grade("aws"))


def could_not_read(target, subject: str, expected: str, exc: Exception, gap: str = "") -> Finding:
    """A read that failed: failed when the job's role is refused (AccessDenied) or when the endpoint says the
    thing is absent and names no gap for it (it should be there), else unverifiable with the reason and the gap."""
    code, message = _reason(exc)
    gaps = target_gaps.named(target, gap) if gap else ()
    if code in DENIED:   # the job's role lacks what the probe calls: a defect of the role, never a gap
        return failed(subject, expected, f"refused: {code}: {message}", evidence=[f"FAIL {subject}: {code}: {message}"],
                      grade=target.grade("aws"))
    if code in NOT_FOUND and not gaps:
        return failed(subject, expected, f"absent: {code}: {message}", evidence=[f"FAIL {subject}: {message}"],
                      grade=target.grade("aws"))
    return not_shown(target, subject, expected, gap, f"{code}: {message}")


def node_group_live(target, env: Environment, instance_type: str, desired: int) -> Finding:
    static = node_group_config(rendered(env, "eks"), instance_type, int(env["node_min"]), desired, int(env["node_max"]))
    try:
        ng = client(target, "eks").describe_nodegroup(clusterName=env.cluster_name, nodegroupName=env.node_group)[
            "nodegroup"
        ]
    except botocore.exceptions.ClientError as exc:
        part = could_not_read(target, "node group through the EKS API", f"{instance_type} x{desired}", exc,
                              "AWS::EKS::Nodegroup")
        return combine(static.subject, [static, part])
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


def node_group_scaling_live(target, env: Environment) -> Finding:
    """R2.4: the node group as the EKS API shows it has room to scale down (min < max, desired within)."""
    static = node_group_scales(rendered(env, "eks"))
    subject, want = "node group scaling (EKS API)", "min < max, min <= desired <= max"
    try:
        sc = client(target, "eks").describe_nodegroup(clusterName=env.cluster_name, nodegroupName=env.node_group)[
            "nodegroup"
        ]["scalingConfig"]
    except botocore.exceptions.ClientError as exc:
        return combine(static.subject, [static, could_not_read(target, subject, want, exc, "AWS::EKS::Nodegroup")])
    lo, n, hi = sc["minSize"], sc["desiredSize"], sc["maxSize"]
    ok = lo < hi and lo <= n <= hi
    live = Finding(ok, subject, want, f"min {lo} desired {n} max {hi}", grade=target.grade("aws"))
    return combine(static.subject, [static, live])


def kms_rotation(target, env: Environment) -> Finding:
    """The eks stack's secrets key as the KMS API shows it: rotation on."""
    g = target.grade("aws")
    subject, want = "secrets KMS key rotation (KMS API)", "rotation on"
    key = _listed(target, env, "eks").get("SecretsKey")
    if not key:
        return failed(subject, "a key created by the eks stack", "not listed (is it applied?)", grade=g)
    try:
        rotation = client(target, "kms").get_key_rotation_status(KeyId=key)["KeyRotationEnabled"]
    except botocore.exceptions.ClientError as exc:
        return could_not_read(target, subject, want, exc)
    return Finding(rotation, subject, want, "on" if rotation else "off", (key if rotation else f"FAIL {key}",),
                   grade=g)


def kms_live(target, env: Environment) -> Finding:
    g = target.grade("aws")
    static = secrets_encryption(rendered(env, "eks"))
    rotation = kms_rotation(target, env)
    key = _listed(target, env, "eks").get("SecretsKey", "")
    subject = "cluster encryptionConfig (EKS API)"
    try:
        c = client(target, "eks").describe_cluster(name=env.cluster_name)["cluster"]
    except botocore.exceptions.ClientError as exc:
        return combine(static.subject, [static, rotation, could_not_read(target, subject, key, exc,
                                                                         "AWS::EKS::Cluster")])
    arns = [
        e.get("provider", {}).get("keyArn", "")
        for e in c.get("encryptionConfig", [])
        if "secrets" in e.get("resources", [])
    ]
    live = Finding(bool(key) and any(key in a for a in arns), subject, key, ", ".join(arns) or "none", grade=g)
    return combine(static.subject, [static, rotation, live])


def kms_template_and_key(target, env: Environment) -> Finding:
    """The offline twin of kms_live: the template and the key as KMS shows it, not the cluster."""
    static = secrets_encryption(rendered(env, "eks"))
    return combine(f"{static.subject}; the key rotates (KMS API)", [static, kms_rotation(target, env)])


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
        try:
            shown = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        except botocore.exceptions.ClientError as exc:
            part = could_not_read(target, "log groups (CloudWatch Logs API)", "each with a retention", exc)
            return combine("log groups exist with retention", [static, part])
        got = [x for x in shown if x["logGroupName"] == name]
        days = got[0].get("retentionInDays") if got else None
        if days:
            evidence.append(f"{name}: {days} days")
        else:
            problems.append(f"FAIL {name}: {'no retention' if got else 'absent'}")
    live = Finding(
        not problems,
        "log groups (CloudWatch Logs API)",
        "each with a retention",
        "; ".join(p.removeprefix("FAIL ") for p in problems) or f"{len(listed)} retained",
        tuple(problems + evidence),
        grade=g,
    )
    return combine("log groups exist with retention", [static, live])


def alarms_live(target, env: Environment) -> Finding:
    mon = rendered(env, "monitoring")
    static = alarms_notify(mon)
    listed = _listed(target, env, "monitoring")
    alarm_ids = list(mon.resources("AWS::CloudWatch::Alarm"))
    subject = "alarms (CloudWatch API)"
    topic = listed.get("AlertTopic", "")
    want = f"{len(alarm_ids)} alarms -> {topic or 'the alert topic'}"
    if not any(a in listed for a in alarm_ids):
        part = _absent(target, subject, want, "AWS::CloudWatch::Alarm", "alarm", "monitoring")
        return combine(static.subject, [static, part])
    cw = client(target, "cloudwatch")
    names = [listed[a] for a in alarm_ids if a in listed]
    try:
        got = cw.describe_alarms(AlarmNames=names)["MetricAlarms"]
    except botocore.exceptions.ClientError as exc:
        return combine(static.subject, [static, could_not_read(target, subject, want, exc)])
    bad = [a["AlarmName"] for a in got if topic not in a.get("AlarmActions", [])]
    live = Finding(
        not bad and len(got) == len(names),
        subject,
        f"{len(names)} alarms -> {topic}",
        ", ".join(bad) or f"{len(got)} alarms notify the topic",
        grade=target.grade("aws"),
    )
    return combine(static.subject, [static, live])


def _absent(target, subject: str, want: str, resource_type: str, what: str, stack: str) -> Finding:
    """A resource the stack should list is not there: unverifiable where the endpoint ignores its type, else failed."""
    if target_gaps.named(target, resource_type):
        return not_shown(target, subject, want, resource_type, f"its CloudFormation created no {what}")
    return failed(subject, want, f"the {stack} stack lists no {what} (is it applied?)", grade=target.grade("aws"))


def budget_live(target, env: Environment) -> Finding:
    """R2.5: the budget of the environment's amount with thresholds to the alert topic."""
    outputs = _outputs(target, env, "monitoring")
    bud = rendered(env, "budget", {"AlertTopicArn": outputs.get("AlertTopicArn", "<monitoring output AlertTopicArn>")})
    static = budget_template(bud, env["budget_usd"], target_gaps.named(target, "AWS::Budgets::Budget"))
    listed = _listed(target, env, "budget")
    if "MonthlyBudget" not in listed:
        subject, want = "budget (Budgets API)", f"MONTHLY {env['budget_usd']} USD"
        part = _absent(target, subject, want, "AWS::Budgets::Budget", "budget", "budget")
        return combine(static.subject, [static, part])
    budgets = client(target, "budgets", attempts=1)
    account = client(target, "sts").get_caller_identity()["Account"]
    name = listed["MonthlyBudget"]
    return combine(
        static.subject,
        [
            static,
            budget_api(budgets, account, name, float(env["budget_usd"]), outputs.get("AlertTopicArn", ""), target,
                       cost_tag(env)),
        ],
    )


def budget_api(budgets, account: str, name: str, amount: float, topic: str, target=None, tag=None) -> Finding:
    """The budget as the Budgets API shows it (also run against moto's Budgets API in tests).

    Passed only when a threshold's SNS subscriber was read and is the alert topic; unverifiable when
    the limit is right but no subscriber could be read (moto has no DescribeSubscribersForNotification)."""
    subject = f"budget {name} (Budgets API)"
    want = f"MONTHLY {amount} USD, thresholds -> {topic}"
    g = target.grade("aws") if target is not None else ""
    try:
        b = budgets.describe_budget(AccountId=account, BudgetName=name)["Budget"]
    except botocore.exceptions.ClientError as exc:
        code, message = _reason(exc)
        if code in NOT_FOUND:
            return failed(subject, "exists", message, grade=g)
        return unverifiable(subject, want, NOT_SHOWN.format(reason=f"{code}: {message}"), grade=g)
    notes = budgets.describe_notifications_for_budget(AccountId=account, BudgetName=name).get("Notifications", [])
    to_topic, unseen, gaps = [], [], ()
    for n in notes:
        try:
            subs = budgets.describe_subscribers_for_notification(AccountId=account, BudgetName=name, Notification=n)[
                "Subscribers"
            ]
        except Exception as exc:  # noqa: BLE001 - moto answers the unimplemented call with a 500 page
            gaps = target_gaps.named(target, "budgets-subscribers")
            unseen.append(f"{n['NotificationType']} > {n['Threshold']}%: subscribers not shown "
                          f"({_reason(exc)[0]})")
            continue
        if any(s["SubscriptionType"] == "SNS" and s["Address"] == topic for s in subs):
            to_topic.append(f"{n['NotificationType']} > {n['Threshold']}%")
    limit = float(b["BudgetLimit"]["Amount"])
    unfiltered = budget_filter_problems(b, *tag) if tag else []  # the environment's tag, not the whole account
    right = b["TimeUnit"] == "MONTHLY" and limit == amount and not unfiltered
    actual = f"{b['TimeUnit']} {limit} {b['BudgetLimit']['Unit']}, {len(to_topic)} thresholds to the topic"
    evidence = tuple(to_topic + unseen)
    if not right:
        wrong = [f"FAIL {b['TimeUnit']} {limit}, not MONTHLY {amount}"] if not unfiltered else []
        return failed(subject, want, "; ".join([actual] + [u.removeprefix("FAIL ") for u in unfiltered]),
                      (*wrong, *unfiltered, *evidence), gaps, grade=g)
    if to_topic:
        return Finding(True, subject, want, actual, evidence, gaps, grade=g)
    if unseen:
        return unverifiable(subject, want, f"{actual}; {len(unseen)} thresholds' subscribers not shown here",
                            evidence, gaps, grade=g)
    return failed(subject, want, actual, ("FAIL no threshold notifies the topic", *evidence), gaps, grade=g)


def access_live(target, env: Environment) -> Finding:
    static = access_and_endpoint(rendered(env, "eks"))
    subject, want = "cluster access (EKS API)", "API, private on, public restricted"
    try:
        c = client(target, "eks").describe_cluster(name=env.cluster_name)["cluster"]
    except botocore.exceptions.ClientError as exc:
        return combine(static.subject, [static, could_not_read(target, subject, want, exc, "AWS::EKS::Cluster")])
    mode = c.get("accessConfig", {}).get("authenticationMode", "")
    vpc = c.get("resourcesVpcConfig", {})
    ok = (
        mode == "API"
        and vpc.get("endpointPrivateAccess")
        and "0.0.0.0/0" not in vpc.get("publicAccessCidrs", ["0.0.0.0/0"])
    )
    live = Finding(bool(ok), subject, want, f"{mode}, public {vpc.get('publicAccessCidrs')}",
                   grade=target.grade("aws"))
    return combine(static.subject, [static, live])


def container_insights_live(target, env: Environment) -> Finding:
    static = container_insights(rendered(env, "eks"))
    subject = "Container Insights add-on (EKS API)"
    try:
        a = client(target, "eks").describe_addon(
            clusterName=env.cluster_name, addonName="amazon-cloudwatch-observability"
        )["addon"]
        live = Finding(a["status"] == "ACTIVE", subject, "ACTIVE", a["status"], grade=target.grade("aws"))
    except botocore.exceptions.ClientError as exc:
        live = could_not_read(target, subject, "ACTIVE", exc, "AWS::EKS::Addon")
    return combine(static.subject, [static, live])
