"""Cloudflare's Origin CA in the edge stand-in (the plain model): signs CSRs, lists and revokes.

As the API documents it (developers.cloudflare.com/api/resources/origin_ca_certificates):
`POST /certificates` {csr, hostnames, request_type, requested_validity} -> {id, certificate,
csr, hostnames, expires_on, request_type, requested_validity}; `GET /certificates?zone_id=`
(zone_id required); `GET /certificates/{id}`; `DELETE /certificates/{id}` (revoke) ->
{id, revoked_at}. The id is the certificate's serial number. Hostnames are FQDNs of zones
the caller holds (a wildcard only as one leading "*." label); requested_validity one of the
documented days (default 5475). The certificate is the leaf alone (no chain), as Cloudflare's is:
O=CloudFlare, Inc., OU=CloudFlare Origin CA, CN=CloudFlare Origin Certificate.

What differs: the root is made per run (its certificate is published in the edge state,
edge_server.ORIGIN_CA_FILE), one ECDSA root signs both request types; refusal codes other than
10000 are the stand-in's (the API reference does not list them).
"""
from __future__ import annotations

import datetime as dt
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .edge_cloudflare_model import ApiError, norm

REQUEST_TYPES = ("origin-rsa", "origin-ecc", "keyless-certificate")
VALIDITY_DAYS = (7, 30, 90, 365, 730, 1095, 5475)
DEFAULT_VALIDITY = 5475
ROOT_NAME = "CloudFlare Origin SSL ECC Certificate Authority (offline stand-in)"
BAD_CSR = "Invalid or missing CSR"
BAD_REQUEST_TYPE = "Invalid request_type: expected one of " + ", ".join(REQUEST_TYPES)
BAD_VALIDITY = "Invalid requested_validity: expected one of " + ", ".join(map(str, VALIDITY_DAYS))
BAD_HOSTNAMES = "hostnames must be a non-empty list of fully qualified domain names"
FOREIGN_HOSTNAME = ("Failed to validate requested hostname {name}: This zone is either not part of your account, "
                    "or you do not have access to it. Please contact support if using a multi-user organization.")
NO_ZONE_ID = "zone_id is required"
CERT_NOT_FOUND = "Certificate not found"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def _wildcard_ok(name: str) -> bool:
    """A wildcard only as the whole leftmost label, over a multi-label name (*.example.com, not *.com)."""
    head, _, rest = name.partition(".")
    return "*" not in rest and ("*" not in head or (head == "*" and "." in rest))


def zone_of(zones, name: str) -> str | None:
    """The id of the zone (of `zones`, Zone objects) a hostname belongs to, or None."""
    base = name[2:] if name.startswith("*.") else name
    return next((z.id for z in zones if base == z.name or base.endswith("." + z.name)), None)


class OriginCA:
    """The root (key in memory only), and the certificates it issued: id -> record (with its zone)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CloudFlare, Inc."),
                          x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ROOT_NAME)])
        now = _now()
        self.root = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=6000))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=2), critical=True)
                     .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
                     .sign(self.key, hashes.SHA256()))
        self.certs: dict[str, dict] = {}

    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    @staticmethod
    def validate(body: dict, zone_of) -> tuple[x509.CertificateSigningRequest, list[str], str, int, set[str]]:
        """(csr, hostnames, request_type, days, zone ids) of a create request, or the refusal.
        `zone_of(hostname)` -> the id of the zone it belongs to, or None."""
        try:
            csr = x509.load_pem_x509_csr(str(body.get("csr") or "").encode())
        except ValueError:
            raise ApiError(400, 1010, BAD_CSR) from None
        if not csr.is_signature_valid:
            raise ApiError(400, 1010, BAD_CSR)
        rtype = body.get("request_type")
        if rtype not in REQUEST_TYPES:
            raise ApiError(400, 1012, BAD_REQUEST_TYPE)
        days = body.get("requested_validity", DEFAULT_VALIDITY)
        if days not in VALIDITY_DAYS:
            raise ApiError(400, 1013, BAD_VALIDITY)
        names = body.get("hostnames")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and "." in n for n in names):
            raise ApiError(400, 1014, BAD_HOSTNAMES)
        names = [norm(n) for n in names]
        zones = set()
        for n in names:
            z = zone_of(n) if _wildcard_ok(n) else None
            if z is None:
                raise ApiError(400, 1010, FOREIGN_HOSTNAME.format(name=n))
            zones.add(z)
        return csr, names, rtype, days, zones

    def issue(self, csr: x509.CertificateSigningRequest, names: list[str], rtype: str, days: int,
              zones: set[str]) -> dict:
        now = _now()
        serial = x509.random_serial_number()
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CloudFlare, Inc."),
                                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "CloudFlare Origin CA"),
                                         x509.NameAttribute(NameOID.COMMON_NAME, "CloudFlare Origin Certificate")]))
                .issuer_name(self.root.subject).public_key(csr.public_key()).serial_number(serial)
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                               critical=False)
                .sign(self.key, hashes.SHA256()))
        rec = {"id": str(serial), "certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
               "csr": csr.public_bytes(serialization.Encoding.PEM).decode(), "hostnames": names,
               "expires_on": _stamp(cert.not_valid_after_utc), "request_type": rtype, "requested_validity": days}
        with self.lock:
            self.certs[rec["id"]] = {"result": rec, "zones": zones, "revoked_at": None}
        return dict(rec)

    def listed(self, zone_id: str | None) -> list[dict]:
        """The zone's certificates that are not revoked."""
        if not zone_id:
            raise ApiError(400, 1001, NO_ZONE_ID)
        with self.lock:
            return [dict(c["result"]) for c in self.certs.values() if zone_id in c["zones"] and not c["revoked_at"]]

    def entry(self, cert_id: str) -> dict:
        with self.lock:
            c = self.certs.get(cert_id)
        if c is None:
            raise ApiError(404, 1002, CERT_NOT_FOUND)
        return c

    def get(self, cert_id: str) -> dict:
        c = self.entry(cert_id)
        return {**c["result"], **({"revoked_at": c["revoked_at"]} if c["revoked_at"] else {})}

    def revoke(self, cert_id: str) -> dict:
        c = self.entry(cert_id)
        with self.lock:
            c["revoked_at"] = c["revoked_at"] or _stamp(_now())
        return {"id": cert_id, "revoked_at": c["revoked_at"]}
