"""The edge's HTTPS endpoints: the app stand-in on the load balancer address.

One certificate per domain, picked by SNI. What a request gets:
- offline (a dict of routes): the health path of each domain answers 200
  (api.* the API's, others the web's), anything else 404 (fixed answers);
- rehearsal (a ClusterRouter): as ingress-nginx routes, read from the cluster
  as a read-only identity: Host -> the rule of an Ingress whose IngressClass's
  controller is ingress-nginx (longest path) -> its backend Service -> that
  Service's EndpointSlices. No rule: 404 (the default backend); no Service or
  no ready endpoint: 503, so a broken deploy shows on the domains; else the
  health path answers 200 and anything else 404, as above.
  With the Origin CA's root (the rehearsal's stack), it first plays Cloudflare's SSL mode
  strict: the origin (ingress-nginx) presents the TLS secret of the Ingress naming the host,
  else its fake default certificate; unless that certificate is unexpired, names the host,
  is issued by the Origin CA and has its key, the answer is 526 "Invalid SSL certificate"
  (`origin_problem`, pure). Cloudflare also accepts a publicly trusted CA; the stand-in knows
  only its Origin CA.
The seeded TLS faults are further servers, each presenting one bad certificate.
"""
from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ..dns import origin_ca
from .edge_cloudflare_model import norm

HANDSHAKE_TIMEOUT = 10
NGINX_CONTROLLER = "k8s.io/ingress-nginx"
NGINX_CLASS_ANNOTATION = ("kubernetes.io/ingress.class", "nginx")
NOT_FOUND = {"error": "not found"}
UNAVAILABLE = "503 Service Temporarily Unavailable: {why}"
INVALID_SSL = "526 Invalid SSL certificate: the origin's certificate for {host}: {why}"
REASONS = {526: "Invalid SSL certificate"}   # Cloudflare's status; http.server has no phrase for it
FAKE_CERTIFICATE = "no TLS secret {ref}: ingress-nginx presents its fake default certificate"


def health_routes(domains, health_paths: dict) -> dict[str, str]:
    """host -> the one path that answers 200 on it."""
    return {norm(d): health_paths["api"] if norm(d).startswith("api.") else health_paths["web"] for d in domains}


def answer(routes, host: str, path: str) -> tuple[int, dict]:
    """(status, JSON body) for a request: `routes` is host -> health path, or a ClusterRouter."""
    if hasattr(routes, "answer"):
        return routes.answer(host, path)
    return (200, {"status": "ok", "host": host}) if routes.get(host) == path else (404, NOT_FOUND)


def path_matches(rule_path: str, path_type: str, path: str) -> bool:
    """An Ingress path against a request path: Exact is equality, Prefix by path elements (pure)."""
    if path_type == "Exact":
        return path == rule_path
    prefix = rule_path.rstrip("/")
    return not prefix or path == prefix or path.startswith(prefix + "/")


def _served(ing: dict, served: set[str]) -> bool:
    spec, md = ing.get("spec") or {}, ing["metadata"]
    klass = spec.get("ingressClassName")
    ann = (md.get("annotations") or {}).get(NGINX_CLASS_ANNOTATION[0])
    return klass in served or (klass is None and ann == NGINX_CLASS_ANNOTATION[1])


def pick_backend(ingresses: list[dict], served: set[str], host: str, path: str) -> tuple[str, dict] | None:
    """(namespace, backend.service) of the longest matching path of a served Ingress's rule for `host` (pure)."""
    best = None
    for ing in ingresses:
        spec, md = ing.get("spec") or {}, ing["metadata"]
        if not _served(ing, served):
            continue
        for rule in spec.get("rules") or []:
            if norm(rule.get("host") or host) != host:
                continue
            for p in (rule.get("http") or {}).get("paths") or []:
                rp = p.get("path") or "/"
                if path_matches(rp, p.get("pathType", "Prefix"), path) and (best is None or len(rp) > best[0]):
                    best = (len(rp), md.get("namespace", "default"), (p.get("backend") or {}).get("service") or {})
    return (best[1], best[2]) if best else None


def tls_secret_ref(ingresses: list[dict], served: set[str], host: str) -> tuple[str, str] | None:
    """(namespace, secretName) of the TLS entry naming `host` in a served Ingress (pure); None: ingress-nginx
    presents its fake default certificate for it."""
    for ing in ingresses:
        if not _served(ing, served):
            continue
        for t in (ing.get("spec") or {}).get("tls") or []:
            if host in {norm(h) for h in t.get("hosts") or []} and t.get("secretName"):
                return ing["metadata"].get("namespace", "default"), t["secretName"]
    return None


