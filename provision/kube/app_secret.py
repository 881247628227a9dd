"""Secret app-secrets, made at deploy time from the secret source.

The source is AWS Secrets Manager (`<project>/<env>/app-secrets`, a JSON
object) on the target's AWS endpoint: the real service live, moto's offline.
Values never enter git, output, history or reports: only key names are shown.
"""
from __future__ import annotations

import base64
import json
import secrets

from botocore.exceptions import ClientError

from .. import config, errors

SOURCE_MISSING = ("secret source {name} not found in AWS Secrets Manager; nothing was applied "
                  "(create it: docs/runbook.md, 'Rotate the {secret} values')")
SOURCE_INCOMPLETE = "secret source {name} lacks key(s) {keys} that the manifests read; nothing was applied"
SOURCE_MALFORMED = "secret source {name} is not a JSON object of strings; nothing was applied"


def secret_name() -> str:
    return config.settings()["kubernetes"]["secret"]


def source_name(env: str) -> str:
    return f"{config.settings()['project']}/{env}/{secret_name()}"


def required_keys(objects) -> list[str]:
    """Keys of app-secrets that the rendered workloads read (secretKeyRef)."""
    name, keys = secret_name(), set()

    def walk(node):
        if isinstance(node, dict):
            ref = node.get("secretKeyRef")
            if isinstance(ref, dict) and ref.get("name") == name:
                keys.add(ref["key"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for obj in objects:
        walk(obj)
    return sorted(keys)


def _client(target):
    from ..aws.clients import client

    return client(target, "secretsmanager")


def read_source(target, env: str, needed: list[str], name: str | None = None) -> dict[str, str]:
    name = name or source_name(env)
    try:
        raw = _client(target).get_secret_value(SecretId=name)["SecretString"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            raise errors.TargetUnavailable(SOURCE_MISSING.format(
                name=name, secret=config.settings()["kubernetes"]["secret"])) from None
        raise
    try:
        values = json.loads(raw)
    except ValueError:
        values = None
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise errors.BadInput(SOURCE_MALFORMED.format(name=name))
    missing = [k for k in needed if k not in values]
    if missing:
        raise errors.BadInput(SOURCE_INCOMPLETE.format(name=name, keys=", ".join(missing)))
    return {k: values[k] for k in needed}


def secret_object(namespace: str, values: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": secret_name(), "namespace": namespace,
                         "labels": {"app.kubernetes.io/part-of": config.settings()["project"]}},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in sorted(values.items())}}


def seed_offline_source(target, env: str, keys: list[str], name: str | None = None) -> str:
    """Offline only: put generated values into moto's Secrets Manager once, as
    an operator would into the real one. Returns the source's name."""
    name = name or source_name(env)
    sm = _client(target)
    try:
        sm.describe_secret(SecretId=name)
        return name
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    sm.create_secret(Name=name, SecretString=json.dumps({k: secrets.token_urlsafe(24) for k in keys}))
    return name


def source_values(target, name: str) -> dict[str, str]:
    return json.loads(_client(target).get_secret_value(SecretId=name)["SecretString"])


def check_in_cluster(target, namespace: str, expected: dict[str, str]):
    """The Secret holds exactly the expected keys with the expected values (values never shown)."""
    from ..findings import failed, passed
    from . import client

    got = (client.get(target, "v1", "Secret", secret_name(), namespace) or {}).get("data") or {}
    got = {k: base64.b64decode(v).decode() for k, v in got.items()}
    subject = f"Secret {secret_name()} in {namespace}"
    wrong = sorted(k for k in expected if got.get(k) != expected[k])
    extra = sorted(set(got) - set(expected))
    if wrong or extra:
        return failed(subject, f"keys {', '.join(sorted(expected))} from the source",
                      f"{len(wrong)} differ, {len(extra)} extra",
                      [f"differs: {k}" for k in wrong] + [f"extra: {k}" for k in extra], grade=target.grade("kube"))
    return passed(subject, "the source's keys and values", f"keys {', '.join(sorted(got))}", grade=target.grade("kube"))


def leaks(values: dict[str, str], texts: list[str]):
    """No secret value appears in any of the texts (output, history, saved sets)."""
    from ..findings import failed, passed

    hits = [f"value of {k} found in text #{i}" for k, v in values.items() for i, t in enumerate(texts) if v and v in t]
    subject = "secret values in deploy output, history and the saved last-good set"
    if hits:
        return failed(subject, "none", f"{len(hits)} found", hits)
    return passed(subject, "none", f"none in {len(texts)} texts")
