"""A real recursive resolver (Debian's unbound) in front of the edge's authoritative DNS, loopback only.

P6 asks its questions through it as well as to the edge directly: unbound
follows CNAMEs across zones on its own (the zone, then the load balancer's
name), caches, and answers as resolvers on the internet do. Every name it may
ask about is routed to a loopback port: the zone and the load balancer's
hostname to the zone's port (stub zones), everything else to the shared
zone's port, which refuses it (so a CNAME to Azure ends in SERVFAIL, never in
a query leaving the machine). No DNSSEC (the stand-in signs nothing), no
root priming, no privileges dropped, no syslog.

`unbound-control` over a unix socket flushes the cache between examples:
the zone's records change under the same names.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import dns.message
import dns.query
import dns.rcode

from provision.local import procs

NAME = "unbound"
MISSING = ("unbound is not installed: the recursive-resolver path of P6 needs it "
           "(apt-get install -y unbound)")
START_TIMEOUT = 15.0


def binary() -> str | None:
    return shutil.which("unbound") or (Path("/usr/sbin/unbound").exists() and "/usr/sbin/unbound") or None


def _control_binary() -> str:
    return shutil.which("unbound-control") or "/usr/sbin/unbound-control"


def config_text(port: int, workdir: Path, stubs: dict[str, tuple[str, int]], refuse_at: tuple[str, int]) -> str:
    """unbound.conf: loopback listener, stub zones to the edge, everything else to a refusing loopback port."""
    lines = [
        "server:",
        "  interface: 127.0.0.1",
        f"  port: {port}",
        "  do-ip6: no",
        "  access-control: 127.0.0.0/8 allow",
        "  do-not-query-localhost: no",
        "  username: \"\"",
        "  chroot: \"\"",
        f"  directory: \"{workdir}\"",
        f"  pidfile: \"{workdir / 'unbound.pid'}\"",
        "  use-syslog: no",
        "  logfile: \"\"",
        "  verbosity: 0",
        "  num-threads: 1",
        "  module-config: \"iterator\"",
        "  qname-minimisation: no",
        "  prefetch: no",
        "  harden-referral-path: no",
        "  minimal-responses: no",
        "  serve-expired: no",
        "remote-control:",
        "  control-enable: yes",
        f"  control-interface: \"{workdir / 'control.sock'}\"",
        "  control-use-cert: no",
    ]
    for zone, (host, zport) in stubs.items():
        lines += ["stub-zone:", f"  name: \"{zone}.\"", f"  stub-addr: {host}@{zport}", "  stub-first: no"]
    lines += ["forward-zone:", "  name: \".\"", f"  forward-addr: {refuse_at[0]}@{refuse_at[1]}"]
    return "\n".join(lines) + "\n"


class Unbound:
    """A running unbound: `.address` (host, port); `flush()` empties its caches."""

    def __init__(self, workdir: Path, port: int):
        self.workdir, self.address = workdir, ("127.0.0.1", port)

    def control(self, *args: str) -> str:
        p = subprocess.run([_control_binary(), "-c", str(self.workdir / "unbound.conf"), *args],
                           capture_output=True, text=True, timeout=20)
        if p.returncode != 0:
            raise RuntimeError(f"unbound-control {' '.join(args)} failed: {(p.stderr or p.stdout).strip()[:300]}")
        return p.stdout

    def flush(self) -> None:
        """Forget every cached answer and negative answer (the zone changed under the same names)."""
        self.control("flush_zone", ".")


def _answers(port: int) -> bool:
    try:
        q = dns.message.make_query("version.invalid.", "A")
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=0.5)
    except (OSError, dns.exception.DNSException):
        return False
    return r.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.SERVFAIL, dns.rcode.REFUSED)


@contextmanager
def running(workdir: Path, stubs: dict[str, tuple[str, int]], refuse_at: tuple[str, int]):
    """Start unbound in `workdir` routed as described above; stopped on exit."""
    exe = binary()
    if exe is None:
        raise RuntimeError(MISSING)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    port = procs.free_port()
    conf = workdir / "unbound.conf"
    conf.write_text(config_text(port, workdir, stubs, refuse_at))
    pid = procs.spawn(NAME, [exe, "-d", "-c", str(conf)], workdir)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(port):
            if not procs.alive(pid):
                log = (workdir / f"{NAME}.log").read_text(errors="replace")[-800:]
                raise RuntimeError(f"unbound exited at start: {log}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"unbound did not answer on 127.0.0.1:{port} within {START_TIMEOUT:.0f}s")
            time.sleep(0.05)
        yield Unbound(workdir, port)
    finally:
        procs.stop(NAME, workdir)
