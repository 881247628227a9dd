"""The set of objects the last successful deploy applied, kept in the cluster
(ConfigMap deploy-last-good, gzipped JSON) so a rollback re-applies exactly it."""
from __future__ import annotations

import base64
import gzip
import json

from ..config import Target
from ..constants import FIELD_MANAGER, MANAGED_BY_LABEL
from . import client

CONFIGMAP = "deploy-last-good"


def save(target: Target, namespace: str, sha: str, objs) -> None:
    # Secrets stay out of the saved set (it is a ConfigMap); a rollback keeps the current one.
    kept = [o for o in objs if o["kind"] != "Secret"]
    blob = base64.b64encode(gzip.compress(json.dumps(kept).encode())).decode()
    client.apply(target, {"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": CONFIGMAP, "namespace": namespace,
                                       "labels": {MANAGED_BY_LABEL: FIELD_MANAGER}},
                          "data": {"sha": sha}, "binaryData": {"objects.json.gz": blob}})


def read(target: Target, namespace: str) -> tuple[str, list[dict]] | None:
    """(sha, objects) exactly as the last successful deploy applied them; None before the first."""
    cm = client.get(target, "v1", "ConfigMap", CONFIGMAP, namespace)
    if cm is None:
        return None
    objs = json.loads(gzip.decompress(base64.b64decode(cm["binaryData"]["objects.json.gz"])))
    return cm["data"]["sha"], objs
