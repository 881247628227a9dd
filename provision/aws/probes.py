"""Read-only checks of the infrastructure: the templates (static) and what the
AWS endpoint shows of the applied stacks.

Static predicates take resolved templates (templates.Resolver) and are pure;
the probes add what the endpoint shows. Where the endpoint ignored a resource
(moto's CloudFormation skips EKS, alarms, budgets), the stack does not list it
and the Finding names the gap: that part was checked statically only.
"""
from __future__ import annotations

import json

import botocore.exceptions

from ..findings import Finding, combine, failed, passed
from ..local.moto_server import GAPS
from . import stacks as stacks_mod
from . import templates
from .templates import Resolver

SUBSCRIBERS_GAP = GAPS["budgets-subscribers"]
CONTROL_PLANE_LOGS = {"api", "audit", "authenticator", "controllerManager", "scheduler"}
REQUIRED_ADDONS = {"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", "amazon-cloudwatch-observability"}
DASHBOARD_METRICS = {"cpu": "cpu_utilization", "memory": "memory_utilization",
                     "disk": "filesystem_utilization", "network": "network"}


def _logical(value) -> str:
    """'<Logical>' or '<Logical.Attr>' (a resolved reference) -> 'Logical'."""
    if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
        return value[1:-1].split(".")[0]
    return ""


def rendered(env, stack: str, outputs: dict | None = None) -> Resolver:
    return templates.rendered(stack, env.settings, env.template_dir, outputs)


# -- static predicates ----------------------------------------------------------

def public_subnets(network: Resolver) -> dict[str, str]:
    """Subnet logical id -> why it is public (a route to an internet gateway, public IPs)."""
    res = network.resources()
    igws = {lid for lid, r in res.items() if r["Type"] == "AWS::EC2::InternetGateway"}
    public_tables = {_logical(r["Properties"].get("RouteTableId")) for r in res.values()
                     if r["Type"] == "AWS::EC2::Route" and _logical(r["Properties"].get("GatewayId")) in igws}
    out = {}
    for r in res.values():
        if r["Type"] == "AWS::EC2::SubnetRouteTableAssociation" and _logical(r["Properties"].get("RouteTableId")) in public_tables:
            out[_logical(r["Properties"]["SubnetId"])] = f"route table {_logical(r['Properties']['RouteTableId'])} routes to an internet gateway"
    for lid, r in res.items():
        if r["Type"] == "AWS::EC2::Subnet" and r["Properties"].get("MapPublicIpOnLaunch") in (True, "true"):
            out.setdefault(lid, "MapPublicIpOnLaunch is on")
    return out


def node_subnets_private(network: Resolver, eks: Resolver) -> Finding:
    subject = "node group only in private subnets (templates)"
    groups = eks.resources("AWS::EKS::Nodegroup")
    if not groups:
        return failed(subject, "a managed node group", "none in eks.yaml")
    problems, evidence = [], []
    net_outputs = network.t.get("Outputs", {})
    for lid, ng in groups.items():
        raw = eks.t["Resources"][lid]["Properties"].get("Subnets")
        param = raw.get("Ref") if isinstance(raw, dict) else None
        if param not in templates.FROM_OUTPUTS or param not in net_outputs:
            problems.append(f"{lid}.Subnets is not a network stack output of private subnets: {raw}")
            continue
        listed = _refs_in(net_outputs[param]["Value"])
        public = public_subnets(network)
        for subnet in listed:
            if subnet in public:
                problems.append(f"{lid} uses {subnet} (output {param}): {public[subnet]}; nodes belong in private subnets")
            else:
                evidence.append(f"{lid} uses {subnet}: no route to an internet gateway")
    if problems:
        return failed(subject, "private subnets only", "; ".join(problems), evidence=problems + evidence)
    return passed(subject, "private subnets only", f"{len(evidence)} private subnets", evidence)


def _refs_in(node) -> list[str]:
    return list(templates._refs(node))


