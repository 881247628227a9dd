"""Read-only probes of DNS, TLS and the Cloudflare zone; each returns a Finding.

Resolution uses dnspython against target.dns_server when set (offline: the
edge's loopback server), else the system resolver (live). Judgments are the
pure functions of predicates.py. Grades: what DNS answered is
target.grade("dns"), what the Cloudflare API holds target.grade("cloudflare"),
a TLS handshake target.grade("tls").

The rehearsal's edge answers a proxied name with Cloudflare edge addresses, as
Cloudflare does; its HTTPS listens on loopback, so the TLS probe connects
through the target's connect map (target.local["edge"]["connect_map"]: CIDR ->
loopback address), and says so in its evidence. Live there is no map.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from dataclasses import dataclass

import dns.exception
import dns.rcode
import dns.rdatatype
import dns.resolver

from .. import config, findings
from ..config import Target
from ..findings import Finding, combine, failed, passed
from . import predicates, sync
from .cloudflare import Cloudflare

TIMEOUT = 5.0
PROXIED_GAP = ("{name} is proxied by Cloudflare: public DNS answers Cloudflare edge addresses, so the origin "
               "was checked through the record's content in the Cloudflare API")
NOT_LOOPBACK = "refusing to connect offline to {addr}: not a loopback address"
VIA_MAP = "{answered} (Cloudflare's edge) reached at {addr} through the target's connect map"


def _dns_settings() -> dict:
    return config.settings()["dns"]


def resolver(target: Target) -> dns.resolver.Resolver:
    if target.dns_server:
        r = dns.resolver.Resolver(configure=False)
        host, port = target.dns_server
        r.nameservers, r.port = [host], int(port)
    else:
        r = dns.resolver.Resolver()
    r.lifetime = r.timeout = TIMEOUT
    r.cache = None  # each query must reach the server: consistency is what is checked
    return r


@dataclass(frozen=True)
class Answer:
    name: str
    rcode: str
    chain: tuple[str, ...]       # CNAME targets, in order
    addresses: tuple[str, ...]   # final A records, sorted
    ttl: int | None = None       # TTL of the first answer record (not part of the key: resolvers count it down)

    def key(self) -> tuple:
        return (self.rcode, self.chain, self.addresses)

    def text(self) -> str:
        if self.rcode != "NOERROR":
            return self.rcode
        via = "".join(f" -> {c}" for c in self.chain)
        return f"{self.name}{via} = {', '.join(self.addresses) or 'no address'}"


def query(r: dns.resolver.Resolver, name: str, tcp: bool = False) -> Answer:
    """One A query; NXDOMAIN and failures become an Answer too (the probe judges them)."""
    try:
        a = r.resolve(name, "A", search=False, tcp=tcp, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return Answer(name, "NXDOMAIN", (), ())
    except dns.resolver.NoNameservers as exc:
        return Answer(name, f"SERVFAIL/REFUSED ({str(exc)[:120]})", (), ())
    except dns.exception.Timeout:
        return Answer(name, "timeout", (), ())
    chain = tuple(rd.target.to_text().rstrip(".").lower() for rrset in a.response.answer
                  if rrset.rdtype == dns.rdatatype.CNAME for rd in rrset)
    addrs = tuple(sorted(rd.address for rd in a.rrset)) if a.rrset is not None else ()
    ttl = a.response.answer[0].ttl if a.response.answer else None
    return Answer(name, dns.rcode.to_text(a.response.rcode()), chain, addrs, ttl)


def _zone_records(target: Target) -> tuple[Cloudflare, str, list[dict]]:
    cf = Cloudflare.of(target)
    zid = sync.zone_id(target, cf)
    return cf, zid, cf.records(zid)


def load_balancer(target: Target, r=None) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(hostname, its addresses, gaps)."""
    lb, gaps = sync.load_balancer(target)
    return lb, query(r or resolver(target), lb).addresses, gaps


def judge_answer(domain: str, answer: Answer, lb: str, lb_addrs, records: list[dict] = ()) -> Finding:
    """One answer for `domain` leads to the load balancer (directly or through Cloudflare's proxy)."""
    subject = f"{domain} resolves to the load balancer"
    expected = f"{lb} ({', '.join(lb_addrs) or 'unresolved'})"
    if answer.rcode != "NOERROR" or not answer.addresses:
        return failed(subject, expected, answer.text())
    problem = predicates.leads_to_load_balancer(list(answer.chain), list(answer.addresses), lb, list(lb_addrs))
    if problem is None:
        return passed(subject, expected, answer.text())
    mine = [r for r in records if r["name"] == domain.lower() and r["type"] in sync.ADDRESS_TYPES]
    if (mine and all(r.get("proxied") and r["content"].rstrip(".").lower() == lb.lower() for r in mine)
            and all(predicates.is_cloudflare_edge(a) for a in answer.addresses)):
        return passed(subject, expected, answer.text() + " (Cloudflare edge)", gaps=(PROXIED_GAP.format(name=domain),))
    return failed(subject, expected, problem)


