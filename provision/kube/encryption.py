"""Secrets at rest: read a value as etcd stores it and judge whether it is ciphertext.

The API server writes `k8s:enc:<provider>:v1:<key>:<ciphertext>` when an
EncryptionConfiguration covers the resource, and the plain protobuf envelope
(`k8s\\0...`) when it does not. Raw values come from etcd's v3 gRPC gateway
(`POST /v3/kv/range`, base64 keys): only the offline target exposes etcd; on
EKS the control plane's etcd is AWS's and KMS envelope encryption is checked
on the cluster's configuration instead.
"""
from __future__ import annotations

import base64

import requests

from .. import errors
from ..config import Target
from ..findings import Finding, failed, passed

ENCRYPTED_PREFIX = b"k8s:enc:"
PLAINTEXT_PREFIX = b"k8s\x00"   # the API server's protobuf envelope, unencrypted


def provider_prefix(provider: str, key_name: str) -> bytes:
    """What a value written by `provider` with the key `key_name` starts with."""
    return f"k8s:enc:{provider}:v1:{key_name}:".encode()

NO_RAW_ETCD = ("no raw etcd access on this target: its etcd is managed "
               "(EKS encrypts secrets with KMS envelope encryption)")
ETCD_UNREACHABLE = "etcd at {endpoint} did not answer: {detail}"
MIN_VISIBLE = 8   # shorter plaintexts may occur in random ciphertext by chance


def etcd_key(resource: str, namespace: str, name: str, prefix: str = "/registry") -> str:
    return f"{prefix}/{resource}/{namespace}/{name}"


def _etcd(target: Target) -> tuple[str, str]:
    cp = (target.local or {}).get("controlplane") or {}
    if not cp.get("etcd_endpoint"):
        raise errors.TargetUnavailable(NO_RAW_ETCD)
    return cp["etcd_endpoint"], cp.get("etcd_prefix", "/registry")


def raw_etcd_value(target: Target, key: str) -> bytes | None:
    """The bytes etcd holds under `key` (None when there is none)."""
    endpoint, _ = _etcd(target)
    s = requests.Session()
    s.trust_env = False   # loopback: no proxies
    try:
        r = s.post(f"{endpoint}/v3/kv/range", json={"key": base64.b64encode(key.encode()).decode()}, timeout=10)
        r.raise_for_status()
    except requests.RequestException as exc:
        raise errors.TargetUnavailable(ETCD_UNREACHABLE.format(endpoint=endpoint, detail=type(exc).__name__)) from None
    kvs = r.json().get("kvs") or []
    return base64.b64decode(kvs[0]["value"]) if kvs else None



def judge_at_rest(subject: str, raw: bytes | None, plaintexts: tuple[bytes, ...] = (),
                  prefix: bytes = ENCRYPTED_PREFIX) -> Finding:
    """Pure: is this raw etcd value ciphertext, with none of the given plaintexts visible?"""
    expected = f"value starting with {prefix.decode()!r}, no secret bytes visible"
    if raw is None:
        return failed(subject, expected, "no value in etcd")
    if raw.startswith(ENCRYPTED_PREFIX) and not raw.startswith(prefix):
        # ciphertext, but of another provider or key than the one that must write
        written = b":".join(raw.split(b":", 5)[:5]).decode(errors="replace")
        return failed(subject, expected, f"ciphertext of {written}:, not of {prefix.decode(errors='replace')}",
                      evidence=(f"FAIL written by {written}: (provider:version:key)",))
    if not raw.startswith(prefix):
        kind = "k8s protobuf" if raw.startswith(PLAINTEXT_PREFIX) else "unknown encoding"
        return failed(subject, expected, f"plaintext ({kind}, no {ENCRYPTED_PREFIX.decode()!r} prefix)",
                      evidence=(f"first bytes: {raw[:16]!r}",))
    provider = raw[len(ENCRYPTED_PREFIX):].split(b":", 1)[0].decode(errors="replace")
    # k8s:enc:<provider>:v1:<key name>:<ciphertext>; only the ciphertext can leak
    payload = raw.split(b":", 5)[5] if raw.count(b":") >= 5 else raw
    visible = [p for p in plaintexts if len(p) >= MIN_VISIBLE and p in payload]
    if visible:
        return failed(subject, expected, f"encrypted by {provider} but {len(visible)} plaintext value(s) visible",
                      evidence=tuple(f"visible: {p[:32]!r}" for p in visible))
    return passed(subject, expected, f"ciphertext ({provider})")


def secret_encrypted_at_rest(target: Target, namespace: str, name: str,
                             plaintexts: tuple[bytes, ...] = (), prefix: bytes = ENCRYPTED_PREFIX) -> Finding:
    _, etcd_prefix = _etcd(target)
    key = etcd_key("secrets", namespace, name, etcd_prefix)
    return judge_at_rest(f"Secret {namespace}/{name} at rest in etcd ({key})", raw_etcd_value(target, key),
                         plaintexts, prefix).graded(target.grade("kube"))


def write_secret(target: Target, namespace: str, name: str, data: dict[str, bytes]) -> None:
    """Create or replace an Opaque Secret through the API server."""
    from . import client

    body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v).decode() for k, v in data.items()}}
    try:
        if client.create(target, body, exist_ok=True) is None:
            client.replace(target, body)
    except client.ApiError as exc:
        raise errors.ProvisionError(f"could not write Secret {namespace}/{name}: HTTP {exc.status} "
                                    f"{exc.server_message}") from None
