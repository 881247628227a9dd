"""`provision dns origin-cert`: the origin certificate that Cloudflare's SSL mode strict verifies.

With SSL mode strict (Full (strict)), Cloudflare's edge connects to the origin over TLS and
answers 526 "Invalid SSL certificate" unless the origin presents an unexpired certificate
naming the host, issued by a public CA or by Cloudflare's Origin CA. The origin is
ingress-nginx; it presents the Ingress's TLS secret (settings dns.origin_certificate.secret),
else its fake default certificate. So the operator makes that secret once, and again when it
nears expiry:

1. a private key and a CSR are made here (`cryptography`); the key leaves this machine only
   into the cluster Secret;
2. Cloudflare's Origin CA signs the CSR: `POST /certificates` (hostnames: the app's domains,
   request_type, requested_validity), with an API token holding the zone permission
   "SSL and Certificates Edit" (the operator's token: the Origin CA API takes API tokens with
   that permission today; it used to take only the account's Origin CA Key);
3. a `kubernetes.io/tls` Secret is written in the app's namespace.

Idempotent: when the Secret's certificate covers every domain, is one of the zone's Origin CA
certificates that Cloudflare's API lists, has its private key, and has more than `renew_days`
left, nothing is written. Judgments are the pure `certificate_problems` (the edge stand-in
judges what it reads from the cluster with it too) and `check_ingress_tls`.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from .. import config, errors
from ..config import Target
from ..constants import ORIGIN_CA_ID_ANNOTATION
from ..findings import Finding, failed, passed
from . import predicates

TLS_CRT, TLS_KEY = "tls.crt", "tls.key"
TLS_TYPE = "kubernetes.io/tls"
LIST_PAGE = 50                                              # the list's documented maximum per_page
INGRESS_MISMATCH = ("Ingress {name} does not serve the origin certificate the provisioning writes: {problems}; "
                    "fix the manifest (nothing was changed)")
NOT_ISSUED = "not one of the zone's Origin CA certificates in the Cloudflare API (issuer {issuer})"
NOT_BY_ANCHOR = "not issued by the Origin CA (issuer {issuer})"
NO_COVER = "does not cover {name}"
KEY_MISMATCH = "the private key does not match the certificate"


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


def _settings() -> dict:
    return config.settings()["dns"]["origin_certificate"]


def secret_name() -> str:
    return _settings()["secret"]


# ---------------------------------------------------------------- pure judgments


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def load_pair(crt_pem: bytes | None, key_pem: bytes | None):
    """(first certificate or None, private key or None) of PEM bytes; unreadable parts are None."""
    cert = key = None
    try:
        cert = x509.load_pem_x509_certificates(crt_pem)[0] if crt_pem else None
    except ValueError:
        pass
    try:
        key = serialization.load_pem_private_key(key_pem, None) if key_pem else None
    except (ValueError, TypeError):
        pass
    return cert, key


def secret_pair(secret: dict | None):
    """(certificate, key) of a kubernetes.io/tls Secret's data (each None when absent or unreadable)."""
    data = (secret or {}).get("data") or {}
    raw = {k: base64.b64decode(data[k]) if data.get(k) else None for k in (TLS_CRT, TLS_KEY)}
    return load_pair(raw[TLS_CRT], raw[TLS_KEY])


def issued_by(cert: x509.Certificate, anchors) -> bool:
    """Whether one of the `anchors` (root certificates) signed `cert` directly."""
    for root in anchors:
        try:
            cert.verify_directly_issued_by(root)
            return True
        except (ValueError, TypeError, InvalidSignature):
            continue
    return False


def _public(k) -> bytes:
    return k.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def certificate_problems(cert: x509.Certificate | None, key, names, now: dt.datetime, min_days: int = 0,
                         anchors=None, issued: set[str] | None = None) -> list[str]:
    """What is wrong with an origin certificate for `names` (pure; [] when nothing is).

    `anchors`: the Origin CA's root certificates it must be issued by (the edge, which holds them);
    `issued`: fingerprints of the certificates the Origin CA API lists for the zone (the provisioning,
    which asks Cloudflare instead of trusting a copied root); `min_days`: days it must still be valid."""
    if cert is None:
        return ["no certificate"]
    problems = []
    p = predicates.validity_problem(cert.not_valid_before_utc, cert.not_valid_after_utc, now, min_days)
    if p:
        problems.append(p)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
    except x509.ExtensionNotFound:
        sans = []
    problems += [NO_COVER.format(name=n) for n in names if not predicates.hostname_matches(n, sans)]
    issuer = cert.issuer.rfc4514_string()
    if anchors is not None and not issued_by(cert, anchors):
        problems.append(NOT_BY_ANCHOR.format(issuer=issuer))
    if issued is not None and fingerprint(cert) not in issued:
        problems.append(NOT_ISSUED.format(issuer=issuer))
    if key is None:
        problems.append("no private key")
    elif _public(key.public_key()) != _public(cert.public_key()):
        problems.append(KEY_MISMATCH)
    return problems


