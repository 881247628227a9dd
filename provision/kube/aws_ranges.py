"""AWS's published address ranges of a region (vendored from ip-ranges.json: provision/kube/data/), and the
static check that a NetworkPolicy's egress to AWS is exactly those ranges on 443.

A NetworkPolicy cannot name a service (S3, STS): the backup pod reaches them through ipBlocks of the region's
ranges. ip-ranges.json lists S3's own prefixes but no STS service, so the policy admits the region's AMAZON
prefixes (which hold both regional endpoints), collapsed. Which addresses that lets the pod reach is computed
by the harness's NetworkPolicy model (provision/kube/netpol.py): graded model, never enforced offline.
"""
from __future__ import annotations

import ipaddress
import json
from functools import cache
from pathlib import Path

from .. import findings
from ..findings import Finding, failed, passed

DATA = Path(__file__).with_name("data")
HTTPS = 443


@cache
def published(region: str) -> dict:
    """The vendored copy for `region` (its provenance fields and `ipv4_prefixes`); ValueError when none is."""
    path = DATA / f"aws-ip-ranges-{region}.json"
    if not path.is_file():
        raise ValueError(f"no vendored AWS ranges for region {region} ({path.name} in {DATA})")
    return json.loads(path.read_text())


def collapsed(prefixes: list[str]) -> list[str]:
    """The smallest list of CIDRs covering exactly `prefixes` (nested and adjacent ones merged), sorted."""
    nets = ipaddress.collapse_addresses(ipaddress.ip_network(p, strict=False) for p in prefixes)
    return [str(n) for n in nets]


def region_cidrs(region: str) -> list[str]:
    """The CIDRs a NetworkPolicy lists for the region's S3 and STS: the region's AMAZON prefixes, collapsed."""
    return collapsed(published(region)["ipv4_prefixes"])


def policy_https_blocks(policy: dict) -> list[dict]:
    """The ipBlocks of the policy's egress rules (with the ports of their rule)."""
    out = []
    for rule in (policy.get("spec") or {}).get("egress") or []:
        for peer in rule.get("to") or []:
            if "ipBlock" in peer:
                out.append({**peer["ipBlock"], "_ports": rule.get("ports")})
    return out


@findings.graded("static")
def check_egress_ranges(objects: list[dict], policy_name: str, region: str) -> Finding:
    """The named NetworkPolicy's ipBlocks are exactly the region's published ranges, each only on TCP 443,
    none with an `except` (a widened block, a missing range or another port turns it red)."""
    subject = f"NetworkPolicy {policy_name} reaches AWS only by the published ranges of {region} on 443"
    want = region_cidrs(region)
    pols = [o for o in objects if o.get("kind") == "NetworkPolicy" and o["metadata"]["name"] == policy_name]
    if not pols:
        return failed(subject, f"{len(want)} CIDRs on 443", "no such NetworkPolicy",
                      (f"FAIL no NetworkPolicy {policy_name}",))
    blocks = policy_https_blocks(pols[0])
    bad = []
    for b in blocks:
        ports = b["_ports"] or []
        if not ports or any(p.get("port") != HTTPS or p.get("protocol", "TCP") != "TCP" or p.get("endPort")
                            for p in ports):
            bad.append(f"ipBlock {b.get('cidr')} allows ports {ports or 'all'}, not only TCP {HTTPS}")
        if b.get("except"):
            bad.append(f"ipBlock {b.get('cidr')} has an except list: the block is wider than a published range")
    got = set(collapsed([b["cidr"] for b in blocks])) if blocks else set()
    extra, missing = sorted(got - set(want)), sorted(set(want) - got)
    bad += [f"{c} is not a published range of {region}" for c in extra]
    bad += [f"published range {c} of {region} is missing" for c in missing]
    src = published(region)
    evidence = (f"ranges: {src.get('copied_from', '?')}, retrieved {src.get('retrieved', '?')}",)
    if bad:
        return failed(subject, f"exactly the {len(want)} collapsed CIDRs of {region} on TCP {HTTPS}",
                      f"{len(bad)} problems", tuple(f"FAIL {b}" for b in bad[:20]) + evidence)
    return passed(subject, f"exactly the {len(want)} collapsed CIDRs of {region} on TCP {HTTPS}",
                  f"{len(got)} CIDRs, TCP {HTTPS} only", evidence)
