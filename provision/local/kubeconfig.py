"""Files the local control plane's components read: a kubeconfig per identity
and the EncryptionConfiguration of secrets. Both hold keys: written 0600."""
from __future__ import annotations

import base64
import os
from pathlib import Path

import yaml

from .pki import write_private

ENCRYPTION_PROVIDER = "secretbox"
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


def write_encryption_config(path: Path) -> None:
    """Secrets encrypted with a key generated now; identity last, to read old values."""
    key = base64.b64encode(os.urandom(32)).decode()
    doc = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
           "resources": [{"resources": ["secrets"],
                          "providers": [{ENCRYPTION_PROVIDER: {"keys": [{"name": "key1", "secret": key}]}},
                                        {"identity": {}}]}]}
    write_private(path, yaml.safe_dump(doc).encode())
