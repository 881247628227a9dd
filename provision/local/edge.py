"""The edge of the offline target: Cloudflare v4 stand-in, DNS server, TLS endpoints.

One process (provision.local.edge_server). The API token is made here at run
time and handed over in the environment, never on a command line.
"""
from __future__ import annotations

import json
import secrets
import sys
import time
from pathlib import Path

from .. import config
from . import edge_server, procs

NAME = "edge"
START_TIMEOUT = 30.0
# What the edge cannot show; named in every Finding that relies on it (target.gaps).
GAPS = {
    "ingress-load-balancer": (
        "offline: no cloud controller sets the Ingress's load balancer status; the load balancer "
        "hostname is the edge stand-in's (settings edge.load_balancer_hostname), not read from the cluster"),
}


def start(state_dir: Path, progress=print) -> dict:
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    ready = state_dir / edge_server.READY
    ready.unlink(missing_ok=True)
    token = secrets.token_urlsafe(30)
    edge = config.settings()["edge"]
    progress(f"starting the edge (Cloudflare API stand-in, DNS, HTTPS on {edge['load_balancer_address']})")
    pid = procs.spawn(NAME, [sys.executable, "-m", "provision.local.edge_server", "--state", str(state_dir)],
                      state_dir, env={edge_server.TOKEN_ENV: token}, cwd=config.ROOT)
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.exists():
        if not procs.alive(pid):
            raise RuntimeError(f"edge server exited at start; see {state_dir / (NAME + '.log')}")
        if time.monotonic() > deadline:
            procs.stop(NAME, state_dir)
            raise TimeoutError(f"edge server not ready within {START_TIMEOUT:.0f}s; see {state_dir / (NAME + '.log')}")
        time.sleep(0.05)
    r = json.loads(ready.read_text())
    return {
        "dns_server": ["127.0.0.1", r["dns_port"]],
        "cloudflare_api": f"http://127.0.0.1:{r['api_port']}/client/v4",
        "cloudflare_token": token,
        "cloudflare_zone": r["zone_id"],
        "ca_bundle": str(state_dir / edge_server.CA_FILE),
        "https_port": r["https_port"],
        # the load balancer the domains lead to, fixed here (sync names GAPS["ingress-load-balancer"])
        "load_balancer_hostname": edge["load_balancer_hostname"],
        # offline-only details (target.local["edge"])
        "load_balancer_address": edge["load_balancer_address"],
        "tls_faults": {k: [edge["load_balancer_address"], v] for k, v in r["tls_faults"].items()},
    }


def stop(state_dir: Path) -> None:
    procs.stop(NAME, Path(state_dir))
    (Path(state_dir) / edge_server.READY).unlink(missing_ok=True)