def secrets_encryption(eks: Resolver) -> Finding:
    subject = "EKS secrets envelope-encrypted with a rotating KMS key (template)"
    res = eks.resources()
    clusters = {k: v for k, v in res.items() if v["Type"] == "AWS::EKS::Cluster"}
    problems, evidence = [], []
    for lid, c in clusters.items():
        configs = c["Properties"].get("EncryptionConfig") or []
        enc = [e for e in configs if "secrets" in (e.get("Resources") or [])]
        if not enc:
            problems.append(f"{lid}: no EncryptionConfig for secrets")
            continue
        key = _logical(enc[0].get("Provider", {}).get("KeyArn"))
        k = res.get(key)
        if not k or k["Type"] != "AWS::KMS::Key":
            problems.append(f"{lid}: EncryptionConfig key {enc[0].get('Provider')} is not a KMS key of the stack")
        elif k["Properties"].get("EnableKeyRotation") not in (True, "true"):
            problems.append(f"{key}: EnableKeyRotation is not on")
        else:
            evidence.append(f"{lid}: secrets encrypted with {key}, rotation on")
    if not clusters:
        problems.append("no AWS::EKS::Cluster")
    return Finding(not problems, subject, "EncryptionConfig(secrets) with a KMS key, EnableKeyRotation true",
                   "; ".join(problems) or "ok", tuple(problems + evidence))


def node_group_config(eks: Resolver, instance_type: str, nmin: int, desired: int, nmax: int) -> Finding:
    subject = f"node group {instance_type}, {nmin}/{desired}/{nmax} nodes (template)"
    want = f"{instance_type}, min {nmin} desired {desired} max {nmax}"
    groups = eks.resources("AWS::EKS::Nodegroup")
    if not groups:
        return failed(subject, want, "no AWS::EKS::Nodegroup")
    got = []
    ok = True
    for lid, ng in groups.items():
        p = ng["Properties"]
        sc = p.get("ScalingConfig", {})
        types = p.get("InstanceTypes") or []
        counts = (int(sc.get("MinSize", -1)), int(sc.get("DesiredSize", -1)), int(sc.get("MaxSize", -1)))
        got.append(f"{lid}: {', '.join(types) or '-'}, min {counts[0]} desired {counts[1]} max {counts[2]}")
        ok = ok and types == [instance_type] and counts == (nmin, desired, nmax) and nmin <= desired <= nmax
    return Finding(ok, subject, want, "; ".join(got), tuple(got))


def control_plane_logging(eks: Resolver) -> Finding:
    got = set()
    for c in eks.resources("AWS::EKS::Cluster").values():
        types = c["Properties"].get("Logging", {}).get("ClusterLogging", {}).get("EnabledTypes", [])
        got |= {t.get("Type") for t in types}
    missing = CONTROL_PLANE_LOGS - got
    return Finding(not missing, "EKS control-plane logging (template)", ", ".join(sorted(CONTROL_PLANE_LOGS)),
                   ", ".join(sorted(got)) or "none", tuple(f"missing {m}" for m in sorted(missing)))


