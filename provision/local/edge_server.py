"""The edge stand-in process: Cloudflare v4 API subset, authoritative DNS, HTTPS endpoints.

Run by provision.local.edge (`python -m provision.local.edge_server --state DIR`),
with the API token in CTL_EDGE_TOKEN (never on the command line). One process:

- Cloudflare v4 (HTTP, 127.0.0.1): zones, dns_records, settings ssl and
  always_use_https, Bearer auth, the {success, errors, messages, result,
  result_info} envelope. Each zone gets its own DNS listener, like Cloudflare
  assigns name servers per zone, so a fresh zone (seeded faults) never
  touches the shared one.
- DNS (UDP+TCP, 127.0.0.1:<port per zone>): authoritative for the zone, and
  answers for the offline load balancer hostname. Proxied records answer with
  the record's target (Cloudflare would answer with its edge addresses);
  subdomain CNAMEs answer with the CNAME then the target's A record; the apex
  CNAME is flattened into A records, as Cloudflare does.
- HTTPS on the load balancer address: one certificate per domain (SNI) from
  the test CA; /healthz (web) and /api/health (api) answer 200. Separate
  ports serve the seeded TLS faults (expired, wrong-hostname, untrusted-ca).

Writes <state>/edge-ca.pem (the CA certificate only) and, when listening,
<state>/edge-ready.json with every port.
"""
from __future__ import annotations

import argparse
import datetime as dt
import functools
import ipaddress
import json
import os
import socket
import ssl
import struct
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from .. import config
from . import edge_ca

HOST = "127.0.0.1"
TOKEN_ENV = "CTL_EDGE_TOKEN"
READY = "edge-ready.json"
CA_FILE = "edge-ca.pem"
SHARED_ACCOUNT = "offline-account"
AUTO_TTL = 300  # Cloudflare's ttl 1 means "automatic"; it answers with 300
SETTINGS = {"ssl": ("off", "flexible", "full", "strict"), "always_use_https": ("on", "off")}
RECORD_TYPES = ("A", "AAAA", "CNAME", "TXT", "MX", "NS")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


# ---------------------------------------------------------------- the store

@functools.lru_cache(maxsize=4096)
def _rrset_cached(name: str, ttl: int, rtype: str, values: tuple):
    # Parsing text rdata is most of a query's cost; answers are never mutated, so share them.
    return dns.rrset.from_text_list(dns.name.from_text(name), ttl, dns.rdataclass.IN, rtype, list(values))


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Zone:
    def __init__(self, name: str, account: str):
        self.id = uuid.uuid4().hex
        self.name = _norm(name)
        self.account = account
        self.created = _now()
        self.records: dict[str, dict] = {}
        self.settings = {"ssl": "strict", "always_use_https": "on"}
        self.modified = {k: self.created for k in self.settings}
        self.dns: DnsListener | None = None

    def as_json(self) -> dict:
        return {"id": self.id, "name": self.name, "status": "active", "paused": False, "type": "full",
                "development_mode": 0, "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
                "original_name_servers": None, "account": {"id": self.account, "name": self.account},
                "created_on": self.created, "modified_on": self.created, "activated_on": self.created,
                "plan": {"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website", "is_subscribed": True}}


