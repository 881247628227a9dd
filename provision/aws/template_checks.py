"""Static checks of the environment's templates (resolved leniently with its settings).

Pure predicates on resolved templates (cfn.resolve.Resolver); every Finding
here is graded "static": it judges what CloudFormation would receive, not
what the endpoint shows (live_checks.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ..ci import workflow_model
from ..config import Environment, settings
from ..findings import Finding, combine, failed, graded, passed
from ..kube import aws_lb
from . import design_checks
from . import gaps as target_gaps
from .cfn import load, parameters
from .cfn.resolve import Resolver, logical_id
from .iam_roles import json_doc
from .monitoring_checks import alarms_notify, app_namespace, budget_template, log_groups_retained
from .verdicts import verdict

CONTROL_PLANE_LOGS = {"api", "audit", "authenticator", "controllerManager", "scheduler"}
CONTAINER_INSIGHTS = "amazon-cloudwatch-observability"
REQUIRED_ADDONS = {"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", CONTAINER_INSIGHTS}


def rendered(env: Environment, stack: str, outputs: dict | None = None) -> Resolver:
    return parameters.rendered(stack, env, outputs)


# -- static predicates ----------------------------------------------------------


def public_subnets(network: Resolver) -> dict[str, str]:
    """Subnet logical id -> why it is public (a route to an internet gateway, public IPs)."""
    res = network.resources()
    igws = {lid for lid, r in res.items() if r["Type"] == "AWS::EC2::InternetGateway"}
    public_tables = {
        logical_id(r["Properties"].get("RouteTableId"))
        for r in res.values()
        if r["Type"] == "AWS::EC2::Route" and logical_id(r["Properties"].get("GatewayId")) in igws
    }
    out = {}
    for r in res.values():
        if (
            r["Type"] == "AWS::EC2::SubnetRouteTableAssociation"
            and logical_id(r["Properties"].get("RouteTableId")) in public_tables
        ):
            out[logical_id(r["Properties"]["SubnetId"])] = (
                f"route table {logical_id(r['Properties']['RouteTableId'])} routes to an internet gateway"
            )
    for lid, r in res.items():
        if r["Type"] == "AWS::EC2::Subnet" and r["Properties"].get("MapPublicIpOnLaunch") in (True, "true"):
            out.setdefault(lid, "MapPublicIpOnLaunch is on")
    return out


@graded("static")
def node_subnets_private(network: Resolver, eks: Resolver) -> Finding:
    subject = "node group only in private subnets (templates)"
    groups = eks.resources("AWS::EKS::Nodegroup")
    if not groups:
        return failed(subject, "a managed node group", "none in eks.yaml")
    problems, evidence = [], []
    net_outputs = network.t.get("Outputs", {})
    for lid in groups:
        raw = eks.t["Resources"][lid]["Properties"].get("Subnets")
        param = raw.get("Ref") if isinstance(raw, dict) else None
        if param not in parameters.FROM_OUTPUTS or param not in net_outputs:
            problems.append(f"{lid}.Subnets is not a network stack output of private subnets: {raw}")
            continue
        listed = _refs_in(net_outputs[param]["Value"])
        public = public_subnets(network)
        for subnet in listed:
            if subnet in public:
                problems.append(
                    f"{lid} uses {subnet} (output {param}): {public[subnet]}; nodes belong in private subnets"
                )
            else:
                evidence.append(f"{lid} uses {subnet}: no route to an internet gateway")
    if problems:
        return failed(subject, "private subnets only", "; ".join(problems), evidence=problems + evidence)
    return passed(subject, "private subnets only", f"{len(evidence)} private subnets", evidence)


def _refs_in(node) -> list[str]:
    return list(load.refs(node))


@graded("static")
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
        key = logical_id(enc[0].get("Provider", {}).get("KeyArn"))
        k = res.get(key)
        if not k or k["Type"] != "AWS::KMS::Key":
            problems.append(f"{lid}: EncryptionConfig key {enc[0].get('Provider')} is not a KMS key of the stack")
        elif k["Properties"].get("EnableKeyRotation") not in (True, "true"):
            problems.append(f"{key}: EnableKeyRotation is not on")
        else:
            evidence.append(f"{lid}: secrets encrypted with {key}, rotation on")
    if not clusters:
        problems.append("no AWS::EKS::Cluster")
    return verdict(subject, "EncryptionConfig(secrets) with a KMS key, EnableKeyRotation true", problems, evidence,
                   "ok")


@graded("static")
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


@graded("static")
def control_plane_logging(eks: Resolver) -> Finding:
    got = set()
    for c in eks.resources("AWS::EKS::Cluster").values():
        logging = c.get("Properties", {}).get("Logging")   # malformed shapes (a list, a string) enable nothing
        cluster_logging = logging.get("ClusterLogging") if isinstance(logging, dict) else None
        types = cluster_logging.get("EnabledTypes") if isinstance(cluster_logging, dict) else None
        got |= {t.get("Type") for t in types if isinstance(t, dict)} if isinstance(types, list) else set()
    missing = CONTROL_PLANE_LOGS - got
    return Finding(
        not missing,
        "EKS control-plane logging (template)",
        ", ".join(sorted(CONTROL_PLANE_LOGS)),
        ", ".join(sorted(got)) or "none",
        tuple(f"missing {m}" for m in sorted(missing)),
    )


@graded("static")
def access_and_endpoint(eks: Resolver, roles=("deploy", "verify")) -> Finding:
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
    entries = {
        str(e["Properties"].get("PrincipalArn")): e["Properties"]
        for e in eks.resources("AWS::EKS::AccessEntry").values()
    }
    for kind in roles:   # this project's GitHub roles (none for anyone else's templates)
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
    return verdict(
        "cluster access through IAM access entries, no open public endpoint (template)",
        "AuthenticationMode API, private endpoint on, public endpoint restricted",
        problems,
        evidence,
        "ok",
    )


def addons(*stacks: Resolver) -> dict[str, dict]:
    """The add-ons of the stacks (eks, and irsa for those whose role it creates)."""
    return {a["Properties"].get("AddonName"): a["Properties"] for r in stacks
            for a in r.resources("AWS::EKS::Addon").values()}


@graded("static")
def network_policy_enforced(eks: Resolver) -> Finding:
    cni = addons(eks).get("vpc-cni")
    values = {}
    if cni and cni.get("ConfigurationValues"):
        try:
            values = json.loads(cni["ConfigurationValues"])
        except (TypeError, ValueError):
            values = {}
    ok = str(values.get("enableNetworkPolicy", "")).lower() == "true"
    return Finding(
        ok,
        "vpc-cni enforces NetworkPolicies (template)",
        'ConfigurationValues enableNetworkPolicy "true"',
        json.dumps(values) if cni else "no vpc-cni add-on",
    )


@graded("static")
def required_addons(eks: Resolver, *more: Resolver) -> Finding:
    got = set(addons(eks, *more))
    missing = REQUIRED_ADDONS - got
    return Finding(
        not missing,
        "EKS add-ons (template)",
        ", ".join(sorted(REQUIRED_ADDONS)),
        ", ".join(sorted(got)),
        tuple(f"missing {m}" for m in sorted(missing)),
    )


@graded("static")
def container_insights(eks: Resolver) -> Finding:
    got = addons(eks)
    ok = CONTAINER_INSIGHTS in got
    absent = f"no {CONTAINER_INSIGHTS} add-on (add-ons: {', '.join(sorted(got)) or 'none'})"
    return Finding(ok, "Container Insights add-on (template)", f"{CONTAINER_INSIGHTS} add-on",
                   "present" if ok else absent, () if ok else (f"FAIL {absent}",))


@graded("static")
def irsa_trust(irsa: Resolver, namespace: str, gaps=()) -> Finding:
    """Each IRSA role trusts exactly one service account through the cluster's OIDC provider."""
    res = irsa.resources()
    providers = {lid for lid, r in res.items() if r["Type"] == "AWS::IAM::OIDCProvider"}
    # A provider is named by its marker, or by its ARN where the issuer URL is known.
    arns = {irsa.ref(lid): lid for lid in providers}
    problems, evidence, subjects = [], [], {}
    for lid, r in res.items():
        if r["Type"] != "AWS::IAM::Role":
            continue
        doc = json_doc(r["Properties"].get("AssumeRolePolicyDocument"))
        stmts = doc.get("Statement", [])
        stmts = stmts if isinstance(stmts, list) else [stmts]
        for st in stmts:
            fed = (st.get("Principal") or {}).get("Federated", "")
            prov = fed[2:-1] if isinstance(fed, str) and fed.startswith("${") else logical_id(fed) or arns.get(fed, "")
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
                problems.append(
                    f"{lid}: condition operators {sorted(set(cond) - {'StringEquals'})} (only StringEquals allowed)"
                )
            if (
                len(subs) != 1
                or not isinstance(subs[0], str)
                or any(ch in subs[0] for ch in "*?")
                or not subs[0].startswith("system:serviceaccount:")
            ):
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
    app = set(settings()["kubernetes"]["deployments"]) | set(settings()["kubernetes"]["statefulsets"])
    for s in subjects.values():  # the app's own service accounts are trusted only in the app's namespace
        account = s.rsplit(":", 1)[-1]
        if account in app and not s.startswith(f"system:serviceaccount:{namespace}:"):
            problems.append(f"{account} role trusts {s}, not namespace {namespace}")
    return Finding(
        not problems,
        "IRSA roles trust only their own service account (template)",
        "one exact service account per role, via the cluster OIDC provider, aud sts.amazonaws.com",
        "; ".join(problems) or f"{len(subjects)} roles",
        tuple(problems + evidence),
        tuple(gaps),
    )


