"""The AWS enforcement point of the rehearsal: an STS front and IAM's decision before moto.

moto enforces no IAM; in rehearsal mode the target's AWS endpoint is this gate
(provision.local.aws_gate_server), so every call is made with the identity its
job will have live and decided as IAM would (docs/aws-gate.md). In offline mode
it starts nothing. It runs after moto_server and oidc, whose endpoints it reads
from the stack's state.

start() returns {"aws_endpoint_url": the gate's URL (the Target field; it
replaces moto's), "moto_url", "operator": {access_key_id, secret_access_key},
"request_log": the JSON-lines request log}.
"""
from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

import requests

from .. import config
from . import procs

NAME = "aws_gate"
CONFIG_FILE = "aws-gate.json"
REQUEST_LOG = "aws-gate-requests.jsonl"


def start(state_dir: Path, progress=print) -> dict:
    from . import stack

    state_dir = Path(state_dir)
    if stack.mode_of(state_dir) != "rehearsal":
        return {}
    comps = (stack.read_state(state_dir) or {}).get("components", {})
    return launch(state_dir, comps["moto_server"]["aws_endpoint_url"], comps["oidc"]["oidc_issuer_url"], progress)


def launch(state_dir: Path, moto_url: str, issuer_url: str, progress=print) -> dict:
    """Start the gate in front of `moto_url`, trusting tokens of the issuer at `issuer_url`."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    s = config.settings()
    port = procs.free_port()
    operator = {"access_key_id": "AKIA" + secrets.token_hex(8).upper(),
                "secret_access_key": secrets.token_urlsafe(30)}
    cfg = {"port": port, "moto_url": moto_url, "issuer_url": issuer_url, "region": s["aws"]["region"],
           "operator": operator, "log_file": str(state_dir / REQUEST_LOG),
           "github": {k: s["github"][k] for k in ("oidc_issuer", "oidc_audience")}}
    cfg_file = state_dir / CONFIG_FILE
    cfg_file.unlink(missing_ok=True)
    fd = os.open(cfg_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # holds the operator's secret
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f)
    url = f"http://127.0.0.1:{port}"
    progress(f"starting the AWS enforcement point on {url} (in front of {moto_url})")
    pid = procs.spawn(NAME, [sys.executable, "-m", "provision.local.aws_gate_server", "--config", str(cfg_file)],
                      state_dir, cwd=config.ROOT)
    procs.wait_port("127.0.0.1", port, 30, pid, "AWS enforcement point")
    requests.get(url, timeout=5)  # answers (an unsigned request is refused) once it serves
    return {"aws_endpoint_url": url, "moto_url": moto_url, "operator": operator,
            "request_log": str(state_dir / REQUEST_LOG)}


def stop(state_dir: Path) -> None:
    procs.stop(NAME, Path(state_dir))
    (Path(state_dir) / CONFIG_FILE).unlink(missing_ok=True)


def read_log(path: str | Path) -> list[dict]:
    """The gate's request log: one dict per request (identity, action, resources, decision, write)."""
    p = Path(path)
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()] if p.exists() else []


def writes_by(log: list[dict], identity_part: str) -> list[dict]:
    """The logged requests of identities containing `identity_part` that would change something."""
    return [r for r in log if r.get("write") and identity_part in str(r.get("identity"))]