def access_and_endpoint(eks: Resolver) -> Finding:
    problems, evidence = [], []
    for lid, c in eks.resources("AWS::EKS::Cluster").items():
        p = c["Properties"]
        mode = p.get("AccessConfig", {}).get("AuthenticationMode", "CONFIG_MAP")
        (evidence if mode == "API" else problems).append(f"{lid}: AccessConfig.AuthenticationMode {mode}")
        vpc = p.get("ResourcesVpcConfig", {})
        if vpc.get("EndpointPrivateAccess") not in (True, "true"):
            problems.append(f"{lid}: EndpointPrivateAccess is off")
        if vpc.get("EndpointPublicAccess", True) in (True, "true"):
            cidrs = vpc.get("PublicAccessCidrs") or ["0.0.0.0/0"]
            if "0.0.0.0/0" in cidrs:
                problems.append(f"{lid}: public endpoint open to 0.0.0.0/0")
            else:
                evidence.append(f"{lid}: public endpoint restricted to {', '.join(cidrs)}")
    entries = {str(e["Properties"].get("PrincipalArn")): e["Properties"] for e in eks.resources("AWS::EKS::AccessEntry").values()}
    for kind in ("deploy", "verify"):
        if not any(arn.endswith(f"-github-{kind}") for arn in entries):
            problems.append(f"no access entry for the GitHub {kind} role")
    for arn, props in entries.items():
        for pol in props.get("AccessPolicies", []):
            name = str(pol.get("PolicyArn", "")).rsplit("/", 1)[-1]
            scope = pol.get("AccessScope", {}).get("Type")
            if name == "AmazonEKSClusterAdminPolicy" or (name != "AmazonEKSViewPolicy" and scope == "cluster"):
                problems.append(f"access entry {arn}: {name} on scope {scope} is more than a deploy or a read needs")
            else:
                evidence.append(f"access entry {arn}: {name} ({scope})")
    return Finding(not problems, "cluster access through IAM access entries, no open public endpoint (template)",
                   "AuthenticationMode API, private endpoint on, public endpoint restricted",
                   "; ".join(problems) or "ok", tuple(problems + evidence))


def addons(eks: Resolver) -> dict[str, dict]:
    return {a["Properties"].get("AddonName"): a["Properties"] for a in eks.resources("AWS::EKS::Addon").values()}


def network_policy_enforced(eks: Resolver) -> Finding:
    cni = addons(eks).get("vpc-cni")
    values = {}
    if cni and cni.get("ConfigurationValues"):
        try:
            values = json.loads(cni["ConfigurationValues"])
        except (TypeError, ValueError):
            values = {}
    ok = str(values.get("enableNetworkPolicy", "")).lower() == "true"
    return Finding(ok, "vpc-cni enforces NetworkPolicies (template)", 'ConfigurationValues enableNetworkPolicy "true"',
                   json.dumps(values) if cni else "no vpc-cni add-on")


def required_addons(eks: Resolver) -> Finding:
    got = set(addons(eks))
    missing = REQUIRED_ADDONS - got
    return Finding(not missing, "EKS add-ons (template)", ", ".join(sorted(REQUIRED_ADDONS)), ", ".join(sorted(got)),
                   tuple(f"missing {m}" for m in sorted(missing)))


def container_insights(eks: Resolver) -> Finding:
    ok = "amazon-cloudwatch-observability" in addons(eks)
    return Finding(ok, "Container Insights add-on (template)", "amazon-cloudwatch-observability add-on",
                   "present" if ok else "absent")