def check_resolution(target: Target, queries: int | None = None) -> Finding:
    """Every managed domain resolves, the same way over repeated UDP and TCP queries, to the load balancer."""
    n = queries or _dns_settings()["consistency_queries"]
    r = resolver(target)
    lb, lb_addrs, gaps = load_balancer(target, r)
    _, _, records = _zone_records(target)
    out = []
    for d in target.domains:
        answers = [query(r, d, tcp=bool(i % 2)) for i in range(n)]
        f = judge_answer(d, answers[0], lb, lb_addrs, records)
        drift = predicates.consistent([a.key() for a in answers])
        if drift:
            f = failed(f.subject, f"the same answer {n} times", drift)
        out.append(f.graded(target.grade("dns")))
    res = combine(f"{len(target.domains)} domains resolve consistently ({n} queries, UDP and TCP) "
                  f"to the load balancer {lb}", out)
    return Finding(res.ok, res.subject, res.expected, res.actual, res.evidence, tuple(dict.fromkeys(gaps + res.gaps)),
                   res.grade)


def check_no_azure(target: Target) -> Finding:
    """No record in the zone, and no answer for a managed domain, leads to Azure."""
    r = resolver(target)
    _, _, records = _zone_records(target)
    out = []
    cloudflare, dns_grade = target.grade("cloudflare"), target.grade("dns")
    for rec in records:
        why = predicates.azure_marker(rec["type"], rec["content"])
        subject = f"record {rec['name']} {rec['type']} {rec['content']}"
        out.append(failed(subject, "no Azure address or hostname", why, grade=cloudflare) if why
                   else passed(subject, grade=cloudflare))
    for d in target.domains:
        a = query(r, d)
        whys = [w for w in (predicates.azure_marker("CNAME", c) for c in a.chain) if w]
        whys += [w for w in (predicates.azure_marker("A", x) for x in a.addresses) if w]
        subject = f"answer for {d}: {a.text()}"
        out.append(failed(subject, "no Azure address or hostname", "; ".join(whys), grade=dns_grade) if whys
                   else passed(subject, grade=dns_grade))
    return combine(f"no DNS record or answer leads to Azure ({len(records)} records, {len(target.domains)} domains)",
                   out)


def health_path(domain: str) -> str:
    paths = _dns_settings()["health_paths"]
    return paths["api"] if domain.lower().startswith("api.") else paths["web"]


def connect_address(target: Target, addr: str) -> str:
    """Where to connect for `addr`: the connect map's address for it, else `addr` itself."""
    cmap = (target.local.get("edge") or {}).get("connect_map") or {}
    ip = ipaddress.ip_address(addr)
    for cidr, via in cmap.items():
        if ip in ipaddress.ip_network(cidr):
            return via
    return addr


def _connect(addr: str, port: int, ctx: ssl.SSLContext, domain: str) -> ssl.SSLSocket:
    sock = socket.create_connection((addr, port), timeout=TIMEOUT)
    try:
        return ctx.wrap_socket(sock, server_hostname=domain)
    except BaseException:
        sock.close()
        raise


def _get(tls: ssl.SSLSocket, domain: str, path: str) -> str:
    tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {domain}\r\nConnection: close\r\n"
                "User-Agent: provision-verify\r\n\r\n".encode())
    data = b""
    while b"\r\n" not in data:
        chunk = tls.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode(errors="replace")


def fetch(target: Target, domain: str, path: str, r=None, limit: int = 65536) -> tuple[int, dict, bytes]:
    """GET https://domain/path as a browser would (the target's resolver and connect map, a verifying TLS
    client): (status, lower-cased headers, the first `limit` bytes of the body). OSError/ssl.SSLError propagate."""
    a = query(r or resolver(target), domain)
    if not a.addresses:
        raise OSError(f"{domain} does not resolve: {a.text()}")
    addr = connect_address(target, a.addresses[0])
    if target.dns_server and not ipaddress.ip_address(addr).is_loopback:
        raise OSError(NOT_LOOPBACK.format(addr=addr))
    ctx = ssl.create_default_context(cafile=target.ca_bundle) if target.ca_bundle else ssl.create_default_context()
    with _connect(addr, target.https_port, ctx, domain) as tls:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {domain}\r\nConnection: close\r\n"
                    "User-Agent: provision-verify\r\n\r\n".encode())
        data = b""
        while len(data) < limit:
            chunk = tls.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:]) if k}
    return status, headers, body[:limit]


def check_tls_domain(target: Target, domain: str, r=None, min_days: int | None = None,
                     now: dt.datetime | None = None) -> Finding:
    """HTTPS on `domain`: a certificate valid >= min_days, naming it, chaining to a trusted CA; health 200."""
    return _tls_domain(target, domain, r, min_days, now).graded(target.grade("tls"))


