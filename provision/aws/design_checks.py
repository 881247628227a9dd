"""Static checks of the design across files: what a first live run would trip over although every
template is valid on its own (issue 10's live defects).

- api_endpoint_reachable: the jobs that call the cluster can reach its API endpoint (settings
  api_access, the eks template, the workflows' runs-on);
- addon_roles_ordered: every IAM role an EKS add-on names exists before the add-on (stack order).

Pure functions of resolved templates, rendered objects and parsed workflows; every Finding is "static".
"""

from __future__ import annotations

import ipaddress
import re

from ..config import Environment
from ..findings import Finding, graded
from .cfn import load
from .cfn.resolve import Resolver, logical_id

# RFC 5737: addresses for documentation; nothing on the internet egresses from them.
DOCUMENTATION_RANGES = tuple(ipaddress.ip_network(c) for c in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
# Amazon EKS service quota "Public endpoint access CIDR ranges per cluster" (not adjustable).
EKS_MAX_PUBLIC_CIDRS = 40
MODES = ("self-hosted", "cidrs", "github-runners")
GITHUB_HOSTED = re.compile(r"^(ubuntu|windows|macos)-")
REACHES_CLUSTER = "aws eks update-kubeconfig"
_ENV_EXPR = re.compile(r"\$\{\{\s*inputs\.environment\s*\|\|\s*'[\w-]+'\s*\}\}")

def _verdict(subject: str, expected: str, problems: list[str], evidence: list[str], summary: str) -> Finding:
    """Passed when no problem was found; problems are the actual value and the FAIL-marked evidence."""
    return Finding(not problems, subject, expected, "; ".join(problems) or summary,
                   tuple(f"FAIL {p}" for p in problems) + tuple(evidence))


GITHUB_RUNNERS_TOO_MANY = (
    "mode github-runners: GitHub-hosted runners egress from the `actions` ranges of "
    "https://api.github.com/meta (thousands of CIDRs), above the EKS limit of "
    f"{EKS_MAX_PUBLIC_CIDRS} public access CIDRs: use a self-hosted runner in the VPC"
)


def _runs_on(job: dict, env: str) -> list[str]:
    labels = job.get("runs-on") or []
    labels = [labels] if isinstance(labels, str) else list(labels)
    return [_ENV_EXPR.sub(env, str(label)) for label in labels]


def cluster_jobs(workflow, env: str) -> dict[str, list[str]]:
    """job id -> its runner labels, for the jobs that call the environment's cluster (update-kubeconfig)."""
    out = {}
    for job_id, job in workflow.jobs().items():
        steps = (job or {}).get("steps") or []
        if not any(REACHES_CLUSTER in str(s.get("run", "")) for s in steps):
            continue
        text = " ".join(str(s.get("run", "")) for s in steps) + " ".join(_runs_on(job, "<env>"))
        serves = "<env>" in text or "DEPLOY_ENV" in text or f"--env {env}" in text
        if serves:
            out[f"{workflow.name}:{job_id}"] = _runs_on(job, env)
    return out


@graded("static")
def api_endpoint_reachable(eks: Resolver, env: Environment, workflows: list) -> Finding:
    """The jobs that call the cluster run where the EKS API endpoint answers them (settings api_access)."""
    access = env.get("api_access") or {}
    mode, labels, cidrs = access.get("mode"), list(access.get("runner_labels") or []), access.get("cidrs") or []
    problems, evidence = [], []
    if mode not in MODES:
        problems.append(f"api_access.mode {mode!r} of {env.name} is none of {', '.join(MODES)}")
    elif mode == "github-runners":
        problems.append(GITHUB_RUNNERS_TOO_MANY)
    problems += _cidr_problems("api_access.cidrs", cidrs)
    if len(cidrs) > EKS_MAX_PUBLIC_CIDRS:
        problems.append(f"api_access.cidrs: {len(cidrs)} entries, above the EKS limit of {EKS_MAX_PUBLIC_CIDRS}")
    clusters = eks.resources("AWS::EKS::Cluster")
    if not clusters:
        problems.append("no AWS::EKS::Cluster in eks.yaml")
    res = eks.resources()
    for lid, c in clusters.items():
        vpc = c["Properties"].get("ResourcesVpcConfig") or {}
        public = vpc.get("EndpointPublicAccess", True) in (True, "true")
        private = vpc.get("EndpointPrivateAccess") in (True, "true")
        problems += _cidr_problems(f"{lid}.PublicAccessCidrs", vpc.get("PublicAccessCidrs") or [] if public else [])
        if public and not vpc.get("PublicAccessCidrs"):
            problems.append(f"{lid}: public endpoint on with no PublicAccessCidrs (EKS opens it to 0.0.0.0/0)")
        if public and sorted(vpc.get("PublicAccessCidrs") or []) != sorted(map(str, cidrs)):
            problems.append(f"{lid}: PublicAccessCidrs {vpc.get('PublicAccessCidrs')} are not api_access.cidrs {cidrs}")
        if not public and cidrs:
            problems.append(f"{lid}: public endpoint off although api_access.cidrs lists operators' CIDRs")
        if mode in ("self-hosted", "cidrs") and not private:
            problems.append(f"{lid}: private endpoint off: the self-hosted runner in the VPC cannot reach it")
        sgs = [logical_id(g) or g for g in vpc.get("SecurityGroupIds") or []]
        admits = [g for g in sgs if _admits_443_from_group(res.get(g))]
        if mode == "self-hosted" and not admits:
            problems.append(f"{lid}: no cluster security group admits 443 from the runner's security group")
        evidence += [f"{lid}: endpoint private {private}, public {public}", *[f"{g} admits 443 from the runner"
                                                                             for g in admits]]
    jobs = {k: v for wf in workflows for k, v in cluster_jobs(wf, env.name).items()}
    if not jobs:
        problems.append(f"no workflow job calls the {env.name} cluster (`{REACHES_CLUSTER}`)")
    for job, runs_on in jobs.items():
        hosted = [label for label in runs_on if GITHUB_HOSTED.match(label)]
        if hosted and mode != "github-runners":
            problems.append(f"{job} runs on the GitHub-hosted runner {hosted[0]}, which cannot reach the "
                            f"{'private' if not cidrs else 'operators-only'} endpoint of {env.name}")
        elif mode in ("self-hosted", "cidrs") and runs_on != labels:
            problems.append(f"{job} runs on {runs_on}, not the {env.name} runner {labels} (api_access.runner_labels)")
        else:
            evidence.append(f"{job} runs on {runs_on}")
    return _verdict(
        f"the jobs that call the {env.name} cluster can reach its API endpoint (settings, eks.yaml, workflows)",
        f"api_access.mode one of {', '.join(MODES[:2])}, no documentation or open CIDR, the cluster jobs on "
        "the runner the endpoint admits",
        problems, evidence, f"mode {mode}: {len(jobs)} cluster jobs on {labels}",
    )


def _cidr_problems(where: str, cidrs) -> list[str]:
    out = []
    for c in cidrs:
        try:
            net = ipaddress.ip_network(str(c), strict=False)
        except ValueError:
            out.append(f"{where}: {c!r} is not a CIDR")
            continue
        doc = [str(d) for d in DOCUMENTATION_RANGES if net.overlaps(d)]
        if net.prefixlen == 0:
            out.append(f"{where}: {c} opens the public endpoint to everyone")
        elif doc:
            out.append(f"{where}: {c} is the documentation range {doc[0]} (RFC 5737): nobody egresses from it")
    return out


def _admits_443_from_group(sg: dict | None) -> bool:
    if not sg or sg.get("Type") != "AWS::EC2::SecurityGroup":
        return False
    return any(
        int(r.get("FromPort", -1)) <= 443 <= int(r.get("ToPort", -1)) and r.get("SourceSecurityGroupId")
        for r in sg["Properties"].get("SecurityGroupIngress") or []
    )


# -- add-on roles exist before their add-ons --------------------------------------------------------


def _addon_role_nodes(props: dict) -> list:
    nodes = [props["ServiceAccountRoleArn"]] if props.get("ServiceAccountRoleArn") else []
    return nodes + [a.get("RoleArn") for a in props.get("PodIdentityAssociations") or [] if a.get("RoleArn")]


def _referenced(node) -> str:
    """The logical id a raw template value refers to by Ref or GetAtt (CloudFormation orders those)."""
    if isinstance(node, dict) and len(node) == 1:
        ((fn, arg),) = node.items()
        if fn == "Ref" and isinstance(arg, str):
            return arg
        if fn == "Fn::GetAtt":
            return arg[0] if isinstance(arg, list) else str(arg).split(".")[0]
    return ""


@graded("static")
def addon_roles_ordered(stacks: dict[str, Resolver]) -> Finding:
    """Every role an EKS add-on names is created by the same stack (referenced, so CloudFormation orders
    it) or an earlier one (cfn/load.py STACKS order)."""
    order = [s for s in load.STACKS if s in stacks]
    created = {}  # role ARN -> (stack index, stack, logical id)
    for i, stack in enumerate(order):
        r = stacks[stack]
        for lid in r.resources("AWS::IAM::Role"):
            created[str(r.getatt(lid, "Arn"))] = (i, stack, lid)
    problems, evidence = [], []
    for i, stack in enumerate(order):
        r = stacks[stack]
        for lid, res in r.t["Resources"].items():
            if res.get("Type") != "AWS::EKS::Addon":
                continue
            props = res.get("Properties") or {}
            for node in _addon_role_nodes(props):
                ref = _referenced(node)
                if ref and (r.t["Resources"].get(ref) or {}).get("Type") == "AWS::IAM::Role":
                    evidence.append(f"{stack}/{lid} names {ref} of the same stack by reference")
                    continue
                arn = str(r.value(node))
                where = created.get(arn)
                if where is None:
                    problems.append(f"{stack}/{lid} ({props.get('AddonName')}) names {arn}, which no stack creates")
                elif where[0] > i:
                    problems.append(f"{stack}/{lid} ({props.get('AddonName')}) names {arn}, created only by the "
                                    f"later stack {where[1]} ({where[2]})")
                elif where[0] == i and where[2] not in (res.get("DependsOn") or []):
                    problems.append(f"{stack}/{lid} names {arn} of its own stack without a reference or DependsOn")
                else:
                    evidence.append(f"{stack}/{lid} names {arn}, created by {where[1]}")
    return _verdict(
        "every role an EKS add-on names exists before the add-on (stack order)",
        f"each add-on's role created by its own stack (referenced) or an earlier one of {', '.join(order)}",
        problems, evidence, f"{len(evidence)} add-on roles in order",
    )