def irsa_trust(irsa: Resolver, namespace: str) -> Finding:
    """Each IRSA role trusts exactly one service account through the cluster's OIDC provider."""
    res = irsa.resources()
    providers = {lid for lid, r in res.items() if r["Type"] == "AWS::IAM::OIDCProvider"}
    problems, evidence, subjects = [], [], {}
    for lid, r in res.items():
        if r["Type"] != "AWS::IAM::Role":
            continue
        doc = templates.json_doc(r["Properties"].get("AssumeRolePolicyDocument"))
        stmts = doc.get("Statement", [])
        stmts = stmts if isinstance(stmts, list) else [stmts]
        for st in stmts:
            fed = (st.get("Principal") or {}).get("Federated", "")
            prov = fed[2:-1] if isinstance(fed, str) and fed.startswith("${") else _logical(fed)
            cond = st.get("Condition", {})
            eq = cond.get("StringEquals", {})
            subs = [v for k, v in eq.items() if k.endswith(":sub")]
            auds = [v for k, v in eq.items() if k.endswith(":aud")]
            if st.get("Effect") != "Allow":
                continue
            if prov not in providers:
                problems.append(f"{lid}: trusts {fed}, not the cluster's OIDC provider")
            if st.get("Action") != "sts:AssumeRoleWithWebIdentity":
                problems.append(f"{lid}: action {st.get('Action')}")
            if set(cond) - {"StringEquals"}:
                problems.append(f"{lid}: condition operators {sorted(set(cond) - {'StringEquals'})} (only StringEquals allowed)")
            if len(subs) != 1 or not isinstance(subs[0], str) or any(ch in subs[0] for ch in "*?") \
                    or not subs[0].startswith("system:serviceaccount:"):
                problems.append(f"{lid}: sub condition {subs or 'missing'} is not exactly one service account")
            else:
                subjects[lid] = subs[0]
                evidence.append(f"{lid}: {subs[0]}")
            if auds != ["sts.amazonaws.com"]:
                problems.append(f"{lid}: aud condition {auds or 'missing'}")
    dupes = {s for s in subjects.values() if list(subjects.values()).count(s) > 1}
    problems += [f"service account {s} is trusted by several roles" for s in sorted(dupes)]
    if not subjects:
        problems.append("no IRSA role")
    api = [s for s in subjects.values() if "api-backend" in s]
    if api and not api[0].startswith(f"system:serviceaccount:{namespace}:"):
        problems.append(f"api-backend role trusts {api[0]}, not namespace {namespace}")
    return Finding(not problems, "IRSA roles trust only their own service account (template)",
                   "one exact service account per role, via the cluster OIDC provider, aud sts.amazonaws.com",
                   "; ".join(problems) or f"{len(subjects)} roles", tuple(problems + evidence), (GAPS["AWS::IAM::OIDCProvider"],))


