"""The edge's HTTPS endpoints: the app stand-in on the load balancer address.

One certificate per domain, picked by SNI; the health path of each domain
answers 200 (api.* the API's, others the web's), anything else 404. The
seeded TLS faults are further servers, each presenting one bad certificate.
"""
from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .edge_cloudflare_model import norm

HANDSHAKE_TIMEOUT = 10


def health_routes(domains, health_paths: dict) -> dict[str, str]:
    """host -> the one path that answers 200 on it."""
    return {norm(d): health_paths["api"] if norm(d).startswith("api.") else health_paths["web"] for d in domains}


class _Handler(BaseHTTPRequestHandler):
    server_version = "edge-standin"

    def do_GET(self):  # noqa: N802
        host = norm((self.headers.get("Host") or "").split(":")[0])
        path = self.path.split("?")[0]
        ok = self.server.routes.get(host) == path
        body = json.dumps({"status": "ok", "host": host} if ok else {"error": "not found"}).encode()
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass  # quiet: benchmarks and probes make many requests


class TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, contexts: dict, default: ssl.SSLContext, routes: dict | None = None):
        super().__init__(addr, _Handler)
        self.default = default
        self.routes = routes or {}

        # Pick the certificate by SNI; the default context presents its own when unknown.
        def pick(sslobj, server_name, ctx):
            if server_name and norm(server_name) in contexts:
                sslobj.context = contexts[norm(server_name)]

        default.sni_callback = pick

    def finish_request(self, request, client_address):
        # The handshake happens in the request's own thread, so a slow client blocks no one.
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self.default.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # e.g. the client rejected the certificate: that is the point of a fault endpoint
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass


def serve(server) -> int:
    """Serve in a daemon thread; the port it listens on."""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]
