"""The edge stand-in process: Cloudflare v4 API subset, authoritative DNS, HTTPS endpoints.

Run by provision.local.edge (`python -m provision.local.edge_server --state DIR
[--strict]`), with the API token in CTL_EDGE_TOKEN, or (strict, the rehearsal)
the scoped tokens in CTL_EDGE_TOKENS (never on the command line). This module
wires the parts into one process:

- edge_cloudflare_model: zones, records, settings, validation (the plain model);
- edge_cloudflare_routes + edge_cloudflare_tokens: the v4 API on 127.0.0.1 (Flask),
  scoped tokens; strict: a request log (<state>/cloudflare-requests.jsonl);
- edge_dns_server + edge_dns_answers: each zone's DNS on its own loopback port;
- edge_https: HTTPS on the load balancer address, plus the seeded TLS faults'
  endpoints (expired, wrong-hostname, untrusted-ca).

Offline the shared zone is seeded as the migration leaves it; strict, as the
Azure era left it (`seed_azure_era`), for `provision dns sync` to migrate.

Writes <state>/edge-ca.pem (the CA certificate only), <state>/origin-ca.pem (the Origin CA
stand-in's root certificate: `POST /certificates` signs with it) and, when listening,
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
from ..dns.predicates import CLOUDFLARE_IPV4
from . import edge_ca
from .edge_cloudflare_model import SHARED_ACCOUNT, Store, norm
from .edge_cloudflare_origin_ca import OriginCA
from .edge_cloudflare_routes import make_app
from .edge_cloudflare_tokens import Tokens
from .edge_dns_server import DnsListener
from .edge_https import TlsServer, routes_for, serve

HOST = "127.0.0.1"
TOKEN_ENV = "CTL_EDGE_TOKEN"
TOKENS_ENV = "CTL_EDGE_TOKENS"  # strict: {secret: {"name", "permissions", "zones"}} as JSON
READY = "edge-ready.json"
CA_FILE = "edge-ca.pem"
ORIGIN_CA_FILE = "origin-ca.pem"   # the Origin CA stand-in's root certificate (Cloudflare publishes its roots)
REQUEST_LOG = "cloudflare-requests.jsonl"
NO_TOKEN = "edge_server: {env} is not set"


def seed(store: Store, zone_name: str, domains, lb_host: str):
    """The shared zone the way the migration leaves it: each domain a proxied CNAME
    to the load balancer (flattened at the apex), SSL strict, Always Use HTTPS."""
    zone = store.add_zone(zone_name, SHARED_ACCOUNT)
    for d in domains:
        store.create_record(zone.id, {"type": "CNAME", "name": d, "content": lb_host, "proxied": True, "ttl": 1})
    return zone


def seed_azure_era(store: Store, zone_name: str, domains, old_ip: str, azure_suffix: str):
    """The shared zone as the AKS era left it, with a new zone's settings (the store is strict):
    the apex (proxied) and the first subdomain (DNS only, TTL an hour) A records at the old AKS
    ingress address, every other domain a proxied CNAME to an Azure public IP's DNS name
    (*.<azure_suffix>)."""
    zone = store.add_zone(zone_name, SHARED_ACCOUNT)
    label = norm(zone_name).split(".")[0]
    subdomains = [d for d in domains if norm(d) != zone.name]
    for d in domains:
        if norm(d) == zone.name:
            rec = {"type": "A", "content": old_ip, "proxied": True}
        elif d == subdomains[0]:
            rec = {"type": "A", "content": old_ip, "proxied": False, "ttl": 3600}
        else:
            rec = {"type": "CNAME", "content": f"{label}-aks.eastus.{azure_suffix}", "proxied": True}
        store.create_record(zone.id, {"name": d, "ttl": 1, **rec})
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
    ap.add_argument("--strict", action="store_true", help="the rehearsal: scoped tokens, the Azure-era zone")
    args = ap.parse_args(argv)
    state = Path(args.state)
    env = TOKENS_ENV if args.strict else TOKEN_ENV
    secret = os.environ.get(env, "")
    if not secret:
        print(NO_TOKEN.format(env=env), file=sys.stderr)
        return 2
    s = config.settings()
    edge, domains = s["edge"], s["domains"]["names"]
    lb_host, lb_addr = edge["load_balancer_hostname"], edge["load_balancer_address"]

    store = Store(lb_host, lb_addr, serve_zone=lambda st, z: DnsListener(st, z, HOST), strict=args.strict,
                  edge_ranges=CLOUDFLARE_IPV4)
    if args.strict:
        zone = seed_azure_era(store, s["domains"]["zone"], domains, edge["old_azure_ip"],
                              s["dns"]["azure_hostname_suffixes"][0])
        tokens, log = Tokens.from_spec(json.loads(secret), zone.id), state / REQUEST_LOG
    else:
        zone = seed(store, s["domains"]["zone"], domains, lb_host)
        tokens, log = Tokens.everything(secret), None
    # The rehearsal's stack routes Host -> Ingress -> Service -> ready endpoints of its cluster; otherwise
    # (offline, or a strict edge started on its own) the edge answers fixed routes.
    from .stack import mode_of

    origin = OriginCA()
    (state / ORIGIN_CA_FILE).write_bytes(origin.root_pem())
    # the rehearsal's stack also plays Cloudflare's SSL mode strict: 526 unless the origin's certificate is good
    routes = routes_for(state, domains, s["dns"]["health_paths"], mode_of(state) == "rehearsal", [origin.root])
    main_port, fault_ports = serve_https(state, lb_addr, domains, routes)
    api_port = serve(make_server(HOST, 0, make_app(store, tokens, log, origin), threaded=True))
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
