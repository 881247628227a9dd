"""`provision dns sync`: point every managed domain at the cluster's load balancer.

Idempotent: it plans from what Cloudflare holds and changes only what
differs; a second run says "no changes". Cloudflare holds the state.

Where the load balancer hostname comes from: on a real cluster, the status
of the Ingress (set by the AWS Load Balancer Controller). A target without
such a controller (offline) declares the hostname itself
(target.load_balancer_hostname) and names the gap (target.gap(LB_GAP)), which
every Finding built on it carries.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from .. import config, errors
from ..config import Target
from .cloudflare import Cloudflare

LB_GAP = "ingress-load-balancer"  # the target's named gap when it declares the load balancer itself
NO_LB = "ingress {ns}/{name} has no load balancer hostname yet (status.loadBalancer.ingress is empty)"
KUBECTL_FAILED = "kubectl could not read ingress {ns}/{name}: {stderr}"
NO_KUBECTL = "kubectl not found on PATH"
ADDRESS_TYPES = ("A", "AAAA", "CNAME")


@dataclass(frozen=True)
class Change:
    action: str   # create | update | replace | delete | setting
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.action} {self.name}: {self.detail}"


def load_balancer(target: Target) -> tuple[str, tuple[str, ...]]:
    """(hostname, gaps) of the load balancer the domains must lead to."""
    if target.load_balancer_hostname:
        gap = target.gap(LB_GAP)
        return target.load_balancer_hostname, (gap,) if gap else ()
    return ingress_hostname(target), ()


def ingress_hostname(target: Target) -> str:
    k = config.settings()["kubernetes"]
    ns, name = target.namespace, k["ingress"]
    kubectl = shutil.which("kubectl")
    if not kubectl:
        raise errors.TargetUnavailable(NO_KUBECTL)
    argv = [kubectl, "get", "ingress", name, "-n", ns, "-o", "jsonpath={.status.loadBalancer.ingress[0].hostname}"]
    env = {**os.environ, **target.env()}
    p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    if p.returncode != 0:
        raise errors.TargetUnavailable(KUBECTL_FAILED.format(ns=ns, name=name, stderr=p.stderr.strip()[:300]))
    host = p.stdout.strip()
    if not host:
        raise errors.ProvisionError(NO_LB.format(ns=ns, name=name))
    return host


def zone_id(target: Target, cf: Cloudflare) -> str:
    return target.cloudflare_zone or cf.zone_id(config.settings()["domains"]["zone"])


def plan(records: list[dict], settings_now: dict, domains, lb_host: str, wanted_settings: dict) -> list[Change]:
    """What to change so each domain is one proxied CNAME to `lb_host` (pure: on fetched data).

    Proxied: else Cloudflare's SSL mode and Always Use HTTPS do not apply to the name and
    public DNS shows the origin (an AKS-era record may well be DNS only)."""
    out: list[Change] = []
    lb = lb_host.rstrip(".").lower()
    for d in domains:
        mine = [r for r in records if r["name"] == d and r["type"] in ADDRESS_TYPES]
        if len(mine) == 1 and mine[0]["type"] == "CNAME" and mine[0]["content"].rstrip(".").lower() == lb:
            if not mine[0].get("proxied"):
                out.append(Change("update", d, f"CNAME {lb} DNS only -> proxied [{mine[0]['id']}]"))
            continue
        if not mine:
            out.append(Change("create", d, f"CNAME {lb} (proxied)"))
            continue
        # Extra records go first, so that the kept one can become a CNAME (no A next to a CNAME).
        for r in mine[1:]:
            out.append(Change("delete", d, f"{r['type']} {r['content']} [{r['id']}]"))
        first = mine[0]
        action = "update" if first["type"] == "CNAME" else "replace"
        out.append(Change(action, d, f"{first['type']} {first['content']} -> CNAME {lb} (proxied) [{first['id']}]"))
    for k, v in wanted_settings.items():
        if settings_now.get(k) != v:
            out.append(Change("setting", k, f"{settings_now.get(k)} -> {v}"))
    return out


def sync(target: Target, env: str, progress=lambda m: None, dry_run: bool = False) -> list[str]:
    """Bring the zone in line; returns lines saying what changed (or 'no changes')."""
    environment = config.environment(env)  # BadInput for an unknown environment
    lb, gaps = load_balancer(target)
    cf = Cloudflare.of(target)
    zid = zone_id(target, cf)
    wanted = config.settings()["dns"]["cloudflare"]
    records = cf.records(zid)
    now = {k: cf.setting(zid, k) for k in wanted}
    changes = plan(records, now, target.domains, lb, wanted)
    lines = [f"{environment['name']}: load balancer {lb}"] + [f"gap: {g}" for g in gaps]
    if not changes:
        return lines + [f"no changes: {len(target.domains)} domains already lead to {lb}, settings as wanted"]
    for c in changes:
        progress(("would " if dry_run else "") + c.line())
        lines.append(("would " if dry_run else "") + c.line())
        if dry_run:
            continue
        if c.action == "create":
            cf.create_record(zid, "CNAME", c.name, lb, proxied=True)
        elif c.action == "setting":
            cf.set_setting(zid, c.name, wanted[c.name])
        else:
            rid = c.detail.rsplit("[", 1)[1].rstrip("]")
            if c.action == "delete":
                cf.delete_record(zid, rid)
            elif c.action == "update":
                cf.update_record(zid, rid, content=lb, proxied=True, ttl=1)  # a proxied record's TTL is automatic
            else:
                cf.replace_record(zid, rid, {"type": "CNAME", "name": c.name, "content": lb, "proxied": True, "ttl": 1})
    return lines + [f"{'would make' if dry_run else 'made'} {len(changes)} changes"]
