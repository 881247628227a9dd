"""The PKI of the local control plane: a CA, the API server's serving
certificate, one client certificate per component, the service-account key.

Generated at each start; every private key is written 0600.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# who -> (CN, O): the identities the components authenticate as
CLIENTS = {
    "admin": ("kubernetes-admin", "system:masters"),
    "controller-manager": ("system:kube-controller-manager", None),
    "scheduler": ("system:kube-scheduler", None),
    "kwok": ("kwok-controller", None),
    # rehearsal stand-ins of cluster add-ons and the edge, each with only its own rights (controller_rbac)
    "lb-controller": ("local-aws-load-balancer-controller", None),
    "storage-controller": ("local-ebs-csi-provisioner", None),
    "edge": ("local-edge-router", None),
}
APISERVER_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                   "kubernetes.default.svc.cluster.local")


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (created 0600, never wider)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert(subject: x509.Name, key, issuer: x509.Name, issuer_key, *, ca: bool = False,
          server: bool = False, client: bool = False, sans=()) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=30 if not ca else 365))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
    else:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
            [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
        b = b.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    # key identifiers: strict verifiers (OpenSSL 3, Python's X509_STRICT) require them
    b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)] if org else []
    return x509.Name(attrs + [x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_pair(pki: Path, who: str, cert: x509.Certificate, key) -> None:
    (pki / f"{who}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    write_private(pki / f"{who}.key", _pem_key(key))


def make_pki(pki: Path, service_cidr: str) -> None:
    """Every key and certificate under `pki`; the API server's certificate also
    names the first address of `service_cidr` (the in-cluster `kubernetes` Service)."""
    pki.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_name = _name("cloudtolocalllm-local-ca")
    _write_pair(pki, "ca", _cert(ca_name, ca_key, ca_name, ca_key, ca=True), ca_key)
    service_ip = next(ipaddress.ip_network(service_cidr).hosts())
    sans = [x509.DNSName(n) for n in APISERVER_NAMES]
    sans += [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(service_ip)]
    k = _key()
    _write_pair(pki, "apiserver", _cert(_name("kube-apiserver"), k, ca_name, ca_key, server=True, sans=sans), k)
    for who, (cn, org) in CLIENTS.items():
        k = _key()
        _write_pair(pki, who, _cert(_name(cn, org), k, ca_name, ca_key, client=True), k)
    sa = _key()
    write_private(pki / "sa.key", _pem_key(sa))
    (pki / "sa.pub").write_bytes(sa.public_key().public_bytes(serialization.Encoding.PEM,
                                                              serialization.PublicFormat.SubjectPublicKeyInfo))


def make_serving_pki(d: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA of its own and a serving certificate for `name` on 127.0.0.1 and localhost, under `d`
    (for a loopback webhook the API server calls: it trusts that CA file only).
    Returns (ca.crt, <name>.crt, <name>.key)."""
    d.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_name = _name(f"{name}-local-ca")
    _write_pair(d, "ca", _cert(ca_name, ca_key, ca_name, ca_key, ca=True), ca_key)
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    k = _key()
    _write_pair(d, name, _cert(_name(name), k, ca_name, ca_key, server=True, sans=sans), k)
    return d / "ca.crt", d / f"{name}.crt", d / f"{name}.key"
