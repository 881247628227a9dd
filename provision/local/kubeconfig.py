"""Files the local control plane's components read: a kubeconfig per identity
and the EncryptionConfiguration of secrets. Both hold keys: written 0600."""
from __future__ import annotations

import base64
import os
from pathlib import Path

import yaml

from .pki import write_private

ENCRYPTION_PROVIDER = "secretbox"
# kube-apiserver's local-key providers (KMS needs a plugin) and the key sizes each takes, in bytes
PROVIDERS = {"secretbox": (32,), "aescbc": (16, 24, 32), "aesgcm": (16, 24, 32), "identity": ()}
CONTEXT = "offline"


def write_kubeconfig(path: Path, server: str, pki: Path, who: str) -> None:
    """A kubeconfig for `server` as the client certificate `who` of the PKI in `pki`."""
    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": CONTEXT,
        "clusters": [{"name": CONTEXT,
                      "cluster": {"server": server, "certificate-authority-data": b64(pki / "ca.crt")}}],
        "users": [{"name": who, "user": {"client-certificate-data": b64(pki / f"{who}.crt"),
                                         "client-key-data": b64(pki / f"{who}.key")}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": who, "namespace": "default"}}],
    }
    write_private(path, yaml.safe_dump(doc).encode())


def write_encryption_config(path: Path, provider: str = ENCRYPTION_PROVIDER,
                            keys: list[tuple[str, bytes]] | None = None) -> str | None:
    """Secrets encrypted by `provider` with `keys` ((name, key bytes), the first one writes; default: one
    32-byte key generated now); identity last, to read old values. Provider "identity" alone stores
    plaintext (a seeded fault). Returns the name of the key that writes (None for identity)."""
    if provider not in PROVIDERS:
        raise ValueError(f"encryption provider {provider!r}: expected one of {', '.join(PROVIDERS)}")
    if provider == "identity":
        providers = [{"identity": {}}]
        writer = None
    else:
        keys = keys or [("key1", os.urandom(32))]
        providers = [{provider: {"keys": [{"name": n, "secret": base64.b64encode(k).decode()} for n, k in keys]}},
                     {"identity": {}}]
        writer = keys[0][0]
    doc = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
           "resources": [{"resources": ["secrets"], "providers": providers}]}
    write_private(path, yaml.safe_dump(doc).encode())
    return writer
