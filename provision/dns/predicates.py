"""Pure judgments of already-fetched DNS records, answers and certificates.

No I/O here (beyond reading the Cloudflare ranges file at import): each
function takes data and returns a problem (a short text naming what is
wrong) or None. Unit-tested in tests/test_dns_predicates.py.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from .. import config

# Cloudflare's published edge ranges (https://www.cloudflare.com/ips-v4, kept in
# cloudflare-ips-v4.txt with its source): a proxied record answers with these instead of the origin.
CLOUDFLARE_IPS_FILE = Path(__file__).with_name("cloudflare-ips-v4.txt")


def _cidrs(text: str) -> tuple[str, ...]:
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return tuple(str(ipaddress.ip_network(line)) for line in lines if line)


CLOUDFLARE_IPV4 = _cidrs(CLOUDFLARE_IPS_FILE.read_text())


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


def azure_marker(rtype: str, content: str, suffixes=None, ranges=None) -> str | None:
    """Why a record's content leads to Azure, or None. Hostnames by suffix, addresses by range."""
    s = config.settings()["dns"]
    suffixes = s["azure_hostname_suffixes"] if suffixes is None else suffixes
    ranges = s["azure_ip_ranges"] if ranges is None else ranges
    value = _norm(content)
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        addr = None
    if addr is not None:
        for r in ranges:
            if addr in ipaddress.ip_network(r):
                return f"{value} is in the Azure range {r}"
        return None
    # CNAME/MX/SRV/NS targets; TXT content may also hold a hostname (e.g. verification)
    for token in value.replace('"', " ").split():
        for suf in suffixes:
            if token == suf or token.endswith("." + suf):
                return f"{token} is an Azure hostname (*.{suf})"
    return None


def is_cloudflare_edge(address: str) -> bool:
    try:
        a = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(a in ipaddress.ip_network(r) for r in CLOUDFLARE_IPV4)


def leads_to_load_balancer(chain: list[str], addresses: list[str], lb_host: str,
                           lb_addresses: list[str]) -> str | None:
    """Whether one answer (CNAME chain + final addresses) leads to the load balancer.

    Either the CNAME chain names the load balancer's hostname (not flattened),
    or every address is one of the load balancer's (flattened at the apex).
    """
    if _norm(lb_host) in {_norm(c) for c in chain}:
        return None
    if addresses and lb_addresses and set(addresses) <= set(lb_addresses):
        return None
    via = " -> ".join(chain) if chain else "no CNAME"
    got = ", ".join(addresses) if addresses else "no address"
    return (f"not the load balancer {lb_host} ({', '.join(lb_addresses) or 'unresolved'}):"
            f" {via}, {got}")


def consistent(answers: list[tuple]) -> str | None:
    """Repeated queries must all give the same answer (order of records aside)."""
    distinct = {a for a in answers}
    if len(distinct) <= 1:
        return None
    return f"{len(distinct)} different answers over {len(answers)} queries: " + "; ".join(
        sorted(" ".join(map(str, a)) for a in distinct))


@dataclass(frozen=True)
class CertFacts:
    subject: str
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime
    dns_names: tuple[str, ...]


def cert_facts(der: bytes) -> CertFacts:
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    return CertFacts(cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(),
                     cert.not_valid_before_utc, cert.not_valid_after_utc, names)


def validity_problem(not_before: dt.datetime, not_after: dt.datetime, now: dt.datetime,
                     min_days: int) -> str | None:
    """The certificate must be valid now and for at least `min_days` more days."""
    if now < not_before:
        return f"not yet valid (from {not_before:%Y-%m-%d %H:%M}Z)"
    if now >= not_after:
        return f"expired on {not_after:%Y-%m-%d %H:%M}Z"
    left = not_after - now
    if left < dt.timedelta(days=min_days):
        return f"expires in {left.days} days (on {not_after:%Y-%m-%d}), less than {min_days}"
    return None


def hostname_matches(hostname: str, dns_names) -> bool:
    """RFC 6125: exact match, or a wildcard as the whole leftmost label over exactly one label."""
    host = _norm(hostname)
    for pattern in (_norm(n) for n in dns_names):
        if pattern == host:
            return True
        if pattern.startswith("*.") and "*" not in pattern[2:]:
            head, _, rest = host.partition(".")
            if head and rest == pattern[2:] and rest.count(".") >= 1:
                return True
    return False


def hostname_problem(hostname: str, dns_names) -> str | None:
    if hostname_matches(hostname, dns_names):
        return None
    return f"hostname {hostname} not in the certificate's names ({', '.join(dns_names) or 'none'})"
