"""The AWS Load Balancer Controller's webhook serving certificate, made at provisioning time.

The controller's webhook server (controller-runtime) will not start without a certificate in
/tmp/k8s-webhook-server/serving-certs, which its Deployment mounts from the `kubernetes.io/tls` Secret
`aws-load-balancer-tls` in kube-system (manifests/cluster/base/aws-load-balancer-controller.yaml). The Helm
chart makes it at install time with genSignedCert (a CA of its own and a leaf for the webhook Service's DNS
names); we do the same here, since the cluster overlay is plain kustomize and no key is ever committed:

- `ensure(where)`: keeps the Secret when its certificate names the Service's DNS names, is signed by the CA
  it carries, matches its key and is valid for more than `RENEW_DAYS`; otherwise writes a new CA and leaf.
  Idempotent: a second call writes nothing. The Finding never shows key material.
- `problems(secret, now)`: the pure judgment.

No webhook configuration is installed (docs/manifests.md), so no caBundle has to follow a new CA.
"""
from __future__ import annotations

import base64
import datetime as dt

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..dns.predicates import hostname_matches, validity_problem
from ..findings import Finding, passed
from . import client

SECRET = "aws-load-balancer-tls"
NAMESPACE = "kube-system"
SERVICE = "aws-load-balancer-webhook-service"
CLUSTER_DOMAIN = "cluster.local"
VALID_DAYS = 3650          # the chart's genSignedCert: ten years
RENEW_DAYS = 30
CA_CRT, TLS_CRT, TLS_KEY = "ca.crt", "tls.crt", "tls.key"


def dns_names(service: str = SERVICE, namespace: str = NAMESPACE) -> list[str]:
    """The names the API server (or anything in the cluster) uses for the webhook Service."""
    return [f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.{CLUSTER_DOMAIN}"]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def generate(names: list[str], now: dt.datetime | None = None, days: int = VALID_DAYS) -> dict[str, bytes]:
    """A CA and a leaf for `names` signed by it (PEM): {ca.crt, tls.crt, tls.key}."""
    now = now or dt.datetime.now(dt.UTC)
    start, end = now - dt.timedelta(minutes=5), now + dt.timedelta(days=days)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("aws-load-balancer-controller-ca")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return {CA_CRT: ca.public_bytes(pem), TLS_CRT: leaf.public_bytes(pem),
            TLS_KEY: key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())}


def _spki(k) -> bytes:
    return k.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def problems(secret: dict | None, now: dt.datetime, names: list[str] | None = None,
             min_days: int = RENEW_DAYS) -> list[str]:
    """What makes a Secret unfit to serve the webhook (pure; [] when it is fit)."""
    if not secret:
        return ["no Secret"]
    names = names or dns_names()
    data = secret.get("data") or {}
    out = [] if secret.get("type") == "kubernetes.io/tls" else [f"type {secret.get('type')}, not kubernetes.io/tls"]
    try:
        raw = {k: base64.b64decode(data[k]) for k in (CA_CRT, TLS_CRT, TLS_KEY)}
        ca, leaf = x509.load_pem_x509_certificate(raw[CA_CRT]), x509.load_pem_x509_certificate(raw[TLS_CRT])
        key = serialization.load_pem_private_key(raw[TLS_KEY], None)
    except (KeyError, ValueError, TypeError) as exc:
        return [*out, f"unreadable certificate or key ({type(exc).__name__})"]
    for cert, what in ((leaf, "certificate"), (ca, "CA")):
        p = validity_problem(cert.not_valid_before_utc, cert.not_valid_after_utc, now, min_days)
        if p:
            out.append(f"{what} {p}")
    try:
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
    except x509.ExtensionNotFound:
        sans = []
    out += [f"certificate does not name {n}" for n in names if not hostname_matches(n, sans)]
    try:
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        out.append("certificate not signed by the Secret's CA")
    if _spki(key.public_key()) != _spki(leaf.public_key()):
        out.append("the private key does not match the certificate")
    return out


def secret_object(pems: dict[str, bytes], namespace: str = NAMESPACE) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": SECRET, "namespace": namespace,
                         "labels": {"app.kubernetes.io/name": "aws-load-balancer-controller"}},
            "data": {k: base64.b64encode(v).decode() for k, v in pems.items()}}


def ensure(where, now: dt.datetime | None = None, namespace: str = NAMESPACE) -> Finding:
    """Keep the webhook's serving certificate Secret when fit, else write a new one (idempotent)."""
    now = now or dt.datetime.now(dt.UTC)
    names = dns_names(namespace=namespace)
    live = client.get(where, "v1", "Secret", SECRET, namespace)
    why = problems(live, now, names)
    subject = f"the AWS Load Balancer Controller's webhook certificate ({namespace}/{SECRET})"
    grade = where.grade("kube") if hasattr(where, "grade") else "real"
    expected = f"valid > {RENEW_DAYS} days for {', '.join(names)}"
    if not why:
        return passed(subject, expected, "kept (fit)", [f"{namespace}/{SECRET}: kept"], grade=grade)
    obj = secret_object(generate(names, now), namespace)
    if live is None:
        client.create(where, obj)
    else:
        obj["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        client.replace(where, obj)
    return passed(subject, expected, "written", [f"{namespace}/{SECRET}: written ({'; '.join(why)})"], grade=grade)


def bootstrap_step(target, env=None) -> list[str]:
    """`provision cluster bootstrap`'s step (provision/kube/bootstrap.py STEPS): what it wrote."""
    f = ensure(target)
    return [] if f.actual.startswith("kept") else [f"Secret/{NAMESPACE}/{SECRET}"]