def check_ingress_tls(objects: list[dict], domains, secret: str, ingress: str | None = None) -> Finding:
    """Static: the app's Ingress has one TLS entry whose hosts are exactly the domains and whose secret is
    the one the provisioning writes, so ingress-nginx presents the origin certificate on every domain."""
    ingress = ingress or config.settings()["kubernetes"]["ingress"]
    subject = f"Ingress {ingress} serves the origin certificate secret {secret} on every domain"
    expected = f"spec.tls: one entry, hosts {sorted(domains)}, secretName {secret}"
    ing = next((o for o in objects if o.get("kind") == "Ingress" and o["metadata"]["name"] == ingress), None)
    if ing is None:
        return failed(subject, expected, f"no Ingress {ingress}", (f"FAIL no Ingress {ingress} in the manifests",),
                      grade="static")
    tls = (ing.get("spec") or {}).get("tls") or []
    bad = []
    if len(tls) != 1:
        bad.append(f"FAIL {len(tls)} TLS entries")
    hosts = sorted({_norm(h) for t in tls for h in t.get("hosts") or []})
    want = sorted(_norm(d) for d in domains)
    if hosts != want:
        bad.append(f"FAIL TLS hosts {hosts}, not the domains {want}")
    names = sorted({t.get("secretName") or "" for t in tls})
    if names != [secret]:
        bad.append(f"FAIL secretName {names}, not {secret}")
    actual = f"tls hosts {hosts}, secretName {names}"
    if bad:
        return failed(subject, expected, actual, tuple(bad), grade="static")
    return passed(subject, expected, actual, grade="static")


# ---------------------------------------------------------------- the key and the CSR (local)


def new_key_and_csr(domains, request_type: str):
    """A fresh private key (EC P-256 for origin-ecc, else RSA 2048) and a CSR naming the domains."""
    key = ec.generate_private_key(ec.SECP256R1()) if request_type.endswith("ecc") else \
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domains[0])]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in domains]), critical=False)
           .sign(key, hashes.SHA256()))
    return key, csr.public_bytes(serialization.Encoding.PEM).decode()


def secret_object(namespace: str, name: str, cert_pem: str, key, cert_id: str) -> dict:
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return {"apiVersion": "v1", "kind": "Secret", "type": TLS_TYPE,
            "metadata": {"name": name, "namespace": namespace, "annotations": {ORIGIN_CA_ID_ANNOTATION: cert_id}},
            "data": {TLS_CRT: base64.b64encode(cert_pem.encode()).decode(),
                     TLS_KEY: base64.b64encode(key_pem).decode()}}


# ---------------------------------------------------------------- the action


def zone_certificates(cf, zone_id: str) -> list[dict]:
    """The zone's Origin CA certificates (GET /certificates?zone_id=, every page)."""
    return cf._all("/certificates", {"zone_id": zone_id}, per_page=LIST_PAGE)


def ensure(target: Target, env: str, progress=lambda m: None, now: dt.datetime | None = None,
           objects: list[dict] | None = None) -> list[str]:
    """Make the origin certificate secret unless a good one is there; the lines to print."""
    from ..kube import client, render
    from . import sync
    from .cloudflare import Cloudflare

    s, now = _settings(), now or dt.datetime.now(dt.UTC)
    domains, ns, name = list(target.domains), target.namespace, s["secret"]
    static = check_ingress_tls(render.render(env) if objects is None else objects, domains, name)
    if not static.ok:
        raise errors.BadInput(INGRESS_MISMATCH.format(name=config.settings()["kubernetes"]["ingress"],
                                                      problems="; ".join(e[5:] for e in static.evidence)))
    cf = Cloudflare.of(target)
    zid = sync.zone_id(target, cf)
    ref = f"secret {ns}/{name}"
    live = client.get(target, "v1", "Secret", name, ns)
    if live is not None:
        cert, key = secret_pair(live)
        issued = {fingerprint(c) for c in (load_pair(r.get("certificate", "").encode(), None)[0]
                                           for r in zone_certificates(cf, zid)) if c is not None}
        problems = certificate_problems(cert, key, domains, now, s["renew_days"], issued=issued)
        if not problems:
            return [f"no changes: {ref} holds Origin CA certificate {cert.serial_number} for "
                    f"{', '.join(domains)}, valid until {cert.not_valid_after_utc:%Y-%m-%d}"]
        progress(f"{ref}: renewing ({'; '.join(problems)})")
    progress(f"asking Cloudflare's Origin CA for a certificate for {', '.join(domains)}")
    key, csr = new_key_and_csr(domains, s["request_type"])
    got = cf.call("POST", "/certificates", json={"hostnames": domains, "requested_validity": s["validity_days"],
                                                 "request_type": s["request_type"], "csr": csr})["result"]
    obj = secret_object(ns, name, got["certificate"], key, str(got["id"]))
    if live is None:
        client.create(target, obj)
    elif live.get("type") != TLS_TYPE:   # a Secret's type is immutable
        client.delete(target, "v1", "Secret", name, ns)
        client.create(target, obj)
    else:
        obj["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        client.replace(target, obj)
    return [f"issued Origin CA certificate {got['id']} for {', '.join(domains)}, expires {got['expires_on']}",
            f"{'created' if live is None else 'replaced'} {ref} ({TLS_TYPE})"]


def provisioned(target: Target, env: str, progress=lambda m: None) -> Finding:
    """`ensure` as a Finding (the rehearsal's operator step): what it did, or that nothing was needed."""
    lines = ensure(target, env, progress)
    return passed(f"the origin certificate secret {target.namespace}/{secret_name()}",
                  "a Cloudflare Origin CA certificate for every domain", "; ".join(lines),
                  grade=target.grade("cloudflare"))
