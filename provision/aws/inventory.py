"""An inventory of what the stacks created, by logical id and properties (R6.5).

Physical ids differ after a teardown and a re-creation; the inventory replaces
them by the logical ids of the same stacks, so two inventories compare equal
when the infrastructure is equivalent.
"""

from __future__ import annotations

import json
import re

import botocore.exceptions

from ..findings import Finding
from .cfn import load
from .clients import client
from .stack_api import resources

_ID = re.compile(r"\b(vpc|subnet|rtb|igw|nat|eipalloc|eni|sg)-[0-9a-f]+\b")


def inventory(target, env) -> dict[str, dict]:
    """'<stack>/<LogicalId>' -> the resource's properties as the APIs show them."""
    cf = client(target, "cloudformation")
    listed = {}
    for stack in load.stacks(env.template_dir):
        for r in resources(cf, env.stack_name(stack)):
            listed[f"{stack}/{r['LogicalResourceId']}"] = (r["ResourceType"], r["PhysicalResourceId"])
    names = {phys: key for key, (_, phys) in listed.items()}

    def norm(value):
        # physical ids -> logical keys; generated names (stack name + random) -> their stack's logical id
        text = json.dumps(value, sort_keys=True, default=str)
        text = _ID.sub(lambda m: names.get(m.group(0), "<other " + m.group(1) + ">"), text)
        return json.loads(text)

    ec2, iam = client(target, "ec2"), client(target, "iam")
    out = {}
    for key, (rtype, phys) in sorted(listed.items()):
        try:
            out[key] = {"type": rtype, **norm(_describe(target, rtype, phys, ec2, iam, env))}
        except botocore.exceptions.ClientError as exc:
            out[key] = {"type": rtype, "error": exc.response["Error"]["Code"]}
    return out


def _tags(tags) -> dict:
    return {t["Key"]: t["Value"] for t in tags or [] if not t["Key"].startswith("aws:")}


def _describe(target, rtype, phys, ec2, iam, env) -> dict:
    if rtype == "AWS::EC2::VPC":
        v = ec2.describe_vpcs(VpcIds=[phys])["Vpcs"][0]
        return {"cidr": v["CidrBlock"], "tags": _tags(v.get("Tags"))}
    if rtype == "AWS::EC2::Subnet":
        s = ec2.describe_subnets(SubnetIds=[phys])["Subnets"][0]
        return {
            "cidr": s["CidrBlock"],
            "az": s["AvailabilityZone"],
            "vpc": s["VpcId"],
            "public_ip": s.get("MapPublicIpOnLaunch", False),
            "tags": _tags(s.get("Tags")),
        }
    if rtype == "AWS::EC2::RouteTable":
        t = ec2.describe_route_tables(RouteTableIds=[phys])["RouteTables"][0]
        routes = sorted(
            (r.get("DestinationCidrBlock", ""), r.get("GatewayId") or r.get("NatGatewayId") or "") for r in t["Routes"]
        )
        return {
            "routes": routes,
            "subnets": sorted(a.get("SubnetId", "") for a in t.get("Associations", [])),
            "tags": _tags(t.get("Tags")),
        }
    if rtype == "AWS::IAM::Role":
        r = iam.get_role(RoleName=phys)["Role"]
        generated = phys.startswith(env.stack_name(""))  # CloudFormation-generated name
        attached = sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=phys)["AttachedPolicies"])
        inline = sorted(iam.list_role_policies(RoleName=phys)["PolicyNames"])
        return {
            "name": "<generated>" if generated else phys,
            "trust": r["AssumeRolePolicyDocument"],
            "managed": attached,
            "inline": inline,
        }
    if rtype == "AWS::KMS::Key":
        kms = client(target, "kms")
        # (not DescribeKey: moto fails on the policies of keys its CloudFormation made)
        return {"rotation": kms.get_key_rotation_status(KeyId=phys)["KeyRotationEnabled"]}
    if rtype == "AWS::Logs::LogGroup":
        logs = client(target, "logs")
        g = [g for g in logs.describe_log_groups(logGroupNamePrefix=phys)["logGroups"] if g["logGroupName"] == phys]
        return {"name": phys, "retention": g[0].get("retentionInDays") if g else None}
    if rtype in ("AWS::SNS::Topic", "AWS::CloudWatch::Dashboard", "AWS::KMS::Alias"):
        return {"name": phys.rsplit(":", 1)[-1]}
    return {}


def differences(before: dict, after: dict) -> list[str]:
    """What differs between two inventories (pure)."""
    out = [f"only before: {k}" for k in sorted(set(before) - set(after))]
    out += [f"only after: {k}" for k in sorted(set(after) - set(before))]
    for k in sorted(set(before) & set(after)):
        if before[k] != after[k]:
            fields = sorted(f for f in set(before[k]) | set(after[k]) if before[k].get(f) != after[k].get(f))
            out.append(f"{k}: {', '.join(f'{f} {before[k].get(f)!r} -> {after[k].get(f)!r}' for f in fields)}")
    return out


def equivalent(before: dict, after: dict, gaps=(), grade: str = ""):
    diff = differences(before, after)
    return Finding(
        not diff and bool(before),
        "inventory after teardown and re-creation",
        f"equivalent to the first ({len(before)} resources)",
        "; ".join(diff[:5]) or f"{len(after)} resources, equivalent",
        tuple(f"FAIL {d}" for d in diff) or tuple(sorted(before)),
        tuple(dict.fromkeys(gaps)),
        grade,
    )
