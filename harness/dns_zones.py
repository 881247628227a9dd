"""P6's generated zones and its oracle: what a zone's records must answer, computed here.

`zones(...)` is a hypothesis strategy of record sets for one Cloudflare zone:
each managed domain and a few other names (hops of CNAME chains, a leftover
`www`) get one shape: a CNAME to the load balancer, a CNAME to another name of
the zone (chains, never loops), A records (the load balancer's address, the
old Azure address, others), a CNAME to an Azure hostname, a CNAME to a name
that has no record, or nothing; TXT records beside them; TTLs from automatic
(1) to a day; proxied or not. They are written through the Cloudflare API
client (`write`), the path `provision dns sync` uses.

`expect(...)` is the oracle: from the drawn records alone (RFC 1034 CNAME
following, Cloudflare's documented apex CNAME flattening and automatic TTL of
300 s) it says which addresses and CNAME chain an A query must get and whether
the name leads to the load balancer. It never calls the edge's answer code.
"""
from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

AUTO_TTL = 300      # Cloudflare: ttl 1 is "Automatic", served as 300 s
MAX_HOPS = 4
TTLS = st.one_of(st.just(1), st.sampled_from([60, 120, 300, 3600, 86400]), st.integers(60, 86400))
AZURE_TARGETS = ("cloudtolocalllm-aks.eastus.cloudapp.azure.com", "ctl-web.azurewebsites.net",
                 "ctl.trafficmanager.net", "ctl-x.z01.azurefd.net")


@dataclass(frozen=True)
class Rec:
    type: str
    name: str      # fully qualified, lower case, no trailing dot
    content: str
    ttl: int = 1
    proxied: bool = False

    def body(self) -> dict:
        return {"type": self.type, "name": self.name, "content": self.content, "ttl": self.ttl,
                "proxied": self.proxied}


@dataclass(frozen=True)
class Expected:
    """What an A query for a name must get, by the oracle."""
    chain: tuple[str, ...]          # CNAME targets as a resolver shows them (none when flattened)
    addresses: frozenset[str]
    ttl: int | None                 # TTL of the first answer record (the CNAME, or the A set)
    leads_to_lb: bool
    end: str                        # where the chain ends: address | nodata | nxdomain | external
    flattened: bool = False         # a CNAME at the apex, answered as the target's addresses

    def text(self) -> str:
        via = "".join(f" -> {c}" for c in self.chain)
        return f"{via or 'no CNAME'} = {', '.join(sorted(self.addresses)) or self.end}" + \
            (" (leads to the load balancer)" if self.leads_to_lb else "")

    def rcode(self, recursive: bool) -> str | None:
        """The rcode by RFC 1034/6604 (the last name's); None where the oracle does not say."""
        if self.flattened and self.end != "address":
            return None   # Cloudflare documents no answer for a flattening that finds nothing
        if self.end == "external":
            # the authoritative server does not chase a name outside its zone; offline nothing
            # answers for it, so a resolver fails (SERVFAIL): never an address
            return "SERVFAIL" if recursive else "NOERROR"
        return "NXDOMAIN" if self.end == "nxdomain" else "NOERROR"


def _shape(name: str, later: list[str], lb_host: str, addresses: list[str], zone: str):
    """One name's address records: a strategy of lists of Rec."""
    def cname(target):
        return st.builds(lambda ttl, px: [Rec("CNAME", name, target, ttl, px)], TTLS, st.booleans())

    def a_set(addrs):
        return st.builds(lambda ttl, px: [Rec("A", name, a, ttl, px) for a in addrs], TTLS, st.booleans())

    options = [cname(lb_host),
               st.sets(st.sampled_from(addresses), min_size=1, max_size=3).map(sorted).flatmap(a_set),
               st.sampled_from(AZURE_TARGETS).flatmap(cname),
               cname(f"gone.{zone}"),
               st.just([])]
    if later:
        options.append(st.sampled_from(later).flatmap(cname))
    return st.one_of(options)


@st.composite
def zones(draw, zone: str, domains, lb_host: str, lb_addr: str, old_ip: str) -> list[Rec]:
    """The record sets of one zone (see the module docstring)."""
    addresses = [lb_addr, old_ip, "127.0.43.7", "192.0.2.10", "198.51.100.5"]
    hops = [f"hop{i}.{zone}" for i in range(draw(st.integers(0, MAX_HOPS)))]
    names = [d.lower() for d in domains] + hops + [f"www.{zone}"]
    out: list[Rec] = []
    for name in names:
        later = hops[hops.index(name) + 1:] if name in hops else hops   # chains go forward only: no loops
        out += draw(_shape(name, later, lb_host, addresses, zone))
        if draw(st.integers(0, 3)) == 0:
            out.append(Rec("TXT", name, draw(st.sampled_from(["v=spf1 -all", "google-site-verification=x1",
                                                              "ctl owner=platform"])), draw(TTLS)))
    return out


