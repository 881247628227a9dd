"""Seeded DNS and TLS faults, offline only, never on the shared zone or endpoint.

A DNS fault gets a fresh zone on the Cloudflare stand-in (its own account and
its own DNS port), seeded by `sync` the way the migration leaves it, then
broken through the same API client. TLS faults are separate endpoints the
edge serves from the start (target.local["edge"]["tls_faults"]). Live, nothing
is ever broken on purpose (the live target declares cannot["seeded_faults"]).
"""
from __future__ import annotations

import uuid
from contextlib import contextmanager

from provision import config, errors
from provision.config import Target
from provision.dns import sync
from provision.dns.cloudflare import Cloudflare

DNS_FAULTS = ("record-to-old-ip", "missing-api-record", "leftover-azure-record", "ssl-flexible", "always-https-off")
# Zone-setting faults: what a hurried operator might click in the dashboard (setting -> value).
SETTING_FAULTS = {"ssl-flexible": ("ssl", "flexible"), "always-https-off": ("always_use_https", "off")}
TLS_FAULTS = ("expired", "wrong-hostname", "untrusted-ca")
UNKNOWN_FAULT = "unknown seeded fault {fault!r}: expected one of {known}"
OFFLINE_ONLY = "seeded faults need the offline edge stand-in (target.local['edge'])"
# What a leftover AKS-era record looks like (an Azure public IP's DNS label).
LEFTOVER_AZURE = ("www", "cloudtolocalllm-aks.eastus.cloudapp.azure.com")


def _edge(target: Target) -> dict:
    reason = target.cannot.get("seeded_faults")
    edge = target.local.get("edge")
    if reason or not edge:
        raise errors.Refused(reason or OFFLINE_ONLY)
    return edge


def _zone_dns_server(cf: Cloudflare, zone_id: str) -> tuple[str, int]:
    """Stand-in only (not a Cloudflare route): the loopback DNS port serving this zone."""
    root = cf.base.removesuffix("/client/v4")
    r = cf.session.get(f"{root}/__standin/zones/{zone_id}/dns_server", timeout=cf.timeout)
    r.raise_for_status()
    host, port = r.json()["result"]["dns_server"]
    return host, int(port)


@contextmanager
def fresh_zone(target: Target):
    """A new zone of the same name, seeded like after the migration; deleted afterwards."""
    _edge(target)
    cf = Cloudflare.of(target)
    zone = cf.create_zone(config.settings()["domains"]["zone"], account_id=f"fault-{uuid.uuid4().hex[:12]}")
    try:
        host, port = _zone_dns_server(cf, zone["id"])
        t = target.with_(cloudflare_zone=zone["id"], dns_server=(host, int(port)))
        sync.sync(t, "dev")
        yield t
    finally:
        cf.delete_zone(zone["id"])


def apply_dns_fault(target: Target, fault: str) -> str:
    """Break the (fresh) zone of `target`; returns what was done."""
    if fault not in DNS_FAULTS:
        raise errors.BadInput(UNKNOWN_FAULT.format(fault=fault, known=", ".join(DNS_FAULTS)))
    cf = Cloudflare.of(target)
    zid = target.cloudflare_zone
    zone = config.settings()["domains"]["zone"]
    if fault == "record-to-old-ip":
        old_ip = config.settings()["edge"]["old_azure_ip"]
        rec = cf.records(zid, name=f"app.{zone}")[0]
        cf.replace_record(zid, rec["id"],
                          {"type": "A", "name": rec["name"], "content": old_ip, "proxied": False, "ttl": 1})
        return f"app.{zone} -> A {old_ip} (the old AKS ingress address)"
    if fault in SETTING_FAULTS:
        setting, value = SETTING_FAULTS[fault]
        cf.set_setting(zid, setting, value)
        return f"zone setting {setting} = {value}"
    if fault == "missing-api-record":
        for rec in cf.records(zid, name=f"api.{zone}"):
            cf.delete_record(zid, rec["id"])
        return f"api.{zone} deleted"
    name, content = LEFTOVER_AZURE
    cf.create_record(zid, "CNAME", name, content, proxied=False)
    return f"{name}.{zone} -> CNAME {content}"


def tokens_without(permission: str, job: str = "deploy") -> dict[str, list[str]]:
    """The rehearsal's Cloudflare tokens (settings dns.cloudflare_tokens) with `permission` taken
    from `job`'s: pass to `provision.local.edge.start(..., strict=True, tokens=...)` to seed
    "a Cloudflare token without a scope the run uses"."""
    tokens = {k: list(v) for k, v in config.settings()["dns"]["cloudflare_tokens"].items()}
    if job not in tokens or permission not in tokens[job]:
        raise errors.BadInput(f"the {job!r} token has no permission {permission!r}: {tokens.get(job)}")
    tokens[job].remove(permission)
    return tokens


def tls_fault_target(target: Target, domain: str, fault: str) -> Target:
    """The target narrowed to one domain, served by the endpoint with the seeded TLS fault."""
    if fault not in TLS_FAULTS:
        raise errors.BadInput(UNKNOWN_FAULT.format(fault=fault, known=", ".join(TLS_FAULTS)))
    if domain not in target.domains:
        raise errors.BadInput(f"unknown domain {domain!r}: expected one of {', '.join(target.domains)}")
    host, port = _edge(target)["tls_faults"][fault]
    return target.with_(domains=(domain,), https_port=int(port))
