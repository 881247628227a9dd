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


def write_webhook_config(path: Path, url: str, ca_file: Path) -> None:
    """The kubeconfig-format file of --authentication-token-webhook-config-file: the webhook's URL
    and the CA its serving certificate comes from (the API server presents no client certificate)."""
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "webhook",
           "clusters": [{"name": "token-webhook", "cluster": {"server": url, "certificate-authority": str(ca_file)}}],
           "users": [{"name": "kube-apiserver", "user": {}}],
           "contexts": [{"name": "webhook", "context": {"cluster": "token-webhook", "user": "kube-apiserver"}}]}
    write_private(path, yaml.safe_dump(doc, sort_keys=False).encode())


def eks_cluster_arn(region: str, account_id: str, cluster_name: str) -> str:
    return f"arn:aws:eks:{region}:{account_id}:cluster/{cluster_name}"


def write_eks_kubeconfig(path: Path, server: str, ca_file: Path, cluster_name: str, region: str, account_id: str,
                         command: list[str], env: dict[str, str] | None = None) -> None:
    """A kubeconfig of the shape `aws eks update-kubeconfig` writes: cluster, user and context named by
    the cluster's ARN, an `exec` user whose `command` prints the token (`aws eks get-token --cluster-name
    <name>` live; `python -m provision.kube.token --cluster-name <name>` where the AWS CLI is absent).
    `command` is the argv before `--cluster-name`; the credentials are the caller's AWS environment."""
    arn = eks_cluster_arn(region, account_id, cluster_name)
    exec_user = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": command[0],
                 "args": [*command[1:], "--region", region, "--cluster-name", cluster_name],
                 "interactiveMode": "Never"}
    if env:
        exec_user["env"] = [{"name": k, "value": v} for k, v in env.items()]
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": arn, "preferences": {},
           "clusters": [{"name": arn, "cluster": {"server": server,
                                                  "certificate-authority-data": base64.b64encode(
                                                      Path(ca_file).read_bytes()).decode()}}],
           "users": [{"name": arn, "user": {"exec": exec_user}}],
           "contexts": [{"name": arn, "context": {"cluster": arn, "user": arn}}]}
    write_private(path, yaml.safe_dump(doc, sort_keys=False).encode())