def template_check(env: Environment, target=None) -> Finding:
    """Every static check of the environment's templates; a template that does not load fails it.

    With a target, the checks name its gaps where only the template could be read."""
    try:
        net, eks, mon = rendered(env, "network"), rendered(env, "eks"), rendered(env, "monitoring")
        irsa, bud = rendered(env, "irsa"), rendered(env, "budget")
    except Exception as exc:  # noqa: BLE001 - a template that does not load is the finding
        return failed(
            "the CloudFormation templates",
            "every template loads",
            str(exc),
            evidence=[f"template: {exc}"],
            grade="static",
        )
    return combine(
        "the CloudFormation templates",
        [
            node_subnets_private(net, eks),
            secrets_encryption(eks),
            node_group_config(eks, env["node_instance_type"], env["node_min"], env["node_desired"], env["node_max"]),
            control_plane_logging(eks),
            access_and_endpoint(eks),
            network_policy_enforced(eks),
            required_addons(eks, irsa),
            design_checks.addon_roles_ordered({"network": net, "eks": eks, "irsa": irsa, "monitoring": mon}),
            design_checks.api_endpoint_reachable(eks, env, workflow_model.committed()),
            irsa_trust(irsa, app_namespace(), target_gaps.named(target, "AWS::IAM::OIDCProvider")),
            aws_lb.check_role_policy(irsa.resources()),
            alarms_notify(mon),
            log_groups_retained(mon, env.cluster_name),
            budget_template(bud, env["budget_usd"], target_gaps.named(target, "AWS::Budgets::Budget")),
        ],
    )