def alarms_notify(monitoring: Resolver) -> Finding:
    res = monitoring.resources()
    topics = {lid for lid, r in res.items() if r["Type"] == "AWS::SNS::Topic"}
    alarms = {lid: r for lid, r in res.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    problems, evidence = [], []
    for lid, a in alarms.items():
        actions = {_logical(x) for x in a["Properties"].get("AlarmActions") or []}
        if not actions & topics:
            problems.append(f"{lid}: no AlarmActions to the alert topic")
        else:
            evidence.append(f"{lid}: AlarmActions -> {', '.join(sorted(actions & topics))}")
    if not alarms:
        problems.append("no AWS::CloudWatch::Alarm")
    return Finding(not problems, "critical alarms notify the alert topic (template)", "AlarmActions to the SNS topic on every alarm",
                   "; ".join(problems) or f"{len(alarms)} alarms", tuple(problems + evidence))


def log_groups_retained(monitoring: Resolver, cluster: str) -> Finding:
    groups = {r["Properties"].get("LogGroupName"): r["Properties"].get("RetentionInDays")
              for r in monitoring.resources("AWS::Logs::LogGroup").values()}
    want = {f"/aws/eks/{cluster}/cluster", f"/aws/containerinsights/{cluster}/application"}
    problems = [f"{n}: no log group" for n in sorted(want - set(groups))]
    problems += [f"{n}: no RetentionInDays" for n, d in groups.items() if not d]
    return Finding(not problems, "log groups with retention (template)", "control-plane and application groups, each with RetentionInDays",
                   "; ".join(problems) or f"{len(groups)} groups", tuple(problems + [f"{n}: {d} days" for n, d in groups.items()]))


def dashboard(monitoring: Resolver) -> tuple[dict, Finding]:
    boards = monitoring.resources("AWS::CloudWatch::Dashboard")
    if not boards:
        return {}, failed("dashboard (template)", "a CloudWatch dashboard", "none")
    body = templates.json_doc(next(iter(boards.values()))["Properties"]["DashboardBody"])
    return body, passed("dashboard (template)", "a CloudWatch dashboard", "present")


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
    return Finding(not missing, "dashboard tracks cpu, memory, disk and network (template)", ", ".join(DASHBOARD_METRICS),
                   ", ".join(k for k, v in text.items() if v), tuple(f"no {k} widget" for k in missing))


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
    return Finding(not problems, "dashboard leads from the alarms to the workloads' logs (template)",
                   "every alarm and a log widget of the app namespace", "; ".join(problems) or "ok",
                   tuple(problems + [f"log query: {q[:120]}" for q in queries]))


def budget_template(budget: Resolver, amount: float) -> Finding:
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
        to_topic = [n for n in notes if any(s.get("SubscriptionType") == "SNS" and s.get("Address") == budget.refs.get("AlertTopicArn")
                                            for s in n.get("Subscribers", []))]
        if not to_topic:
            problems.append(f"{lid}: no threshold notifies the alert topic")
        evidence += [f"{lid}: {n['Notification'].get('NotificationType')} > {n['Notification'].get('Threshold')}% -> SNS" for n in to_topic]
    return Finding(not problems, "monthly budget with thresholds to the alert topic (template)",
                   f"MONTHLY COST {amount} USD, thresholds -> alert topic", "; ".join(problems) or f"{len(evidence)} thresholds",
                   tuple(problems + evidence), (GAPS["AWS::Budgets::Budget"],))


def template_check(env) -> Finding:
    """Every static check of the environment's templates; a template that does not load fails it."""
    s = env.settings
    try:
        net, eks, mon = rendered(env, "network"), rendered(env, "eks"), rendered(env, "monitoring")
        irsa, bud = rendered(env, "irsa"), rendered(env, "budget")
    except Exception as exc:  # noqa: BLE001 - a template that does not load is the finding
        return failed("the CloudFormation templates", "every template loads", str(exc), evidence=[f"template: {exc}"])
    from ..config import settings
    return combine("the CloudFormation templates", [
        node_subnets_private(net, eks), secrets_encryption(eks),
        node_group_config(eks, s["node_instance_type"], s["node_min"], s["node_desired"], s["node_max"]),
        control_plane_logging(eks), access_and_endpoint(eks), network_policy_enforced(eks), required_addons(eks),
        irsa_trust(irsa, settings()["kubernetes"]["namespace"]), alarms_notify(mon),
        log_groups_retained(mon, s["cluster_name"]), budget_template(bud, s["budget_usd"]),
    ])


def monitoring_check(env) -> Finding:
    from ..config import settings
    try:
        mon = rendered(env, "monitoring")
    except Exception as exc:  # noqa: BLE001
        return failed("the monitoring template", "it loads", str(exc), evidence=[f"template: {exc}"])
    ns = settings()["kubernetes"]["namespace"]
    return combine("the monitoring template", [alarms_notify(mon), log_groups_retained(mon, env.settings["cluster_name"]),
                                               dashboard_tracks(mon), dashboard_links(mon, env.settings["cluster_name"], ns)])


# -- what the endpoint shows ----------------------------------------------------

def _listed(target, env, stack: str) -> dict[str, str]:
    cf = stacks_mod.client(target, "cloudformation")
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in stacks_mod._resources(cf, env.stack_name(stack))}


def _outputs(target, env, stack: str) -> dict[str, str]:
    cf = stacks_mod.client(target, "cloudformation")
    doc = templates.load(templates.path(stack, env.template_dir))
    return stacks_mod.stack_outputs(cf, env.stack_name(stack), doc, env, {})


def route_public(route_tables: list[dict], subnet_id: str, vpc_main: dict | None = None) -> str:
    """Why a subnet is public from EC2's route tables ('' if it is private). Pure."""
    table = next((t for t in route_tables if any(a.get("SubnetId") == subnet_id for a in t.get("Associations", []))), vpc_main)
    if table is None:
        return ""
    for r in table.get("Routes", []):
        if str(r.get("GatewayId", "")).startswith("igw-") and r.get("State", "active") == "active":
            return f"{table['RouteTableId']} routes {r.get('DestinationCidrBlock')} to {r['GatewayId']}"
    return ""


