"""Static checks of the monitoring and budget templates: alarms and budget thresholds to the alert topic,
its subscriber, the metrics the alarms watch, log groups (and which stack creates them first), the
dashboard, the budget's cost filter.

Pure predicates on the resolved template (cfn.resolve.Resolver), graded "static".
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml

from .. import config
from ..config import Environment
from ..findings import Finding, combine, failed, graded, passed
from . import alerts
from .cfn import load, parameters
from .cfn.resolve import Resolver, logical_id
from .iam_roles import json_doc
from .verdicts import verdict

METRICS_TABLE = Path(__file__).with_name("container-insights-metrics.yaml")
_SCHEMA = re.compile(r"FROM\s+SCHEMA\(\s*([^,)]+)((?:\s*,\s*[^,)]+)*)\s*\)", re.I)
_FUNCTION = re.compile(r"SELECT\s+\w+\(\s*([\w.]+)\s*\)", re.I)
_WHERE_KEYS = re.compile(r"(\w+)\s*(?:=|!=|IN\b|LIKE\b)", re.I)
# Log groups a service creates itself when they do not exist (and reuses when they do).
EKS_CONTROL_PLANE_GROUP = "/aws/eks/{cluster}/cluster"
CONTAINER_INSIGHTS_GROUPS = tuple(f"/aws/containerinsights/{{cluster}}/{kind}"
                                  for kind in ("application", "dataplane", "host", "performance"))

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
            alarm_metrics_published(mon),
            alert_subscription(mon, str((config.settings().get("alerts") or {}).get("email", ""))),
            log_groups_retained(mon, env.cluster_name),
            service_log_groups_first(env),
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
        # The environment's tag as the provisioner passes it (user:<key>$<value>), under the stacks' tag key.
        key, _ = parameters.cost_tag(Environment.named("dev"))
        value = str(budget.refs.get("CostTagKeyValue", "")).rpartition("$")[2]
        problems += [f.removeprefix("FAIL ") for f in budget_filter_problems(b["Properties"], key, value)]
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


@cache
def published_metrics(path: Path = METRICS_TABLE) -> dict:
    """The table of what Container Insights publishes: {namespace, source, metrics: name -> [dimension sets]}."""
    doc = yaml.safe_load(Path(path).read_text())
    return {**doc, "metrics": {m: [frozenset(s) for s in sets] for m, sets in doc["metrics"].items()}}


def _query_metric(expr: str) -> tuple[str, str, frozenset, frozenset] | None:
    """(namespace, metric, schema dimensions, WHERE keys) of a Metrics Insights query; None for other math."""
    schema, fn = _SCHEMA.search(expr), _FUNCTION.search(expr)
    if not schema or not fn:
        return None
    dims = frozenset(d.strip() for d in schema.group(2).split(",") if d.strip())
    where = expr.split("WHERE", 1)[1] if "WHERE" in expr.upper() else ""
    where = re.split(r"\b(GROUP|ORDER|LIMIT)\b", where, flags=re.I)[0]
    keys = frozenset(k for k in _WHERE_KEYS.findall(re.sub(r"'[^']*'", "''", where)) if k.upper() not in ("AND", "OR"))
    return schema.group(1).strip(), fn.group(1), dims, keys


def _alarm_series(props: dict) -> list[tuple[str, str, frozenset, frozenset, str]]:
    """Every metric an alarm reads: (namespace, metric, dimension names, filtered names, where it is written)."""
    if props.get("MetricName"):
        dims = frozenset(d.get("Name") for d in props.get("Dimensions") or [])
        return [(props.get("Namespace", ""), props["MetricName"], dims, dims, "MetricName")]
    out = []
    for m in props.get("Metrics") or []:
        stat = (m.get("MetricStat") or {}).get("Metric")
        if stat:
            dims = frozenset(d.get("Name") for d in stat.get("Dimensions") or [])
            out.append((stat.get("Namespace", ""), stat.get("MetricName", ""), dims, dims, f"Metrics[{m.get('Id')}]"))
        elif m.get("Expression"):
            q = _query_metric(str(m["Expression"]))
            if q:
                out.append((*q, f"Metrics[{m.get('Id')}] query"))
    return out


@graded("static")
def alarm_metrics_published(monitoring: Resolver, table: dict | None = None) -> Finding:
    """Every alarm on a Container Insights metric reads it with a dimension set Container Insights publishes."""
    table = table or published_metrics()
    known, ns = table["metrics"], table["namespace"]
    problems, evidence = [], []
    for lid, a in monitoring.resources("AWS::CloudWatch::Alarm").items():
        series = _alarm_series(a["Properties"])
        if not series:
            problems.append(f"FAIL {lid}: no metric or Metrics Insights query read")
        for namespace, metric, dims, filtered, where in series:
            if namespace != ns:
                evidence.append(f"{lid}: {namespace}/{metric} (not Container Insights)")
                continue
            shown = "{" + ", ".join(sorted(dims)) + "}"
            if metric not in known:
                problems.append(f"FAIL {lid}: {metric} is not published by Container Insights")
            elif dims not in known[metric]:
                sets = " or ".join("{" + ", ".join(sorted(s)) + "}" for s in known[metric])
                problems.append(f"FAIL {lid}: {metric} is not published with {shown} ({where}); published with {sets}")
            elif not filtered <= dims:
                problems.append(f"FAIL {lid}: {metric} filtered on {sorted(filtered - dims)}, not in {shown}")
            else:
                evidence.append(f"{lid}: {metric} {shown} ({where})")
    return Finding(not problems, "alarms watch metrics Container Insights publishes (template)",
                   f"each alarm's metric and dimensions in the table of {table['source']}",
                   "; ".join(p.removeprefix("FAIL ") for p in problems) or f"{len(evidence)} metrics published",
                   tuple(problems + evidence))


def service_groups(r: Resolver) -> dict[str, str]:
    """Log group name -> the resource (logical id) of this template that makes a service create it."""
    from .template_checks import CONTAINER_INSIGHTS

    out = {}
    for lid, c in r.resources("AWS::EKS::Cluster").items():
        if ((c["Properties"].get("Logging") or {}).get("ClusterLogging") or {}).get("EnabledTypes"):
            out[EKS_CONTROL_PLANE_GROUP.format(cluster=c["Properties"].get("Name"))] = f"{lid} (EKS control-plane logs)"
    for lid, a in r.resources("AWS::EKS::Addon").items():
        if a["Properties"].get("AddonName") == CONTAINER_INSIGHTS:
            for g in CONTAINER_INSIGHTS_GROUPS:
                out[g.format(cluster=a["Properties"].get("ClusterName"))] = f"{lid} ({CONTAINER_INSIGHTS} add-on)"
    return out


@graded("static")
def service_log_groups_first(env: Environment, order: list[str] | None = None) -> Finding:
    """A log group that EKS or the Container Insights add-on creates on its own is created by a stack
    applied BEFORE the stack of that service (stack order: load.STACKS); else CloudFormation's create
    fails with "already exists" (or, in the same stack, races the service)."""
    order = [s for s in (order or load.STACKS) if load.path(s, env.template_dir).exists()]
    rendered = {s: parameters.rendered(s, env) for s in order}
    made_by = {}  # group -> (stack, resource) of the service that creates it
    for s in order:
        for g, what in service_groups(rendered[s]).items():
            made_by[g] = (s, what)
    problems, evidence = [], []
    for s in order:
        for lid, lg in rendered[s].resources("AWS::Logs::LogGroup").items():
            name = lg["Properties"].get("LogGroupName")
            if name not in made_by:
                continue
            svc_stack, what = made_by[name]
            line = f"{name}: stack {s} ({lid}), service {what} in stack {svc_stack}"
            if order.index(s) >= order.index(svc_stack):
                problems.append(f"FAIL {line}: created {'with' if s == svc_stack else 'after'} the service, "
                                "which creates it itself first (\"already exists\")")
            else:
                evidence.append(line + ": created first, the service reuses it")
    return Finding(not problems, "log groups a service creates itself are created before it (templates, stack order)",
                   "each such log group in a stack applied before the service's stack",
                   "; ".join(p.removeprefix("FAIL ") for p in problems) or f"{len(evidence)} groups first",
                   tuple(problems + evidence + [f"stack order: {', '.join(order)}"]))


@graded("static")
def alert_subscription(monitoring: Resolver, email: str) -> Finding:
    """The alert topic has an e-mail subscription to the team's address of settings, not a placeholder."""
    topics = set(monitoring.resources("AWS::SNS::Topic"))
    subs = [s["Properties"] for s in monitoring.resources("AWS::SNS::Subscription").values()]
    inline = [s for t in monitoring.resources("AWS::SNS::Topic").values()
              for s in t["Properties"].get("Subscription") or []]
    to_topic = [s for s in subs if logical_id(s.get("TopicArn")) in topics] + inline
    problems = []
    why = alerts.placeholder_reason(email)
    if why:
        problems.append(f"FAIL alerts.email {email!r} is {why}")
    mails = [s.get("Endpoint") for s in to_topic if s.get("Protocol") == "email"]
    if not to_topic:
        problems.append("FAIL the alert topic has no subscriber: every alarm notifies nobody")
    elif email not in mails:
        problems.append(f"FAIL no e-mail subscription to {email} (subscribers: {', '.join(map(str, mails)) or 'none'})")
    return Finding(not problems, "the alert topic notifies the team (template)",
                   f"an e-mail subscription of the alert topic to {email}",
                   "; ".join(p.removeprefix("FAIL ") for p in problems) or f"e-mail to {email}",
                   tuple(problems) or tuple(f"subscriber: {m}" for m in mails))


def cost_tag(env: Environment) -> tuple[str, str]:
    """The environment's cost allocation tag (key, value): the tag every stack carries (stacks._tags)."""
    return parameters.cost_tag(env)


def budget_filter_problems(budget_props: dict, key: str, value: str) -> list[str]:
    """Why a budget does not count only the environment's tagged cost ([] when it does). Pure.

    Budgets take the tag as CostFilters {"TagKeyValue": ["user:<key>$<value>"]} or as
    FilterExpression {"Tags": {"Key": "user:<key>", "Values": [value]}}."""
    spec = budget_props.get("Budget", budget_props)
    legacy = (spec.get("CostFilters") or {}).get("TagKeyValue") or []
    expr = (spec.get("FilterExpression") or {}).get("Tags") or {}
    if f"user:{key}${value}" in legacy or (expr.get("Key") in (key, f"user:{key}") and expr.get("Values") == [value]):
        return []
    shown = spec.get("CostFilters") or spec.get("FilterExpression") or "none: the whole account"
    return [f"FAIL cost filter {shown}, not the tag {key}={value}"]
