"""Deploy history kept in the cluster: ConfigMap `deploy-history`, one JSON
entry per deploy (sha, started, finished, actor, result, reason...), newest
last, capped. Written with compare-and-swap on resourceVersion, under the
deploy lock, so concurrent writers never lose an entry."""
from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from ..config import Target
from ..constants import FIELD_MANAGER, MANAGED_BY_LABEL
from . import client

CONFIGMAP = "deploy-history"
KEY = "entries"
KEEP = 100
SUCCEEDED, FAILED, ROLLED_BACK, RUNNING = "succeeded", "failed", "rolled back", "running"


def iso(t: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if t is None else t, UTC).isoformat(timespec="seconds")


def _entries(cm: dict | None) -> list[dict]:
    return json.loads(((cm or {}).get("data") or {}).get(KEY, "[]"))


def read(target: Target, namespace: str) -> list[dict]:
    return _entries(client.get(target, "v1", "ConfigMap", CONFIGMAP, namespace))


def _update(target: Target, namespace: str, change) -> list[dict]:
    for _ in range(10):
        cm = client.get(target, "v1", "ConfigMap", CONFIGMAP, namespace)
        entries = change(_entries(cm))[-KEEP:]
        md = {"name": CONFIGMAP, "namespace": namespace, "labels": {MANAGED_BY_LABEL: FIELD_MANAGER}}
        if cm is not None:  # compare-and-swap on the version we read
            md["resourceVersion"] = cm["metadata"]["resourceVersion"]
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": {KEY: json.dumps(entries, indent=0)}}
        try:
            if cm is None:
                client.create(target, body)
            else:
                client.replace(target, body)
            return entries
        except client.ApiError as exc:
            if exc.status != 409:
                raise
    raise RuntimeError("deploy history: too many concurrent writers")


def start(target: Target, namespace: str, entry: dict) -> None:
    _update(target, namespace, lambda es: [*es, {**entry, "result": RUNNING}])


def finish(target: Target, namespace: str, entry_id: str, **fields) -> None:
    def change(es):
        for e in es:
            if e.get("id") == entry_id:
                e.update(fields)
        return es
    _update(target, namespace, change)


def last_good(entries: list[dict], exclude: str | None = None) -> str | None:
    """The SHA of the newest successful deploy (other than `exclude`), if any (pure)."""
    for e in reversed(entries):
        if e.get("result") == SUCCEEDED and e.get("sha") != exclude:
            return e["sha"]
    return None


def lines(entries: list[dict]) -> list[str]:
    out = []
    for e in entries:
        dur = f"{e['duration_s']:.0f}s" if isinstance(e.get("duration_s"), (int, float)) else "-"
        out.append(f"{e.get('started', '-')}  {e.get('action', 'deploy'):8} {e.get('sha', '-')[:12]}  "
                   f"{e.get('result', '-'):11} {dur:>5}  by {e.get('actor', '-')}"
                   + (f"  ({e['reason']})" if e.get("reason") else ""))
    return out
