"""The edge of the offline target: Cloudflare v4 stand-in, DNS server, TLS endpoints.

One process (provision.local.edge_server). The API tokens are made here at run
time and handed over in the environment, never on a command line.

Offline: one token with every permission (target.cloudflare_token), the zone
seeded as the migration leaves it, the load balancer declared here.
Strict (the stack's rehearsal mode, or `start(strict=True)`): the tokens the
README has the operator create (settings dns.cloudflare_tokens), each limited
to the zone, in target.local["edge"]["cloudflare_tokens"] by job
("deploy", "verify"); target.cloudflare_token is the read-only verify token
until a job picks its own. The zone starts as the Azure era left it; proxied
names answer Cloudflare edge addresses, which the TLS probes reach through
`connect_map` (CIDR -> the loopback address of the edge's HTTPS); each API call
is a line of `cloudflare_request_log`. The load balancer hostname is not
declared: `provision dns sync` reads it from the Ingress (the edge's DNS
answers settings edge.load_balancer_hostname).
"""
from __future__ import annotations

import json
import secrets
import sys
import time
from pathlib import Path

from .. import config
from ..dns.predicates import CLOUDFLARE_IPV4
from . import edge_server, procs, stack

NAME = "edge"
START_TIMEOUT = 30.0
# What the edge cannot show; named in every Finding that relies on it (target.gaps).
GAPS = {
    "ingress-load-balancer": (
        "offline: no cloud controller sets the Ingress's load balancer status; the load balancer "
        "hostname is the edge stand-in's (settings edge.load_balancer_hostname), not read from the cluster"),
}


def token_specs(tokens: dict[str, list[str]]) -> tuple[dict[str, str], dict]:
    """({job: secret}, the server's spec {secret: {name, permissions, zones}}) for scoped tokens."""
    by_job = {job: secrets.token_urlsafe(30) for job in tokens}
    spec = {by_job[job]: {"name": job, "permissions": list(perms), "zones": "shared"} for job, perms in tokens.items()}
    return by_job, spec


def start(state_dir: Path, progress=print, strict: bool | None = None, tokens: dict | None = None) -> dict:
    """Start the edge; `strict` None: as the stack's mode says. `tokens` (strict): {job: permissions},
    default settings dns.cloudflare_tokens (a test may add a narrower one)."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    strict = stack.mode_of(state_dir) == "rehearsal" if strict is None else strict
    ready = state_dir / edge_server.READY
    ready.unlink(missing_ok=True)
    s = config.settings()
    edge = s["edge"]
    argv = [sys.executable, "-m", "provision.local.edge_server", "--state", str(state_dir)]
    if strict:
        by_job, spec = token_specs(tokens or s["dns"]["cloudflare_tokens"])
        env, argv = {edge_server.TOKENS_ENV: json.dumps(spec)}, argv + ["--strict"]
    else:
        token = secrets.token_urlsafe(30)
        env = {edge_server.TOKEN_ENV: token}
    progress(f"starting the edge (Cloudflare API stand-in, DNS, HTTPS on {edge['load_balancer_address']})"
             + (": strict, as the rehearsal" if strict else ""))
    pid = procs.spawn(NAME, argv, state_dir, env=env, cwd=config.ROOT)
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.exists():
        if not procs.alive(pid):
            raise RuntimeError(f"edge server exited at start; see {state_dir / (NAME + '.log')}")
        if time.monotonic() > deadline:
            procs.stop(NAME, state_dir)
            raise TimeoutError(f"edge server not ready within {START_TIMEOUT:.0f}s; see {state_dir / (NAME + '.log')}")
        time.sleep(0.05)
    r = json.loads(ready.read_text())
    if strict:
        return _strict_info(r, state_dir, edge, by_job)
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
        "origin_ca": str(state_dir / edge_server.ORIGIN_CA_FILE),
    }


def _strict_info(r: dict, state_dir: Path, edge: dict, by_job: dict[str, str]) -> dict:
    return {
        "dns_server": ["127.0.0.1", r["dns_port"]],
        "cloudflare_api": f"http://127.0.0.1:{r['api_port']}/client/v4",
        # the read-only token until a job picks its own (the lead wires deploy/verify per job)
        "cloudflare_token": by_job.get("verify", ""),
        "cloudflare_zone": r["zone_id"],
        "ca_bundle": str(state_dir / edge_server.CA_FILE),
        "https_port": r["https_port"],
        # rehearsal-only details (target.local["edge"]); no load_balancer_hostname: read from the Ingress
        "cloudflare_tokens": by_job,
        "cloudflare_request_log": str(state_dir / edge_server.REQUEST_LOG),
        "origin_ca": str(state_dir / edge_server.ORIGIN_CA_FILE),   # the Origin CA's root, for checks
        "answers_load_balancer": edge["load_balancer_hostname"],
        "load_balancer_address": edge["load_balancer_address"],
        "connect_map": {cidr: edge["load_balancer_address"] for cidr in CLOUDFLARE_IPV4},
        "tls_faults": {k: [edge["load_balancer_address"], v] for k, v in r["tls_faults"].items()},
    }


def stop(state_dir: Path) -> None:
    procs.stop(NAME, Path(state_dir))
    (Path(state_dir) / edge_server.READY).unlink(missing_ok=True)
