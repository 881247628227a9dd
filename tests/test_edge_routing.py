"""The edge routes as ingress-nginx would in rehearsal: Host -> Ingress rule ->
Service -> ready EndpointSlices, and answers 503 when none is ready, so a broken
deploy shows on the domains (offline keeps its fixed answers)."""
from __future__ import annotations

import http.client
import json
import socket
import ssl
import uuid

import pytest

from provision.constants import NEVER_READY_TAG
from provision.findings import failed, passed, wait_until
from provision.kube import client
from provision.local import edge_ca, procs
from provision.local.controller_rbac import kubeconfig_of
from provision.local.edge_https import (
    NGINX_CONTROLLER,
    ClusterRouter,
    TlsServer,
    answer,
    path_matches,
    pick_backend,
    ready_endpoints,
    serve,
)

pytestmark = [pytest.mark.offline]


def _ing(host: str, paths: list[tuple[str, str, str]], klass: str | None = "nginx", ns: str = "n") -> dict:
    return {"metadata": {"name": "i", "namespace": ns},
            "spec": {"ingressClassName": klass, "rules": [{"host": host, "http": {"paths": [
                {"path": p, "pathType": t, "backend": {"service": {"name": s, "port": {"name": "http"}}}}
                for p, t, s in paths]}}]}}


def test_paths_match_as_ingress_path_types_say():
    assert path_matches("/", "Prefix", "/anything")
    assert path_matches("/api", "Prefix", "/api/health") and path_matches("/api", "Prefix", "/api")
    assert not path_matches("/api", "Prefix", "/apis")
    assert path_matches("/x", "Exact", "/x") and not path_matches("/x", "Exact", "/x/")


def test_the_longest_path_of_a_served_ingress_wins():
    ings = [_ing("a.test", [("/", "Prefix", "web"), ("/api", "Prefix", "api")]),
            _ing("a.test", [("/api/health", "Prefix", "other")], klass="alb")]
    assert pick_backend(ings, {"nginx"}, "a.test", "/api/health") == ("n", {"name": "api", "port": {"name": "http"}})
    assert pick_backend(ings, {"nginx"}, "a.test", "/")[1]["name"] == "web"
    assert pick_backend(ings, {"nginx"}, "b.test", "/") is None
    assert pick_backend(ings, set(), "a.test", "/") is None           # no controller serves class nginx


def test_only_ready_endpoints_of_the_port_count():
    slices = [{"ports": [{"name": "http"}], "endpoints": [{"conditions": {"ready": True}},
                                                           {"conditions": {"ready": False}}, {}]},
              {"ports": [{"name": "metrics"}], "endpoints": [{"conditions": {"ready": True}}]}]
    assert ready_endpoints(slices, "http") == 2 and ready_endpoints(slices, "grpc") == 0


def test_offline_routes_keep_their_fixed_answers():
    assert answer({"a.test": "/healthz"}, "a.test", "/healthz")[0] == 200
    assert answer({"a.test": "/healthz"}, "a.test", "/other")[0] == 404


@pytest.fixture
def routed(target):
    ns = f"edge-{uuid.uuid4().hex[:8]}"
    klass = f"nginx-{ns}"
    client.create(target, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    client.create(target, {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": klass},
                           "spec": {"controller": NGINX_CONTROLLER}})
    yield ns, klass
    client.delete(target, "v1", "Namespace", ns)
    client.delete(target, "networking.k8s.io/v1", "IngressClass", klass)


def _app(ns: str, name: str, image: str, replicas: int) -> list[dict]:
    labels = {"app": name}
    return [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
             "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                      "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                          {"name": "app", "image": image, "ports": [{"name": "http", "containerPort": 8080}]}]}}}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
             "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}]


def _until(router: ClusterRouter, host: str, path: str, status: int):
    def probe():
        got, body = router.answer(host, path)
        return passed(f"{host}{path}") if got == status else failed(f"{host}{path}", str(status), f"{got} {body}")
    return wait_until(f"{host}{path} to answer {status}", probe, 60, 0.3)


def _https_get(port: int, ca_pem: bytes, host: str, path: str) -> tuple[int, dict]:
    """GET over TLS to loopback, verifying the certificate for `host` (SNI and Host header)."""
    ctx = ssl.create_default_context(cadata=ca_pem.decode())
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=10)
    conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                                server_hostname=host)
    try:
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_the_edge_routes_to_ready_endpoints_and_answers_503_without_them(target, routed):
    """Seeded faults: scaled to zero, and pods that never become ready: 503 on the domain."""
    ns, klass = routed
    host, broken = f"{ns}.example.test", f"broken-{ns}.example.test"
    for obj in _app(ns, "web", "nginx:1.27", 1) + _app(ns, "never", f"web:{NEVER_READY_TAG}{'0' * 34}", 1):
        client.create(target, obj)
    for name, h in (("web", host), ("never", broken)):
        ing = _ing(h, [("/", "Prefix", name)], klass=klass, ns=ns)
        client.create(target, {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                               "metadata": {"name": name, "namespace": ns}, "spec": ing["spec"]})
    router = ClusterRouter(kubeconfig_of(target.local["controlplane"], "edge"), {host: "/healthz", broken: "/healthz"})
    _until(router, host, "/healthz", 200)
    assert router.answer(host, "/other")[0] == 404
    assert router.answer(f"nobody-{ns}.example.test", "/healthz")[0] == 404
    # through the HTTPS server, as a probe sees it
    ca = edge_ca.make_ca()
    server = TlsServer(("127.0.0.1", procs.free_port()), {},
                       edge_ca.server_context(edge_ca.issue(ca, [host]), ca), router)
    port = serve(server)
    try:
        status, body = _https_get(port, ca.cert_pem(), host, "/healthz")
        assert status == 200 and body["service"] == f"{ns}/web" and body["ready_endpoints"] == 1
    finally:
        server.shutdown()
    # never-ready pods exist, yet no endpoint is ready
    wait_until("pod of never", lambda: passed("pod") if client.list_objects(
        target, "v1", "Pod", ns, label_selector="app=never") else failed("pod", "exists", "none"), 30, 0.3)
    code, body = _until(router, broken, "/healthz", 503) and router.answer(broken, "/healthz")
    assert code == 503 and "no ready endpoint" in body["error"]
    # scaled to zero
    dep = client.get(target, "apps/v1", "Deployment", "web", ns)
    dep["spec"]["replicas"] = 0
    client.replace(target, dep)
    _until(router, host, "/healthz", 503)
    # and a read-only identity: the router cannot change what it reads
    with pytest.raises(client.ApiError) as denied:
        client.delete(router.kubeconfig, "v1", "Service", "web", ns)
    assert denied.value.status == 403