def _ttl(ttl: int) -> int:
    return AUTO_TTL if ttl == 1 else ttl


def expect(records, qname: str, zone: str, lb_host: str, lb_addr: str) -> Expected:
    """The oracle for an A query of `qname` (see the module docstring)."""
    by_name: dict[str, list[Rec]] = {}
    for r in records:
        by_name.setdefault(r.name, []).append(r)
    q = qname.rstrip(".").lower()
    chain: list[str] = []
    first_ttl = None
    name = q
    for _ in range(MAX_HOPS + 8):
        if name == lb_host:
            return _result(q, zone, chain, frozenset({lb_addr}), first_ttl, "address", lb_host, lb_addr)
        if not (name == zone or name.endswith("." + zone)):
            return _result(q, zone, chain, frozenset(), first_ttl, "external", lb_host, lb_addr)
        recs = by_name.get(name, [])
        cname = [r for r in recs if r.type == "CNAME"]
        if cname:
            first_ttl = _ttl(cname[0].ttl) if first_ttl is None else first_ttl
            name = cname[0].content
            chain.append(name)
            continue
        a = [r for r in recs if r.type == "A"]
        if a:
            first_ttl = _ttl(a[0].ttl) if first_ttl is None else first_ttl
            return _result(q, zone, chain, frozenset(r.content for r in a), first_ttl, "address", lb_host, lb_addr)
        exists = bool(recs) or any(n.endswith("." + name) for n in by_name)
        return _result(q, zone, chain, frozenset(), first_ttl, "nodata" if exists else "nxdomain", lb_host, lb_addr)
    raise AssertionError(f"CNAME chain of {q} too long: {chain}")


def _result(q, zone, chain, addrs, ttl, end, lb_host, lb_addr) -> Expected:
    to_lb = bool(addrs) and addrs <= {lb_addr}
    if q == zone and chain:
        # Cloudflare flattens a CNAME at the apex: the target's addresses under the apex name, no CNAME
        return Expected((), addrs, ttl if addrs else None, to_lb, end, flattened=True)
    return Expected(tuple(chain), addrs, ttl, lb_host in chain or to_lb, end)


def write(cf, zone_id: str, records) -> None:
    """Replace every record of the zone with `records`, through the Cloudflare API client."""
    for old in cf.records(zone_id):
        cf.delete_record(zone_id, old["id"])
    for r in records:
        cf.create_record(zone_id, r.type, r.name, r.content, proxied=r.proxied, ttl=r.ttl)


def from_api(records: list[dict]) -> list[Rec]:
    """Records as the API lists them, for the oracle (after `provision dns sync` changed them)."""
    return [Rec(r["type"], r["name"].lower(), r["content"].rstrip(".").lower() if r["type"] == "CNAME"
                else r["content"], int(r["ttl"]), bool(r.get("proxied"))) for r in records]


# ---------------------------------------------------------------- one example of P6

@dataclass(frozen=True)
class Path:
    """One way of asking: the edge's authoritative server directly, or the recursive resolver."""
    name: str
    resolver: object     # dns.resolver.Resolver
    tcp: bool
    recursive: bool


def compare(expected: Expected, answer, path: Path, lb_verdict: bool) -> list[str]:
    """What differs between the oracle and one answer (empty: they agree)."""
    problems = []
    if set(answer.addresses) != set(expected.addresses):
        problems.append(f"addresses {sorted(answer.addresses)}, oracle {sorted(expected.addresses)}")
    rcode = expected.rcode(path.recursive)
    if rcode is not None and not answer.rcode.startswith(rcode):
        problems.append(f"rcode {answer.rcode}, oracle {rcode}")
    if rcode == "NOERROR" and answer.rcode == "NOERROR":
        if tuple(answer.chain) != expected.chain:
            problems.append(f"chain {list(answer.chain)}, oracle {list(expected.chain)}")
        # a resolver counts TTLs down while it holds them; the authoritative server gives them as stored
        if expected.ttl is not None:
            low = expected.ttl - (5 if path.recursive else 0)
            if not low <= (answer.ttl or -1) <= expected.ttl:
                problems.append(f"ttl {answer.ttl}, oracle {expected.ttl}")
    if lb_verdict != expected.leads_to_lb:
        problems.append(f"the check says {'leads' if lb_verdict else 'does not lead'} to the load balancer, "
                        f"the oracle says {'it does' if expected.leads_to_lb else 'it does not'}")
    return problems
