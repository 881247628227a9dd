"""Static checks of the monitoring and budget templates: alarms and budget thresholds to the alert topic,
log groups, the dashboard.

Pure predicates on the resolved template (cfn.resolve.Resolver), graded "static".
"""

from __future__ import annotations

from .. import config
from ..config import Environment
from ..findings import Finding, combine, failed, graded, passed
from .cfn import parameters
from .cfn.resolve import Resolver, logical_id
from .iam_roles import json_doc
from .verdicts import verdict

DASHBOARD_METRICS = {
    "cpu": "cpu_utilization",
    "memory": "memory_utilization",
    "disk": "filesystem_utilization",
    "network": "network",
}


def app_namespace() -> str:
    return config.settings()["kubernetes"]["namespace"]


@graded("static")
def alarms_notify(monitoring: Resolver) -> Finding:
    res = monitoring.resources()
    topics = {lid for lid, r in res.items() if r["Type"] == "AWS::SNS::Topic"}
    alarms = {lid: r for lid, r in res.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    problems, evidence = [], []
    for lid, a in alarms.items():
        actions = {logical_id(x) for x in a["Properties"].get("AlarmActions") or []}
        if not actions & topics:
            problems.append(f"{lid}: no AlarmActions to the alert topic")
        else:
            evidence.append(f"{lid}: AlarmActions -> {', '.join(sorted(actions & topics))}")
    if not alarms:
        problems.append("no AWS::CloudWatch::Alarm")
    return verdict("critical alarms notify the alert topic (template)", "AlarmActions to the SNS topic on every alarm",
                   problems, evidence, f"{len(alarms)} alarms")


@graded("static")
def log_groups_retained(monitoring: Resolver, cluster: str) -> Finding:
    groups = {
        r["Properties"].get("LogGroupName"): r["Properties"].get("RetentionInDays")
        for r in monitoring.resources("AWS::Logs::LogGroup").values()
    }
    want = {f"/aws/eks/{cluster}/cluster", f"/aws/containerinsights/{cluster}/application"}
    problems = [f"{n}: no log group" for n in sorted(want - set(groups))]
    problems += [f"{n}: no RetentionInDays" for n, d in groups.items() if not d]
    return Finding(
        not problems,
        "log groups with retention (template)",
        "control-plane and application groups, each with RetentionInDays",
        "; ".join(problems) or f"{len(groups)} groups",
        tuple([f"FAIL {p}" for p in problems] + [f"{n}: {d} days" for n, d in groups.items() if d]),
    )


def dashboard(monitoring: Resolver) -> tuple[dict, Finding]:
    boards = monitoring.resources("AWS::CloudWatch::Dashboard")
    if not boards:
        return {}, failed("dashboard (template)", "a CloudWatch dashboard", "none")
    body = json_doc(next(iter(boards.values()))["Properties"]["DashboardBody"])
    return body, passed("dashboard (template)", "a CloudWatch dashboard", "present")


@graded("static")
def dashboard_tracks(monitoring: Resolver) -> Finding:
    body, found = dashboard(monitoring)
    if not found.ok:
        return found
    text = {k: False for k in DASHBOARD_METRICS}
    for w in body.get("widgets", []):
        if w.get("type") != "metric":
            continue
        names = " ".join(str(m) for m in w.get("properties", {}).get("metrics", []))
        for k, metric in DASHBOARD_METRICS.items():
            text[k] = text[k] or metric in names
    missing = [k for k, v in text.items() if not v]
    tracked = ", ".join(k for k, v in text.items() if v) or "nothing"
    return Finding(
        not missing,
        "dashboard tracks cpu, memory, disk and network (template)",
        ", ".join(DASHBOARD_METRICS),
        f"{tracked}; no {', '.join(missing)} widget" if missing else tracked,
        tuple(f"FAIL no {k} widget ({DASHBOARD_METRICS[k]} metric)" for k in missing),
    )


@graded("static")
def dashboard_links(monitoring: Resolver, cluster: str, namespace: str) -> Finding:
    body, found = dashboard(monitoring)
    if not found.ok:
        return found
    alarm_names = {r["Properties"].get("AlarmName") for r in monitoring.resources("AWS::CloudWatch::Alarm").values()}
    shown = set()
    queries = []
    for w in body.get("widgets", []):
        p = w.get("properties", {})
        if w.get("type") == "alarm":
            shown |= {a.rsplit(":alarm:", 1)[-1] for a in p.get("alarms", [])}
        if w.get("type") == "log":
            queries.append(p.get("query", ""))
    problems = [f"alarm {a} not on the dashboard" for a in sorted(alarm_names - shown)]
    app_group = f"/aws/containerinsights/{cluster}/application"
    if not any(app_group in q and namespace in q for q in queries):
        problems.append(f"no log widget on {app_group} for namespace {namespace}")
    return Finding(
        not problems,
        "dashboard leads from the alarms to the workloads' logs (template)",
        "every alarm and a log widget of the app namespace",
        "; ".join(problems) or "ok",
        tuple([f"FAIL {p}" for p in problems] + [f"log query: {q[:120]}" for q in queries]),
    )


def monitoring_check(env: Environment) -> Finding:
    try:
        mon = parameters.rendered("monitoring", env)
    except Exception as exc:  # noqa: BLE001
        return failed("the monitoring template", "it loads", str(exc), evidence=[f"template: {exc}"], grade="static")
    return combine(
        "the monitoring template",
        [
            alarms_notify(mon),
            log_groups_retained(mon, env.cluster_name),
            dashboard_tracks(mon),
            dashboard_links(mon, env.cluster_name, app_namespace()),
        ],
    )


@graded("static")
def budget_template(budget: Resolver, amount: float, gaps=()) -> Finding:
    problems, evidence = [], []
    items = budget.resources("AWS::Budgets::Budget")
    if not items:
        return failed("monthly budget (template)", "an AWS::Budgets::Budget", "none")
    for lid, b in items.items():
        spec = b["Properties"].get("Budget", {})
        limit = spec.get("BudgetLimit", {})
        if spec.get("TimeUnit") != "MONTHLY" or spec.get("BudgetType") != "COST":
            problems.append(f"{lid}: {spec.get('TimeUnit')} {spec.get('BudgetType')}, not MONTHLY COST")
        if float(limit.get("Amount", -1)) != float(amount) or limit.get("Unit") != "USD":
            problems.append(f"{lid}: limit {limit.get('Amount')} {limit.get('Unit')}, not {amount} USD")
        notes = b["Properties"].get("NotificationsWithSubscribers") or []
        to_topic = [
            n
            for n in notes
            if any(
                s.get("SubscriptionType") == "SNS" and s.get("Address") == budget.refs.get("AlertTopicArn")
                for s in n.get("Subscribers", [])
            )
        ]
        if not to_topic:
            problems.append(f"{lid}: no threshold notifies the alert topic")
        evidence += [
            f"{lid}: {n['Notification'].get('NotificationType')} > {n['Notification'].get('Threshold')}% -> SNS"
            for n in to_topic
        ]
    return Finding(
        not problems,
        "monthly budget with thresholds to the alert topic (template)",
        f"MONTHLY COST {amount} USD, thresholds -> alert topic",
        "; ".join(problems) or f"{len(evidence)} thresholds",
        tuple(problems + evidence),
        tuple(gaps),
    )