def origin_problem(secret: dict | None, host: str, anchors, now: dt.datetime | None = None,
                   ref: str = "") -> str | None:
    """Why Cloudflare (SSL mode strict) would refuse the origin's certificate for `host`, given the TLS
    Secret ingress-nginx presents (None: none, so its fake certificate) and the Origin CA's roots (pure)."""
    if secret is None:
        return FAKE_CERTIFICATE.format(ref=ref or "for the host")
    cert, key = origin_ca.secret_pair(secret)
    problems = origin_ca.certificate_problems(cert, key, [host], now or dt.datetime.now(dt.UTC), anchors=anchors)
    return "; ".join(problems) or None


def ready_endpoints(slices: list[dict], port_name: str) -> int:
    """Ready endpoints of a Service port in its EndpointSlices (ready unset counts as ready) (pure)."""
    n = 0
    for s in slices:
        if port_name not in [p.get("name") or "" for p in s.get("ports") or []]:
            continue
        n += sum(1 for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready") is not False)
    return n


class ClusterRouter:
    """Routes as ingress-nginx would, from what the cluster holds now (no cache)."""

    def __init__(self, kubeconfig: str, routes: dict[str, str], origin_anchors=None, ingress_class: str | None = None):
        # origin_anchors: the Origin CA's root certificates; set, the router first judges the origin's
        # certificate as Cloudflare's SSL mode strict does (526), else it routes only.
        # ingress_class: serve that IngressClass only, as an ingress-nginx started with --ingress-class
        # (None: every class whose controller is ingress-nginx's)
        self.kubeconfig, self.routes, self.anchors = kubeconfig, routes, origin_anchors
        self.ingress_class = ingress_class

    def answer(self, host: str, path: str) -> tuple[int, dict]:
        from ..kube import client

        k = self.kubeconfig
        try:
            served = {c["metadata"]["name"] for c in client.list_objects(k, "networking.k8s.io/v1", "IngressClass")
                      if (c.get("spec") or {}).get("controller") == NGINX_CONTROLLER
                      and self.ingress_class in (None, c["metadata"]["name"])}
            ingresses = client.list_objects(k, "networking.k8s.io/v1", "Ingress")
            if self.anchors is not None:
                tls = tls_secret_ref(ingresses, served, host)
                secret = client.get(k, "v1", "Secret", tls[1], tls[0]) if tls else None
                why = origin_problem(secret, host, self.anchors, ref="/".join(tls) if tls else "")
                if why:
                    return 526, {"error": INVALID_SSL.format(host=host, why=why)}
            hit = pick_backend(ingresses, served, host, path)
            if hit is None:
                return 404, NOT_FOUND
            ns, backend = hit
            svc = client.get(k, "v1", "Service", backend.get("name", ""), ns)
            if svc is None:
                return 503, {"error": UNAVAILABLE.format(why=f"no Service {ns}/{backend.get('name')}")}
            want = backend.get("port") or {}
            port = next((p for p in svc["spec"].get("ports") or []
                         if p.get("name") == want.get("name") or p.get("port") == want.get("number")), None)
            slices = client.list_objects(k, "discovery.k8s.io/v1", "EndpointSlice", ns,
                                         label_selector=f"kubernetes.io/service-name={svc['metadata']['name']}")
            n = ready_endpoints(slices, (port or {}).get("name") or "") if port else 0
        except (client.ApiError, OSError) as exc:
            return 502, {"error": f"502 Bad Gateway: {exc}"}
        if not n:
            return 503, {"error": UNAVAILABLE.format(why=f"no ready endpoint of Service {ns}/{backend.get('name')}")}
        if self.routes.get(host) != path:
            return 404, NOT_FOUND
        return 200, {"status": "ok", "host": host, "service": f"{ns}/{backend.get('name')}", "ready_endpoints": n}


class _Handler(BaseHTTPRequestHandler):
    server_version = "edge-standin"

    def do_GET(self):  # noqa: N802
        host = norm((self.headers.get("Host") or "").split(":")[0])
        status, doc = answer(self.server.routes, host, self.path.split("?")[0])
        body = json.dumps(doc).encode()
        self.send_response(status, REASONS.get(status))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass  # quiet: benchmarks and probes make many requests


class TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, contexts: dict, default: ssl.SSLContext, routes=None):
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


def routes_for(state_dir, domains, health_paths: dict, from_cluster: bool, origin_anchors=None):
    """What the edge's HTTPS endpoints answer: fixed health routes, or (rehearsal, `from_cluster`) a
    ClusterRouter reading the stack's cluster as the read-only identity "edge" (controller_rbac), judging
    the origin's certificate against `origin_anchors` (Cloudflare's SSL mode strict)."""
    routes = health_routes(domains, health_paths)
    if not from_cluster:
        return routes
    from .controller_rbac import kubeconfig_of
    from .stack import read_state

    cp = ((read_state(state_dir) or {}).get("components") or {}).get("controlplane")
    if not cp:
        raise RuntimeError("the edge routes from the cluster in rehearsal mode: start the control plane first")
    return ClusterRouter(kubeconfig_of(cp, "edge"), routes, origin_anchors)