class Store:
    """Zones and records; one lock, since API and DNS threads share it."""

    def __init__(self, lb_host: str, lb_addr: str):
        self.lock = threading.RLock()
        self.zones: dict[str, Zone] = {}
        self.lb_host, self.lb_addr = _norm(lb_host), lb_addr

    def zone(self, zone_id: str) -> Zone:
        z = self.zones.get(zone_id)
        if z is None:
            raise ApiError(404, 7003, f"Could not route to /zones/{zone_id}, perhaps your object identifier is invalid?")
        return z

    def add_zone(self, name: str, account: str) -> Zone:
        with self.lock:
            if not name or "." not in name:
                raise ApiError(400, 1097, "Invalid or missing zone name")
            if any(z.name == _norm(name) and z.account == account for z in self.zones.values()):
                raise ApiError(400, 1061, f"{_norm(name)} already exists")
            z = Zone(name, account)
            z.dns = DnsListener(self, z)
            self.zones[z.id] = z
            return z

    def delete_zone(self, zone_id: str) -> None:
        with self.lock:
            z = self.zone(zone_id)
            del self.zones[zone_id]
        if z.dns:
            z.dns.close()

    # records
    def full_name(self, z: Zone, name: str) -> str:
        n = _norm(name or "")
        if n in ("", "@"):
            return z.name
        return n if n == z.name or n.endswith("." + z.name) else f"{n}.{z.name}"

    def validate(self, z: Zone, rec: dict, own_id: str | None = None) -> dict:
        rtype = str(rec.get("type", "")).upper()
        if rtype not in RECORD_TYPES:
            raise ApiError(400, 9000 if not rtype else 1004, f"DNS Validation Error: unsupported record type {rtype or '(none)'}")
        name = self.full_name(z, rec.get("name", ""))
        content = str(rec.get("content", "")).strip()
        if not content:
            raise ApiError(400, 9005, "Content for record is required")
        if rtype in ("A", "AAAA"):
            try:
                ip = ipaddress.ip_address(content)
            except ValueError:
                ip = None
            if ip is None or ip.version != (4 if rtype == "A" else 6):
                raise ApiError(400, 9005, f"Content for {rtype} record must be a valid IPv{4 if rtype == 'A' else 6} address.")
        if rtype in ("CNAME", "MX", "NS"):
            content = _norm(content)
        ttl = int(rec.get("ttl", 1))
        if ttl != 1 and not 30 <= ttl <= 86400:
            raise ApiError(400, 9021, "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.")
        proxiable = rtype in ("A", "AAAA", "CNAME")
        proxied = bool(rec.get("proxied", False)) and proxiable
        others = [r for r in z.records.values() if r["name"] == name and r["id"] != own_id]
        if rtype == "CNAME" and any(r["type"] in ("A", "AAAA", "CNAME") for r in others) or \
                rtype in ("A", "AAAA") and any(r["type"] == "CNAME" for r in others):
            raise ApiError(400, 81053, "An A, AAAA, or CNAME record with that host already exists.")
        if any(r["type"] == rtype and r["content"] == content for r in others):
            raise ApiError(400, 81058, "An identical record already exists.")
        out = {"name": name, "type": rtype, "content": content, "ttl": ttl, "proxiable": proxiable,
               "proxied": proxied, "comment": rec.get("comment"), "tags": list(rec.get("tags") or [])}
        if rtype == "MX":
            out["priority"] = int(rec.get("priority", 10))
        return out

    def create_record(self, zone_id: str, body: dict) -> dict:
        with self.lock:
            z = self.zone(zone_id)
            rec = self.validate(z, body)
            now = _now()
            rec.update(id=uuid.uuid4().hex, zone_id=z.id, zone_name=z.name, locked=False,
                       meta={"auto_added": False, "managed_by_apps": False, "managed_by_argo_tunnel": False},
                       created_on=now, modified_on=now)
            z.records[rec["id"]] = rec
            return dict(rec)

    def record(self, z: Zone, record_id: str) -> dict:
        rec = z.records.get(record_id)
        if rec is None:
            raise ApiError(404, 81044, "Record does not exist.")
        return rec

    def update_record(self, zone_id: str, record_id: str, body: dict, partial: bool) -> dict:
        with self.lock:
            z = self.zone(zone_id)
            old = self.record(z, record_id)
            merged = {**old, **body} if partial else body
            rec = self.validate(z, merged, own_id=record_id)
            old.update(rec, modified_on=_now())
            return dict(old)

    def delete_record(self, zone_id: str, record_id: str) -> dict:
        with self.lock:
            z = self.zone(zone_id)
            self.record(z, record_id)
            del z.records[record_id]
            return {"id": record_id}

    # DNS answers
    def answer(self, z: Zone, qname: str, qtype: int):
        """(rcode, answer rrsets, authoritative) for one question."""
        q = _norm(qname)
        with self.lock:
            if q == self.lb_host:
                rrs = [self._rrset(q, 60, "A", [self.lb_addr])] if qtype in (dns.rdatatype.A, dns.rdatatype.ANY) else []
                return dns.rcode.NOERROR, rrs, True
            if not (q == z.name or q.endswith("." + z.name)):
                return dns.rcode.REFUSED, [], False
            return self._in_zone(z, q, qtype, depth=0)

    def _in_zone(self, z: Zone, q: str, qtype: int, depth: int):
        recs = [r for r in z.records.values() if r["name"] == q]
        cname = [r for r in recs if r["type"] == "CNAME"]
        if cname and qtype != dns.rdatatype.CNAME:
            r = cname[0]
            chased = self._chase(z, r["content"], qtype, depth + 1)
            if q == z.name:
                # CNAME flattening at the apex: the target's data under the apex name
                rrs = [self._rrset(q, self._ttl(r), dns.rdatatype.to_text(s.rdtype), [d.to_text() for d in s])
                       for s in chased if s.rdtype == qtype]
                return dns.rcode.NOERROR, rrs, True
            return dns.rcode.NOERROR, [self._rrset(q, self._ttl(r), "CNAME", [r["content"] + "."])] + chased, True
        want = dns.rdatatype.to_text(qtype)
        match = [r for r in recs if r["type"] == want or qtype == dns.rdatatype.ANY]
        if match:
            by_type: dict[str, list] = {}
            for r in match:
                by_type.setdefault(r["type"], []).append(r)
            return dns.rcode.NOERROR, [self._rrset(q, self._ttl(rs[0]), t, [self._rdata(r) for r in rs])
                                       for t, rs in by_type.items()], True
        exists = recs or any(r["name"].endswith("." + q) for r in z.records.values())
        return (dns.rcode.NOERROR if exists else dns.rcode.NXDOMAIN), [], True

    def _chase(self, z: Zone, target: str, qtype: int, depth: int) -> list:
        if depth > 8:
            return []
        if target == self.lb_host:
            return [self._rrset(target, 60, "A", [self.lb_addr])] if qtype == dns.rdatatype.A else []
        if target == z.name or target.endswith("." + z.name):
            return self._in_zone(z, target, qtype, depth)[1]
        return []  # outside: an authoritative server does not chase it

    @staticmethod
    def _ttl(r: dict) -> int:
        return AUTO_TTL if r["ttl"] == 1 else r["ttl"]

    @staticmethod
    def _rdata(r: dict) -> str:
        if r["type"] in ("CNAME", "NS"):
            return r["content"] + "."
        if r["type"] == "MX":
            return f"{r.get('priority', 10)} {r['content']}."
        if r["type"] == "TXT":
            return json.dumps(r["content"])
        return r["content"]

    @staticmethod
    def _rrset(name: str, ttl: int, rtype: str, values: list[str]):
        return _rrset_cached(name, ttl, rtype, tuple(values))

    def soa(self, z: Zone):
        return self._rrset(z.name, 3600, "SOA", ["ada.ns.cloudflare.com. dns.cloudflare.com. 2345678901 10000 2400 604800 1800"])