def _tls_domain(target: Target, domain: str, r, min_days: int | None, now: dt.datetime | None) -> Finding:
    min_days = min_days or _dns_settings()["min_certificate_days"]
    now = now or dt.datetime.now(dt.UTC)
    trust = target.ca_bundle or "the system store"
    subject = f"https://{domain}{health_path(domain)} (port {target.https_port})"
    expected = f"certificate valid >= {min_days} days, for {domain}, verified by {trust}; HTTP 200"
    a = query(r or resolver(target), domain)
    if not a.addresses:
        return failed(subject, expected, f"{domain} does not resolve: {a.text()}")
    answered = a.addresses[0]
    addr = connect_address(target, answered)
    if target.dns_server and not ipaddress.ip_address(addr).is_loopback:
        return failed(subject, expected, NOT_LOOPBACK.format(addr=addr))
    problems, evidence = [], []
    if addr != answered:
        evidence.append(VIA_MAP.format(answered=answered, addr=addr))
    # 1) what the server presents, unverified, judged by the pure predicates
    raw = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    raw.check_hostname, raw.verify_mode = False, ssl.CERT_NONE
    try:
        with _connect(addr, target.https_port, raw, domain) as tls:
            facts = predicates.cert_facts(tls.getpeercert(binary_form=True))
    except OSError as exc:
        return failed(subject, expected, f"no TLS at {addr}:{target.https_port}: {exc}")
    evidence.append(f"certificate {facts.subject} issued by {facts.issuer}, valid "
                    f"{facts.not_before:%Y-%m-%d} to {facts.not_after:%Y-%m-%d}, names {', '.join(facts.dns_names)}")
    for p in (predicates.validity_problem(facts.not_before, facts.not_after, now, min_days),
              predicates.hostname_problem(domain, facts.dns_names)):
        if p:
            problems.append(p)
    # 2) a verifying client, as a browser would, then the health endpoint
    ctx = ssl.create_default_context(cafile=target.ca_bundle) if target.ca_bundle else ssl.create_default_context()
    try:
        with _connect(addr, target.https_port, ctx, domain) as tls:
            status = _get(tls, domain, health_path(domain))
            evidence.append(f"{tls.version()} {tls.cipher()[0]}; {status}")
            if " 200 " not in f"{status} ":
                problems.append(f"health answered {status or 'nothing'}")
    except ssl.SSLCertVerificationError as exc:
        problems.append(f"certificate does not verify against {trust}: {exc.verify_message}")
    except (OSError, ssl.SSLError) as exc:
        problems.append(f"HTTPS failed: {exc}")
    if problems:
        return failed(subject, expected, "; ".join(problems), evidence)
    return passed(subject, expected, f"valid until {facts.not_after:%Y-%m-%d}, HTTP 200", evidence)


def check_tls(target: Target, min_days: int | None = None) -> Finding:
    r = resolver(target)
    days = min_days or _dns_settings()["min_certificate_days"]
    return combine(f"{len(target.domains)} domains answer HTTPS with a certificate valid >= {days} days",
                   [check_tls_domain(target, d, r, days) for d in target.domains])


def check_cloudflare_settings(target: Target, ssl_mode: str | None = None, always_https: str | None = None) -> Finding:
    wanted = dict(_dns_settings()["cloudflare"])
    if ssl_mode:
        wanted["ssl"] = ssl_mode
    if always_https:
        wanted["always_use_https"] = always_https
    cf = Cloudflare.of(target)
    zid = sync.zone_id(target, cf)
    got = {k: cf.setting(zid, k) for k in wanted}
    return settings_finding(wanted, got).graded(target.grade("cloudflare"))


def settings_finding(wanted: dict, got: dict) -> Finding:
    """Pure: the zone settings as wanted; the actual value names only the settings that differ."""
    subject = "Cloudflare SSL mode and Always Use HTTPS"
    expected = ", ".join(f"{k}={v}" for k, v in wanted.items())
    wrong = {k: got.get(k) for k, v in wanted.items() if got.get(k) != v}
    evidence = tuple(f"{'FAIL' if k in wrong else 'ok  '} {k}={got.get(k)} (wanted {v})" for k, v in wanted.items())
    if wrong:
        return failed(subject, expected, ", ".join(f"{k}={v}" for k, v in wrong.items()), evidence)
    return passed(subject, expected, ", ".join(f"{k}={v}" for k, v in got.items()), evidence)


def caught(finding: Finding, naming: str) -> Finding:
    """A seeded fault must turn the check red, and the failing part must name `naming`."""
    return findings.caught(finding, naming)


def run_all(target: Target) -> list[Finding]:
    return [check_resolution(target), check_no_azure(target), check_tls(target), check_cloudflare_settings(target)]
