"""The edge's DNS server: UDP and TCP on one loopback port per zone (dnspython messages).

Each zone gets its own listener, like Cloudflare assigns name servers per
zone, so a fresh zone (seeded faults) never touches the shared one. The
answers come from edge_dns_answers.
"""
from __future__ import annotations

import socket
import struct
import threading

import dns.flags
import dns.message
import dns.rcode

from . import edge_dns_answers
from .edge_cloudflare_model import Store, Zone, norm

BIND_ATTEMPTS = 50


class DnsListener:
    """UDP and TCP on one loopback port, answering for one zone."""

    def __init__(self, store: Store, zone: Zone, host: str):
        self.store, self.zone = store, zone
        self.udp, self.tcp = self._bind(host)
        self.address = (host, self.udp.getsockname()[1])
        self.port = self.address[1]
        self.closed = False
        threading.Thread(target=self._serve_udp, daemon=True).start()
        threading.Thread(target=self._serve_tcp, daemon=True).start()

    @staticmethod
    def _bind(host: str):
        for _ in range(BIND_ATTEMPTS):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind((host, 0))
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((host, udp.getsockname()[1]))
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
        rcode, rrsets, auth = edge_dns_answers.answer(self.store, self.zone, q.name.to_text(), q.rdtype)
        resp.set_rcode(rcode)
        if auth:
            resp.flags |= dns.flags.AA
        resp.answer.extend(rrsets)
        if auth and not rrsets and norm(q.name.to_text()) != self.store.lb_host:
            resp.authority.append(edge_dns_answers.soa(self.zone))
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