# ---------------------------------------------------------------- DNS

class DnsListener:
    """UDP and TCP on one loopback port, answering for one zone."""

    def __init__(self, store: Store, zone: Zone):
        self.store, self.zone = store, zone
        self.udp, self.tcp = self._bind()
        self.port = self.udp.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._serve_udp, daemon=True).start()
        threading.Thread(target=self._serve_tcp, daemon=True).start()

    @staticmethod
    def _bind():
        for _ in range(50):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind((HOST, 0))
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((HOST, udp.getsockname()[1]))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen(64)
            return udp, tcp
        raise OSError("no free port for UDP and TCP together")

    def respond(self, wire: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except Exception:
            return None  # not a DNS message: drop, as servers do
        resp = dns.message.make_response(query)
        resp.flags &= ~dns.flags.RA
        if len(query.question) != 1 or query.opcode() != 0:
            resp.set_rcode(dns.rcode.FORMERR if len(query.question) != 1 else dns.rcode.NOTIMP)
            return resp.to_wire()
        q = query.question[0]
        rcode, rrsets, auth = self.store.answer(self.zone, q.name.to_text(), q.rdtype)
        resp.set_rcode(rcode)
        if auth:
            resp.flags |= dns.flags.AA
        resp.answer.extend(rrsets)
        if auth and not rrsets and _norm(q.name.to_text()) != self.store.lb_host:
            resp.authority.append(self.store.soa(self.zone))
        return resp.to_wire()

    def _serve_udp(self):
        while not self.closed:
            try:
                data, addr = self.udp.recvfrom(4096)
            except OSError:
                return
            out = self.respond(data)
            if out is not None:
                try:
                    self.udp.sendto(out, addr)
                except OSError:
                    pass

    def _serve_tcp(self):
        while not self.closed:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._tcp_conn, args=(conn,), daemon=True).start()

    def _tcp_conn(self, conn: socket.socket):
        conn.settimeout(10)
        with conn:
            try:
                while True:
                    head = self._recv(conn, 2)
                    if not head:
                        return
                    data = self._recv(conn, struct.unpack("!H", head)[0])
                    out = self.respond(data or b"")
                    if out is None:
                        return
                    conn.sendall(struct.pack("!H", len(out)) + out)
            except OSError:
                return

    @staticmethod
    def _recv(conn, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                return b""
            buf += chunk
        return buf

    def close(self):
        self.closed = True
        for s in (self.udp, self.tcp):
            try:
                s.close()
            except OSError:
                pass


# ---------------------------------------------------------------- Cloudflare v4 API

def api_app(store: Store, token: str) -> Flask:
    app = Flask("cloudflare-standin")

    def envelope(result, status=200, info=None):
        body = {"success": True, "errors": [], "messages": [], "result": result}
        if info is not None:
            body["result_info"] = info
        return jsonify(body), status

    def paged(items: list, default_per_page: int, max_per_page: int):
        try:
            page = max(1, int(request.args.get("page", 1)))
            per_page = min(max_per_page, max(1, int(request.args.get("per_page", default_per_page))))
        except ValueError:
            raise ApiError(400, 1001, "Invalid page or per_page") from None
        chunk = items[(page - 1) * per_page: page * per_page]
        total_pages = max(1, -(-len(items) // per_page))
        return envelope(chunk, info={"page": page, "per_page": per_page, "count": len(chunk),
                                     "total_count": len(items), "total_pages": total_pages})

    @app.errorhandler(ApiError)
    def _api_error(e: ApiError):
        return jsonify({"success": False, "errors": [{"code": e.code, "message": e.message}],
                        "messages": [], "result": None}), e.status

    @app.errorhandler(404)
    def _not_found(e):
        return _api_error(ApiError(400, 7000, "No route for that URI"))

    @app.errorhandler(405)
    def _not_allowed(e):
        return _api_error(ApiError(405, 10405, "Method not allowed for this route"))

    @app.before_request
    def _auth():
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            raise ApiError(400, 6003, "Invalid request headers")
        if header[7:].strip() != token:
            raise ApiError(403, 10000, "Authentication error")

    def body() -> dict:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ApiError(400, 6007, "Malformed JSON in request body")
        return data

    base = "/client/v4"

    @app.get(f"{base}/zones")
    def list_zones():
        name = request.args.get("name")
        with store.lock:
            zs = [z.as_json() for z in store.zones.values() if name is None or z.name == _norm(name)]
        return paged(zs, 20, 50)

    @app.post(f"{base}/zones")
    def create_zone():
        b = body()
        account = (b.get("account") or {}).get("id") or SHARED_ACCOUNT
        return envelope(store.add_zone(str(b.get("name", "")), account).as_json())

    @app.get(f"{base}/zones/<zone_id>")
    def get_zone(zone_id):
        return envelope(store.zone(zone_id).as_json())

    @app.delete(f"{base}/zones/<zone_id>")
    def delete_zone(zone_id):
        store.delete_zone(zone_id)
        return envelope({"id": zone_id})

    @app.get(f"{base}/zones/<zone_id>/dns_records")
    def list_records(zone_id):
        with store.lock:
            z = store.zone(zone_id)
            recs = sorted(z.records.values(), key=lambda r: (r["name"], r["type"], r["created_on"]))
            a = request.args
            if a.get("name"):
                recs = [r for r in recs if r["name"] == store.full_name(z, a["name"])]
            if a.get("type"):
                recs = [r for r in recs if r["type"] == a["type"].upper()]
            if a.get("content"):
                recs = [r for r in recs if r["content"] == a["content"]]
            if a.get("proxied") in ("true", "false"):
                recs = [r for r in recs if r["proxied"] == (a["proxied"] == "true")]
            recs = [dict(r) for r in recs]
        return paged(recs, 100, 5000)

    @app.post(f"{base}/zones/<zone_id>/dns_records")
    def create_record(zone_id):
        return envelope(store.create_record(zone_id, body()))

    @app.get(f"{base}/zones/<zone_id>/dns_records/<record_id>")
    def get_record(zone_id, record_id):
        with store.lock:
            return envelope(dict(store.record(store.zone(zone_id), record_id)))

    @app.put(f"{base}/zones/<zone_id>/dns_records/<record_id>")
    def put_record(zone_id, record_id):
        return envelope(store.update_record(zone_id, record_id, body(), partial=False))

    @app.patch(f"{base}/zones/<zone_id>/dns_records/<record_id>")
    def patch_record(zone_id, record_id):
        return envelope(store.update_record(zone_id, record_id, body(), partial=True))

    @app.delete(f"{base}/zones/<zone_id>/dns_records/<record_id>")
    def delete_record(zone_id, record_id):
        return envelope(store.delete_record(zone_id, record_id))

    def setting_json(z: Zone, sid: str) -> dict:
        return {"id": sid, "value": z.settings[sid], "editable": True, "modified_on": z.modified[sid]}

    @app.route(f"{base}/zones/<zone_id>/settings/<sid>", methods=["GET", "PATCH"])
    def setting(zone_id, sid):
        if sid not in SETTINGS:
            raise ApiError(400, 1006, "Unrecognized zone setting name")
        with store.lock:
            z = store.zone(zone_id)
            if request.method == "PATCH":
                value = body().get("value")
                if value not in SETTINGS[sid]:
                    raise ApiError(400, 1007, f"Invalid value for zone setting {sid}")
                z.settings[sid], z.modified[sid] = value, _now()
            return envelope(setting_json(z, sid))

    # Not Cloudflare: where this stand-in serves a zone's DNS (one port per zone).
    @app.get("/__standin/zones/<zone_id>/dns_server")
    def dns_server(zone_id):
        z = store.zone(zone_id)
        return envelope({"dns_server": [HOST, z.dns.port]})

    return app


# ---------------------------------------------------------------- HTTPS (the app stand-in)

class _Handler(BaseHTTPRequestHandler):
    server_version = "edge-standin"
    routes: dict = {}

    def do_GET(self):  # noqa: N802
        host = _norm((self.headers.get("Host") or "").split(":")[0])
        path = self.path.split("?")[0]
        ok = self.routes.get(host) == path
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

    def __init__(self, addr, contexts: dict, default: ssl.SSLContext):
        super().__init__(addr, _Handler)
        self.default = default
        # Pick the certificate by SNI; the default context presents its own when unknown.
        def pick(sslobj, server_name, ctx):
            if server_name and _norm(server_name) in contexts:
                sslobj.context = contexts[_norm(server_name)]
        default.sni_callback = pick

    def finish_request(self, request, client_address):
        # The handshake happens in the request's own thread, so a slow client blocks no one.
        request.settimeout(10)
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


def _serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--state", required=True)
    args = ap.parse_args(argv)
    state = Path(args.state)
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        print(f"edge_server: {TOKEN_ENV} is not set", file=sys.stderr)
        return 2
    s = config.settings()
    edge, zone_name, domains = s["edge"], s["domains"]["zone"], s["domains"]["names"]
    lb_host, lb_addr = edge["load_balancer_hostname"], edge["load_balancer_address"]
    health = s["dns"]["health_paths"]

    store = Store(lb_host, lb_addr)
    zone = store.add_zone(zone_name, SHARED_ACCOUNT)
    # Seeded the way the migration leaves it: each domain a proxied CNAME to
    # the load balancer (flattened at the apex), SSL strict, Always Use HTTPS.
    for d in domains:
        store.create_record(zone.id, {"type": "CNAME", "name": d, "content": lb_host, "proxied": True, "ttl": 1})

    ca = edge_ca.make_ca()
    (state / CA_FILE).write_bytes(ca.cert_pem())
    contexts = {_norm(d): edge_ca.server_context(edge_ca.issue(ca, [d]), ca) for d in domains}
    _Handler.routes = {_norm(d): health["api"] if _norm(d).startswith("api.") else health["web"] for d in domains}
    main_port = _serve(TlsServer((lb_addr, 0), contexts, edge_ca.server_context(edge_ca.issue(ca, [domains[0]]), ca)))
    # Seeded TLS faults: separate endpoints, each presenting one bad certificate for any name.
    other_ca = edge_ca.make_ca("an untrusted CA")
    bad = {
        "expired": edge_ca.server_context(edge_ca.expired(ca, list(domains)), ca),
        "wrong-hostname": edge_ca.server_context(edge_ca.issue(ca, ["www.example.invalid"]), ca),
        "untrusted-ca": edge_ca.server_context(edge_ca.issue(other_ca, list(domains)), other_ca),
    }
    fault_ports = {name: _serve(TlsServer((lb_addr, 0), {}, ctx)) for name, ctx in bad.items()}
    del ca, other_ca  # keys live only inside the SSL contexts from here on

    api = make_server(HOST, 0, api_app(store, token), threaded=True)
    api_port = _serve(api)
    ready = {"api_port": api_port, "dns_port": zone.dns.port, "zone_id": zone.id, "https_port": main_port,
             "tls_faults": fault_ports, "pid": os.getpid()}
    tmp = state / (READY + ".tmp")
    tmp.write_text(json.dumps(ready))
    tmp.replace(state / READY)
    print(f"edge ready: api 127.0.0.1:{api_port}, dns 127.0.0.1:{zone.dns.port}, https {lb_addr}:{main_port}", flush=True)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