@graded("static")
def node_group_scales(eks: Resolver) -> Finding:
    got = []
    ok = False
    for lid, ng in eks.resources("AWS::EKS::Nodegroup").items():
        sc = ng["Properties"].get("ScalingConfig", {})
        lo, want, hi = int(sc.get("MinSize", 0)), int(sc.get("DesiredSize", 0)), int(sc.get("MaxSize", 0))
        ok = lo < hi and lo <= want <= hi
        got.append(f"{'' if ok else 'FAIL '}{lid}: min {lo} desired {want} max {hi}")
    return Finding(ok, "node group can scale (template)", "min < max, min <= desired <= max",
                   "; ".join(g.removeprefix("FAIL ") for g in got) or "no node group", tuple(got))


@graded("static")
def autoscaler_scale_down(manifest) -> Finding:
    """The cluster-autoscaler manifest discovers node groups and does not disable scale-down (a file read:
    whether it runs and scales down is not shown here)."""
    subject = "the cluster-autoscaler manifest enables scale-down"
    p = Path(manifest)
    if not p.exists():
        return failed(subject, f"a Deployment in {p.name}", "no manifest")
    docs = [d for d in yaml.safe_load_all(p.read_text()) if d]
    dep = next(
        (d for d in docs if d.get("kind") == "Deployment" and d["metadata"]["name"] == "cluster-autoscaler"), None
    )
    return autoscaler_verdict(dep, subject)


def autoscaler_verdict(dep: dict | None, subject: str, running: bool = False) -> Finding:
    """Pure, on a Deployment: scale-down not disabled, node groups discovered (and, with `running`,
    at least one replica available)."""
    if dep is None:
        return failed(subject, "Deployment cluster-autoscaler", "absent", ("FAIL no Deployment cluster-autoscaler",))
    c = dep["spec"]["template"]["spec"]["containers"][0]
    args = [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]
    problems = [a for a in args if a.replace(" ", "") in ("--scale-down-enabled=false",)]
    if not any(a.startswith("--node-group-auto-discovery") or a.startswith("--nodes=") for a in args):
        problems.append("no node group discovery")
    if running and not (dep.get("status") or {}).get("availableReplicas"):
        problems.append(f"no available replica (status {(dep.get('status') or {})})")
    evidence = tuple(f"FAIL {a}" for a in problems) + tuple(a for a in args if a not in problems)
    return Finding(not problems, subject, "scale-down not disabled, node groups discovered",
                   "; ".join(problems) or "ok", evidence)