def node_subnets_live(target, env) -> Finding:
    subject = "node group only in subnets without a route to an internet gateway"
    listed = _listed(target, env, "eks")
    gaps = []
    try:
        ng = stacks_mod.client(target, "eks").describe_nodegroup(
            clusterName=env.settings["cluster_name"], nodegroupName=f"{env.settings['cluster_name']}-nodes")["nodegroup"]
        subnets = ng["subnets"]
    except botocore.exceptions.ClientError:
        if "NodeGroup" in listed:
            return failed(subject, "the node group", "listed by the stack but not shown by the EKS API")
        gaps.append(GAPS["AWS::EKS::Nodegroup"])
        subnets = [s for s in _outputs(target, env, "network").get("PrivateSubnetIds", "").split(",") if s]
    if not subnets:
        return failed(subject, "subnets of the node group", "none found (is the network stack applied?)", gaps=gaps)
    ec2 = stacks_mod.client(target, "ec2")
    infos = ec2.describe_subnets(SubnetIds=subnets)["Subnets"]
    vpc = infos[0]["VpcId"]
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    main = next((t for t in tables if any(a.get("Main") for a in t.get("Associations", []))), None)
    problems, evidence = [], []
    for s in infos:
        why = route_public(tables, s["SubnetId"], main)
        if s.get("MapPublicIpOnLaunch"):
            why = why or "MapPublicIpOnLaunch is on"
        (problems if why else evidence).append(f"{s['SubnetId']} ({s['AvailabilityZone']}): {why or 'no internet gateway route'}")
    static = node_subnets_private(rendered(env, "network"), rendered(env, "eks"))
    live = Finding(not problems, "node subnets as EC2 shows them", "no internet gateway route", "; ".join(problems) or "private",
                   tuple(problems + evidence), tuple(gaps))
    return combine(subject, [static, live])


def node_group_live(target, env, instance_type: str, desired: int) -> Finding:
    s = env.settings
    static = node_group_config(rendered(env, "eks"), instance_type, int(s["node_min"]), desired, int(s["node_max"]))
    try:
        ng = stacks_mod.client(target, "eks").describe_nodegroup(
            clusterName=s["cluster_name"], nodegroupName=f"{s['cluster_name']}-nodes")["nodegroup"]
    except botocore.exceptions.ClientError:
        return combine(static.subject, [static, passed("node group through the EKS API", "", "not shown here",
                                                       gaps=[GAPS["AWS::EKS::Nodegroup"]])])
    sc = ng["scalingConfig"]
    ok = ng["instanceTypes"] == [instance_type] and sc["desiredSize"] == desired
    live = Finding(ok, "node group through the EKS API", f"{instance_type} x{desired}",
                   f"{','.join(ng['instanceTypes'])} x{sc['desiredSize']} (min {sc['minSize']}, max {sc['maxSize']})")
    return combine(static.subject, [static, live])


def kms_live(target, env) -> Finding:
    static = secrets_encryption(rendered(env, "eks"))
    key = _listed(target, env, "eks").get("SecretsKey")
    if not key:
        return combine(static.subject, [static, failed("the secrets KMS key", "created by the eks stack", "not listed (is it applied?)")])
    kms = stacks_mod.client(target, "kms")
    rotation = kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"]
    parts = [static, Finding(rotation, "secrets KMS key rotation (KMS API)", "rotation on", "on" if rotation else "off", (key,))]
    try:
        c = stacks_mod.client(target, "eks").describe_cluster(name=env.settings["cluster_name"])["cluster"]
        arns = [e.get("provider", {}).get("keyArn", "") for e in c.get("encryptionConfig", []) if "secrets" in e.get("resources", [])]
        parts.append(Finding(any(key in a for a in arns), "cluster encryptionConfig (EKS API)", key, ", ".join(arns) or "none"))
    except botocore.exceptions.ClientError:
        parts.append(passed("cluster encryptionConfig (EKS API)", "", "not shown here", gaps=[GAPS["AWS::EKS::Cluster"]]))
    return combine(static.subject, parts)


