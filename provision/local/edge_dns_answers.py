"""What the edge's authoritative DNS answers for one question, from the Cloudflare model.

As Cloudflare does: a proxied name answers with Cloudflare edge addresses in
strict mode (the rehearsal: `Store.edge_addresses`, in the published ranges,
no CNAME, TTL 300); offline it answers with the record's target (a named gap
of the stand-in). Subdomain CNAMEs answer with the CNAME then the target's A record,
the apex CNAME is flattened into A records; the offline load balancer's
hostname answers with its address.
"""
from __future__ import annotations

import functools
import json

import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from .edge_cloudflare_model import Store, Zone, norm

AUTO_TTL = 300  # Cloudflare's ttl 1 means "automatic"; it answers with 300
LB_TTL = 60
MAX_CHAIN = 8
SOA = "ada.ns.cloudflare.com. dns.cloudflare.com. 2345678901 10000 2400 604800 1800"


@functools.lru_cache(maxsize=4096)
def _rrset_cached(name: str, ttl: int, rtype: str, values: tuple):
    # Parsing text rdata is most of a query's cost; answers are never mutated, so share them.
    return dns.rrset.from_text_list(dns.name.from_text(name), ttl, dns.rdataclass.IN, rtype, list(values))


def rrset(name: str, ttl: int, rtype: str, values: list[str]):
    return _rrset_cached(name, ttl, rtype, tuple(values))


def _ttl(r: dict) -> int:
    return AUTO_TTL if r["ttl"] == 1 else r["ttl"]


def _rdata(r: dict) -> str:
    if r["type"] in ("CNAME", "NS"):
        return r["content"] + "."
    if r["type"] == "MX":
        return f"{r.get('priority', 10)} {r['content']}."
    if r["type"] == "TXT":
        return json.dumps(r["content"])
    return r["content"]


def soa(z: Zone):
    return rrset(z.name, 3600, "SOA", [SOA])


def answer(store: Store, z: Zone, qname: str, qtype: int):
    """(rcode, answer rrsets, authoritative) for one question to zone `z`'s server."""
    q = norm(qname)
    with store.lock:
        if store.is_lb(q):
            wanted = qtype in (dns.rdatatype.A, dns.rdatatype.ANY)
            return dns.rcode.NOERROR, [rrset(q, LB_TTL, "A", [store.lb_addr])] if wanted else [], True
        if not (q == z.name or q.endswith("." + z.name)):
            return dns.rcode.REFUSED, [], False
        return _in_zone(store, z, q, qtype, depth=0)


def _in_zone(store: Store, z: Zone, q: str, qtype: int, depth: int):
    recs = [r for r in z.records.values() if r["name"] == q]
    proxied = store.strict and any(r["proxied"] for r in recs)
    if proxied and qtype in (dns.rdatatype.A, dns.rdatatype.ANY):
        return dns.rcode.NOERROR, [rrset(q, AUTO_TTL, "A", store.edge_addresses(q))], True
    if proxied and qtype in (dns.rdatatype.AAAA, dns.rdatatype.CNAME):
        return dns.rcode.NOERROR, [], True  # the origin stays hidden; no IPv6 ranges here
    cname = [] if proxied else [r for r in recs if r["type"] == "CNAME"]
    if cname and qtype != dns.rdatatype.CNAME:
        r = cname[0]
        rcode, chased = _chase(store, z, r["content"], qtype, depth + 1)
        if q == z.name:
            # CNAME flattening at the apex: the target's data under the apex name
            rrs = [rrset(q, _ttl(r), dns.rdatatype.to_text(s.rdtype), [d.to_text() for d in s])
                   for s in chased if s.rdtype == qtype]
            return dns.rcode.NOERROR, rrs, True
        # RFC 6604: the rcode is the last name's (NXDOMAIN when the chain ends at a missing name of the zone)
        return rcode, [rrset(q, _ttl(r), "CNAME", [r["content"] + "."])] + chased, True
    want = dns.rdatatype.to_text(qtype)
    match = [r for r in recs if r["type"] == want or qtype == dns.rdatatype.ANY]
    if match:
        by_type: dict[str, list] = {}
        for r in match:
            by_type.setdefault(r["type"], []).append(r)
        return dns.rcode.NOERROR, [rrset(q, _ttl(rs[0]), t, [_rdata(r) for r in rs]) for t, rs in by_type.items()], True
    exists = recs or any(r["name"].endswith("." + q) for r in z.records.values())
    return (dns.rcode.NOERROR if exists else dns.rcode.NXDOMAIN), [], True


def _chase(store: Store, z: Zone, target: str, qtype: int, depth: int) -> tuple[int, list]:
    """(rcode of the chain's last name, its rrsets) for a CNAME's target."""
    if depth > MAX_CHAIN:
        return dns.rcode.NOERROR, []
    if store.is_lb(target):
        return dns.rcode.NOERROR, [rrset(target, LB_TTL, "A", [store.lb_addr])] if qtype == dns.rdatatype.A else []
    if target == z.name or target.endswith("." + z.name):
        rcode, rrs, _ = _in_zone(store, z, target, qtype, depth)
        return rcode, rrs
    return dns.rcode.NOERROR, []  # outside: an authoritative server does not chase it
