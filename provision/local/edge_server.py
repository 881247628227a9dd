"""The edge stand-in process: Cloudflare v4 API subset, authoritative DNS, HTTPS endpoints.

Run by provision.local.edge (`python -m provision.local.edge_server --state DIR`),
with the API token in CTL_EDGE_TOKEN (never on the command line). This module
wires the parts into one process:

- edge_cloudflare_model: zones, records, settings, validation (the plain model);
- edge_cloudflare_routes: the v4 API on 127.0.0.1 (Flask);
- edge_dns_server + edge_dns_answers: each zone's DNS on its own loopback port;
- edge_https: HTTPS on the load balancer address, plus the seeded TLS faults'
  endpoints (expired, wrong-hostname, untrusted-ca).

Writes <state>/edge-ca.pem (the CA certificate only) and, when listening,
<state>/edge-ready.json with every port.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path

from werkzeug.serving import make_server

from .. import config
from . import edge_ca
from .edge_cloudflare_model import SHARED_ACCOUNT, Store, norm
from .edge_cloudflare_routes import make_app
from .edge_dns_server import DnsListener
from .edge_https import TlsServer, health_routes, serve

HOST = "127.0.0.1"
TOKEN_ENV = "CTL_EDGE_TOKEN"
READY = "edge-ready.json"
CA_FILE = "edge-ca.pem"
NO_TOKEN = "edge_server: {env} is not set"


def seed(store: Store, zone_name: str, domains, lb_host: str):
    """The shared zone the way the migration leaves it: each domain a proxied CNAME
    to the load balancer (flattened at the apex), SSL strict, Always Use HTTPS."""
    zone = store.add_zone(zone_name, SHARED_ACCOUNT)
    for d in domains:
        store.create_record(zone.id, {"type": "CNAME", "name": d, "content": lb_host, "proxied": True, "ttl": 1})
    return zone


def serve_https(state: Path, lb_addr: str, domains, routes: dict) -> tuple[int, dict[str, int]]:
    """The app's HTTPS endpoint and the seeded TLS faults' ones: (port, {fault: port})."""
    ca = edge_ca.make_ca()
    (state / CA_FILE).write_bytes(ca.cert_pem())
    contexts = {norm(d): edge_ca.server_context(edge_ca.issue(ca, [d]), ca) for d in domains}
    default = edge_ca.server_context(edge_ca.issue(ca, [domains[0]]), ca)
    main_port = serve(TlsServer((lb_addr, 0), contexts, default, routes))
    # Seeded TLS faults: separate endpoints, each presenting one bad certificate for any name.
    other_ca = edge_ca.make_ca("an untrusted CA")
    bad = {
        "expired": edge_ca.server_context(edge_ca.expired(ca, list(domains)), ca),
        "wrong-hostname": edge_ca.server_context(edge_ca.issue(ca, ["www.example.invalid"]), ca),
        "untrusted-ca": edge_ca.server_context(edge_ca.issue(other_ca, list(domains)), other_ca),
    }
    # the CA keys live only inside the SSL contexts once this returns
    return main_port, {name: serve(TlsServer((lb_addr, 0), {}, ctx, routes)) for name, ctx in bad.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--state", required=True)
    args = ap.parse_args(argv)
    state = Path(args.state)
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        print(NO_TOKEN.format(env=TOKEN_ENV), file=sys.stderr)
        return 2
    s = config.settings()
    edge, domains = s["edge"], s["domains"]["names"]
    lb_host, lb_addr = edge["load_balancer_hostname"], edge["load_balancer_address"]

    store = Store(lb_host, lb_addr, serve_zone=lambda st, z: DnsListener(st, z, HOST))
    zone = seed(store, s["domains"]["zone"], domains, lb_host)
    main_port, fault_ports = serve_https(state, lb_addr, domains, health_routes(domains, s["dns"]["health_paths"]))
    api_port = serve(make_server(HOST, 0, make_app(store, token), threaded=True))
    ready = {"api_port": api_port, "dns_port": zone.dns.port, "zone_id": zone.id, "https_port": main_port,
             "tls_faults": fault_ports, "pid": os.getpid()}
    tmp = state / (READY + ".tmp")
    tmp.write_text(json.dumps(ready))
    tmp.replace(state / READY)
    print(f"edge ready: api {HOST}:{api_port}, dns {HOST}:{zone.dns.port}, https {lb_addr}:{main_port}", flush=True)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