def log_groups_live(target, env) -> Finding:
    static = log_groups_retained(rendered(env, "monitoring"), env.settings["cluster_name"])
    listed = {lid: p for lid, p in _listed(target, env, "monitoring").items() if "LogGroup" in lid}
    if not listed:
        return combine(static.subject, [static, failed("log groups (CloudWatch Logs API)", "created by the monitoring stack", "none listed")])
    logs = stacks_mod.client(target, "logs")
    problems, evidence = [], []
    for lid, name in listed.items():
        got = [g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name]
        days = got[0].get("retentionInDays") if got else None
        (evidence if days else problems).append(f"{name}: {f'{days} days' if days else 'no retention' if got else 'absent'}")
    live = Finding(not problems, "log groups (CloudWatch Logs API)", "each with a retention", "; ".join(problems) or f"{len(listed)} retained",
                   tuple(problems + evidence))
    return combine("log groups exist with retention", [static, live])


def alarms_live(target, env) -> Finding:
    mon = rendered(env, "monitoring")
    static = alarms_notify(mon)
    listed = _listed(target, env, "monitoring")
    alarm_ids = [lid for lid in mon.resources("AWS::CloudWatch::Alarm")]
    if not any(a in listed for a in alarm_ids):
        return combine(static.subject, [static, passed("alarms (CloudWatch API)", "", "not created here",
                                                       gaps=[GAPS["AWS::CloudWatch::Alarm"]])])
    cw = stacks_mod.client(target, "cloudwatch")
    topic = listed.get("AlertTopic", "")
    names = [listed[a] for a in alarm_ids if a in listed]
    got = cw.describe_alarms(AlarmNames=names)["MetricAlarms"]
    bad = [a["AlarmName"] for a in got if topic not in a.get("AlarmActions", [])]
    live = Finding(not bad and len(got) == len(names), "alarms (CloudWatch API)", f"{len(names)} alarms -> {topic}",
                   ", ".join(bad) or f"{len(got)} alarms notify the topic")
    return combine(static.subject, [static, live])


def budget_live(target, env) -> Finding:
    """R2.5: the budget of the environment's amount with thresholds to the alert topic."""
    outputs = _outputs(target, env, "monitoring")
    bud = rendered(env, "budget", {"AlertTopicArn": outputs.get("AlertTopicArn", "<monitoring output AlertTopicArn>")})
    static = budget_template(bud, env.settings["budget_usd"])
    listed = _listed(target, env, "budget")
    if "MonthlyBudget" not in listed:
        return static  # its gap names that the endpoint's CloudFormation ignores budgets
    budgets = stacks_mod.client(target, "budgets", attempts=1)
    account = stacks_mod.client(target, "sts").get_caller_identity()["Account"]
    name = listed["MonthlyBudget"]
    return combine(static.subject, [static, budget_api(budgets, account, name, float(env.settings["budget_usd"]),
                                                       outputs.get("AlertTopicArn", ""))])


def budget_api(budgets, account: str, name: str, amount: float, topic: str) -> Finding:
    """The budget as the Budgets API shows it (also run against moto's Budgets API in tests)."""
    subject = f"budget {name} (Budgets API)"
    try:
        b = budgets.describe_budget(AccountId=account, BudgetName=name)["Budget"]
    except botocore.exceptions.ClientError as exc:
        return failed(subject, "exists", exc.response["Error"]["Message"])
    notes = budgets.describe_notifications_for_budget(AccountId=account, BudgetName=name).get("Notifications", [])
    to_topic, gaps = [], []
    for n in notes:
        try:
            subs = budgets.describe_subscribers_for_notification(AccountId=account, BudgetName=name, Notification=n)["Subscribers"]
        except Exception:  # noqa: BLE001 - moto answers the unimplemented call with a 500 page
            gaps = [SUBSCRIBERS_GAP]
            to_topic.append(f"{n['NotificationType']} > {n['Threshold']}% (subscribers not shown here)")
            continue
        if any(s["SubscriptionType"] == "SNS" and s["Address"] == topic for s in subs):
            to_topic.append(f"{n['NotificationType']} > {n['Threshold']}%")
    limit = float(b["BudgetLimit"]["Amount"])
    ok = b["TimeUnit"] == "MONTHLY" and limit == amount and bool(to_topic)
    return Finding(ok, subject, f"MONTHLY {amount} USD, thresholds -> {topic}",
                   f"{b['TimeUnit']} {limit} {b['BudgetLimit']['Unit']}, {len(to_topic)} thresholds to the topic",
                   tuple(to_topic), tuple(gaps))


