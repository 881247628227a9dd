"""The set of objects the last successful deploy applied, kept in the cluster
(ConfigMap deploy-last-good, gzipped JSON) so a rollback re-applies exactly it,
and `app diff` compares the cluster with what was deployed (never with the
checked-out tree). The set before it is kept too (`previous`): `app rollback`
restores exactly that set. `members` lists the keys of every object applied
(Secrets too, whose content stays out of a ConfigMap)."""
from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass

from ..config import Target
from ..constants import FIELD_MANAGER, MANAGED_BY_LABEL
from . import client
from .objects import key

CONFIGMAP = "deploy-last-good"
OBJECTS, PREVIOUS = "objects.json.gz", "previous.json.gz"


@dataclass(frozen=True)
class Record:
    sha: str
    objects: list          # as applied, Secrets left out
    members: tuple         # keys of every applied object, Secrets included
    previous_sha: str | None = None
    previous: list | None = None


def _pack(objs) -> str:
    return base64.b64encode(gzip.compress(json.dumps(objs).encode())).decode()


def _unpack(blob: str) -> list:
    return json.loads(gzip.decompress(base64.b64decode(blob)))


def save(target: Target, namespace: str, sha: str, objs) -> None:
    # Secrets stay out of the saved set (it is a ConfigMap); a rollback keeps the current one.
    kept = [o for o in objs if o["kind"] != "Secret"]
    cm = client.get(target, "v1", "ConfigMap", CONFIGMAP, namespace)
    data = {"sha": sha, "members": json.dumps(sorted(key(o) for o in objs))}
    binary = {OBJECTS: _pack(kept)}
    if cm is not None and (cm.get("data") or {}).get("sha") != sha:   # the set before this one, for `app rollback`
        data["previous_sha"] = cm["data"]["sha"]
        binary[PREVIOUS] = cm["binaryData"][OBJECTS]
    elif cm is not None and (cm.get("data") or {}).get("previous_sha"):
        data["previous_sha"] = cm["data"]["previous_sha"]
        binary[PREVIOUS] = cm["binaryData"][PREVIOUS]
    client.apply(target, {"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": CONFIGMAP, "namespace": namespace,
                                       "labels": {MANAGED_BY_LABEL: FIELD_MANAGER}},
                          "data": data, "binaryData": binary})


def read_record(target: Target, namespace: str) -> Record | None:
    cm = client.get(target, "v1", "ConfigMap", CONFIGMAP, namespace)
    if cm is None:
        return None
    data, binary = cm.get("data") or {}, cm.get("binaryData") or {}
    objs = _unpack(binary[OBJECTS])
    members = tuple(json.loads(data["members"])) if data.get("members") else tuple(key(o) for o in objs)
    prev = _unpack(binary[PREVIOUS]) if PREVIOUS in binary else None
    return Record(data["sha"], objs, members, data.get("previous_sha"), prev)


def read(target: Target, namespace: str) -> tuple[str, list[dict]] | None:
    """(sha, objects) exactly as the last successful deploy applied them; None before the first."""
    rec = read_record(target, namespace)
    return None if rec is None else (rec.sha, rec.objects)
