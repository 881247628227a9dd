"""Benchmark of the edge stand-in: DNS queries/s (UDP, TCP) and TLS handshakes/s, loopback only.

    .venv/bin/python benchmarks/dns_tls.py [--queries 2000] [--handshakes 200]

Uses the running stack named by CTL_STACK_DIR if it has the edge, else starts
an edge of its own in a temporary directory and stops it afterwards.
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import ssl
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dns.message  # noqa: E402
import dns.query  # noqa: E402
from figures import emit  # noqa: E402

from provision import config  # noqa: E402
from provision.local import edge, stack  # noqa: E402

MAX = 100_000  # bounded: a benchmark never runs away


def _edge_info() -> tuple[dict, Path | None]:
    d = os.environ.get(stack.STACK_DIR_ENV)
    state = stack.read_state(Path(d)) if d else None
    if state and "edge" in state["components"] and stack.is_running(Path(d)):
        return state["components"]["edge"], None
    own = Path(tempfile.mkdtemp(prefix="edge-bench-"))
    return edge.start(own, lambda m: None), own


def _loopback(host: str) -> str:
    if not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"refusing to benchmark {host}: not a loopback address")
    return host


def bench_dns(host: str, port: int, n: int, tcp: bool) -> float:
    names = config.settings()["domains"]["names"]
    q = [dns.message.make_query(name, "A") for name in names]
    send = dns.query.tcp if tcp else dns.query.udp
    t0 = time.perf_counter()
    for i in range(n):
        r = send(q[i % len(q)], host, port=port, timeout=2)
        assert r.answer, "empty answer"
    return n / (time.perf_counter() - t0)


def bench_tls(addr: str, port: int, ca: str, n: int) -> float:
    ctx = ssl.create_default_context(cafile=ca)
    ctx.options |= ssl.OP_NO_TICKET  # full handshakes, no resumption
    name = config.settings()["domains"]["names"][1]
    t0 = time.perf_counter()
    for _ in range(n):
        with socket.create_connection((addr, port), timeout=5) as s, ctx.wrap_socket(s, server_hostname=name):
            pass
    return n / (time.perf_counter() - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--handshakes", type=int, default=200)
    a = ap.parse_args(argv)
    if not (0 < a.queries <= MAX and 0 < a.handshakes <= MAX):
        print(f"dns_tls: --queries and --handshakes must be between 1 and {MAX}", file=sys.stderr)
        return 2
    info, own = _edge_info()
    try:
        host, port = info["dns_server"]
        _loopback(host)
        lb = _loopback(info["load_balancer_address"])
        emit("dns.udp", bench_dns(host, port, a.queries, False), "q/s", note=f"{a.queries} queries",
             better="higher")
        emit("dns.tcp", bench_dns(host, port, a.queries, True), "q/s",
             note=f"{a.queries} queries, one connection each", better="higher")
        emit("tls.handshakes", bench_tls(lb, info["https_port"], info["ca_bundle"], a.handshakes), "handshakes/s",
             note=f"{a.handshakes} full handshakes, ECDSA P-256", better="higher")
    finally:
        if own is not None:
            edge.stop(own)
    return 0


if __name__ == "__main__":
    sys.exit(main())
