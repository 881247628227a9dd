"""A real PostgreSQL server on 127.0.0.1: the offline stand-in for the in-cluster StatefulSet.

Fresh cluster per start (initdb takes about a second), a password generated
at run time, TCP on a free loopback port only.
"""
from __future__ import annotations

import hashlib
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from .. import errors
from ..backup import pgtools
from ..findings import failed, passed, wait_until
from . import procs

NAME = "postgres"
USER = "postgres"           # superuser inside the cluster
OS_USER = "postgres"        # system user the server runs as when we are root
SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
DATA = "postgres-data"

NO_OS_USER = ("the PostgreSQL server refuses to run as root and there is no {user!r} system user "
              "(install Debian's postgresql package, or run as a non-root user)")

# Exec the server as the postgres user; exec (not fork) so the recorded pid is the postmaster's.
_AS_USER = ("import os,sys; os.setgroups([]); os.setgid(int(sys.argv[2])); os.setuid(int(sys.argv[1])); "
            "os.execv(sys.argv[3], sys.argv[3:])")


def _os_user():
    """(uid, gid) to drop to, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam(OS_USER)
    except KeyError:
        raise errors.TargetUnavailable(NO_OS_USER.format(user=OS_USER)) from None
    return pw.pw_uid, pw.pw_gid


def _run_as(argv: list[str], ids, **kw) -> subprocess.CompletedProcess:
    if ids:
        kw.update(user=ids[0], group=ids[1], extra_groups=[])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)
    if proc.returncode != 0:
        raise pgtools.CommandFailed(argv, proc.returncode, proc.stderr)
    return proc


def _own(path: Path, ids) -> None:
    if ids:
        os.chown(path, *ids)


def _data_dir(state_dir: Path) -> Path:
    """The cluster's folder, one per state dir, outside it: state dirs live
    under root's home, which the postgres user cannot traverse."""
    key = hashlib.sha1(str(Path(state_dir).resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"cloudtolocalllm-pg-{key}" / DATA


def start(state_dir: Path, progress=print) -> dict:
    state_dir = Path(state_dir).resolve()
    bins = pgtools.bindir(SERVER_BINARIES)
    ids = _os_user()
    stop(state_dir)  # a leftover server of this state dir
    data = _data_dir(state_dir)
    shutil.rmtree(data.parent, ignore_errors=True)
    data.parent.mkdir(parents=True, mode=0o711)
    data.mkdir(mode=0o700)
    _own(data.parent, ids)
    _own(data, ids)

    password = secrets.token_urlsafe(24)
    # initdb reads the superuser password from a file; keep it private and brief.
    pwfile = data.parent / "postgres-init.pw"
    pwfile.touch(mode=0o600)
    _own(pwfile, ids)
    pwfile.write_text(password)
    progress(f"initialising a PostgreSQL cluster with {bins / 'initdb'}")
    try:
        _run_as([str(bins / "initdb"), "-D", str(data), "-U", USER, "--pwfile", str(pwfile),
                 "--auth", "scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync"],
                ids, cwd=str(data))
    except pgtools.CommandFailed as exc:
        raise errors.TargetUnavailable(
            f"initdb failed in {data} (the {OS_USER} user must be able to reach it): {exc}",
            exc.evidence) from None
    finally:
        pwfile.unlink(missing_ok=True)

    port = procs.free_port()
    # TCP on loopback only: no Unix socket (their paths are limited to ~100
    # bytes and a state dir under reports/ can be longer); fsync off: a
    # throwaway test server.
    server = [str(bins / "postgres"), "-D", str(data), "-p", str(port),
              "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
              "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
              "-c", "max_connections=100"]
    argv = [sys.executable, "-c", _AS_USER, str(ids[0]), str(ids[1]), *server] if ids else server
    progress(f"starting PostgreSQL on 127.0.0.1:{port}")
    pid = procs.spawn(NAME, argv, state_dir, cwd=data)
    procs.wait_port("127.0.0.1", port, 30, pid, "postgres")
    dsn = f"postgresql://{USER}:{quote(password, safe='')}@127.0.0.1:{port}/postgres"
    conn = pgtools.Conn.parse(dsn)

    def accepting():
        try:
            with conn.connect(timeout=2) as c:
                return passed("postgres accepts connections", actual=c.execute("show server_version").fetchone()[0])
        except errors.TargetUnavailable as exc:
            if not procs.alive(pid):
                log = state_dir / (NAME + ".log")
                raise errors.TargetUnavailable(f"postgres exited during start; see {log}") from None
            return failed("postgres accepts connections", actual=str(exc))

    version = wait_until("postgres to accept connections", accepting, timeout=30, interval=0.1).actual
    return {"postgres_dsn": dsn, "host": "127.0.0.1", "port": port, "user": USER, "database": "postgres",
            "server_version": version, "data_dir": str(data), "bindir": str(bins)}


def stop(state_dir: Path) -> None:
    """pg_ctl stop -m fast (SIGTERM would wait for clients), then make sure via procs."""
    state_dir = Path(state_dir).resolve()
    data = _data_dir(state_dir)
    pidfile = state_dir / f"{NAME}.pid"
    if pidfile.exists() and procs.alive(int(pidfile.read_text())) and (data / "postmaster.pid").exists():
        try:
            bins = pgtools.bindir(SERVER_BINARIES)
            _run_as([str(bins / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w", "-t", "20"],
                    _os_user(), cwd=str(data))
        except (errors.ProvisionError, subprocess.TimeoutExpired):
            pass  # procs.stop below signals the process group instead
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and procs.alive(int(pidfile.read_text())):
            time.sleep(0.05)
    procs.stop(NAME, state_dir, grace=5.0)
    shutil.rmtree(data.parent, ignore_errors=True)