def node_group_scales(eks: Resolver) -> Finding:
    got = []
    ok = False
    for lid, ng in eks.resources("AWS::EKS::Nodegroup").items():
        sc = ng["Properties"].get("ScalingConfig", {})
        lo, want, hi = int(sc.get("MinSize", 0)), int(sc.get("DesiredSize", 0)), int(sc.get("MaxSize", 0))
        ok = lo < hi and lo <= want <= hi
        got.append(f"{lid}: min {lo} desired {want} max {hi}")
    return Finding(ok, "node group can scale (template)", "min < max, min <= desired <= max", "; ".join(got) or "no node group")


def autoscaler_scale_down(manifest) -> Finding:
    """The cluster-autoscaler Deployment discovers node groups and does not disable scale-down (static)."""
    from pathlib import Path

    import yaml
    subject = "cluster-autoscaler deployed with scale-down enabled (manifest)"
    p = Path(manifest)
    if not p.exists():
        return failed(subject, f"a Deployment in {p.name}", "no manifest")
    docs = [d for d in yaml.safe_load_all(p.read_text()) if d]
    dep = next((d for d in docs if d.get("kind") == "Deployment" and d["metadata"]["name"] == "cluster-autoscaler"), None)
    if dep is None:
        return failed(subject, "Deployment cluster-autoscaler", "absent")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    args = [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]
    problems = [a for a in args if a.replace(" ", "") in ("--scale-down-enabled=false",)]
    if not any(a.startswith("--node-group-auto-discovery") or a.startswith("--nodes=") for a in args):
        problems.append("no node group discovery")
    return Finding(not problems, subject, "scale-down not disabled, node groups discovered",
                   "; ".join(problems) or "ok", tuple(args))


def access_live(target, env) -> Finding:
    static = access_and_endpoint(rendered(env, "eks"))
    try:
        c = stacks_mod.client(target, "eks").describe_cluster(name=env.settings["cluster_name"])["cluster"]
    except botocore.exceptions.ClientError:
        return combine(static.subject, [static, passed("cluster access (EKS API)", "", "not shown here", gaps=[GAPS["AWS::EKS::Cluster"]])])
    mode = c.get("accessConfig", {}).get("authenticationMode", "")
    vpc = c.get("resourcesVpcConfig", {})
    ok = mode == "API" and vpc.get("endpointPrivateAccess") and "0.0.0.0/0" not in vpc.get("publicAccessCidrs", ["0.0.0.0/0"])
    return combine(static.subject, [static, Finding(bool(ok), "cluster access (EKS API)", "API, private on, public restricted",
                                                    f"{mode}, public {vpc.get('publicAccessCidrs')}")])


def container_insights_live(target, env) -> Finding:
    static = container_insights(rendered(env, "eks"))
    try:
        a = stacks_mod.client(target, "eks").describe_addon(clusterName=env.settings["cluster_name"],
                                                            addonName="amazon-cloudwatch-observability")["addon"]
        live = Finding(a["status"] == "ACTIVE", "Container Insights add-on (EKS API)", "ACTIVE", a["status"])
    except botocore.exceptions.ClientError:
        live = passed("Container Insights add-on (EKS API)", "", "not shown here", gaps=[GAPS["AWS::EKS::Addon"]])
    return combine(static.subject, [static, live])
