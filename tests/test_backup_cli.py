"""The postgres component and `provision backup create|restore` against a real PostgreSQL server."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from harness.faults import backup as faults
from provision import cli, errors
from provision.backup import appdata, dr, manifest
from provision.local import postgres, procs

pytestmark = [pytest.mark.offline]


@pytest.fixture(scope="module")
def server():
    # Not under pytest's tmp dir: that is 0700 root, and the server runs as the postgres user.
    d = Path(tempfile.mkdtemp(prefix="ctl-pg-"))
    d.chmod(0o755)
    info = postgres.start(d, progress=lambda m: None)
    yield d, info
    postgres.stop(d)


@pytest.fixture
def db(server):
    """A fresh database with generated data; dropped afterwards with any `<name>_*` siblings."""
    dsn = server[1]["postgres_dsn"]
    name = f"cli_{os.urandom(4).hex()}"
    appdata.create(dsn, name, seed=7)
    yield dsn, name
    with psycopg.connect(dsn, autocommit=True) as c:
        for (other,) in c.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (name + "%",)).fetchall():
            dr.drop_database(dsn, other)


def _cli(monkeypatch, capsys, dsn, *argv):
    monkeypatch.setenv("E2_TEST_DSN", dsn)
    code = cli.main(list(argv))
    out = capsys.readouterr()
    password = urlsplit(dsn).password
    assert password not in out.out + out.err  # never printed, success or failure
    return code, out.out, out.err


def test_start_gives_a_dsn_with_a_generated_password_and_details_without_it(server):
    d, info = server
    dsn = info["postgres_dsn"]
    parts = urlsplit(dsn)
    assert parts.hostname == "127.0.0.1" and parts.port == info["port"] and len(parts.password) >= 24
    assert all(parts.password not in str(v) for k, v in info.items() if k != "postgres_dsn")
    with psycopg.connect(dsn) as c:
        assert c.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        assert c.execute("SHOW unix_socket_directories").fetchone()[0] == ""
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn.replace(parts.password, "wrong"), connect_timeout=5)
    assert (d / "postgres.pid").exists()


def test_stop_leaves_no_process_and_start_is_repeatable():
    d = Path(tempfile.mkdtemp(prefix="ctl-pg-"))
    d.chmod(0o755)
    first = postgres.start(d, progress=lambda m: None)
    pid = int((d / "postgres.pid").read_text())
    second = postgres.start(d, progress=lambda m: None)  # restarts cleanly: new cluster, new password
    assert not procs.alive(pid)
    assert urlsplit(first["postgres_dsn"]).password != urlsplit(second["postgres_dsn"]).password
    pid = int((d / "postgres.pid").read_text())
    postgres.stop(d)
    assert not procs.alive(pid) and not (d / "postgres.pid").exists()
    postgres.stop(d)  # idempotent


def test_backup_then_restore_round_trips(monkeypatch, capsys, db, tmp_path):
    dsn, name = db
    code, out, _ = _cli(monkeypatch, capsys, dsn, "backup", "create", "--dsn-env", "E2_TEST_DSN", "--database", name,
                        "--out", str(tmp_path / "set"))
    assert code == 0 and "public.messages: 200 rows" in out
    code, out, _ = _cli(monkeypatch, capsys, dsn, "backup", "restore", "--from", str(tmp_path / "set"), "--verify-only")
    assert code == 0 and out.startswith("ok   checksum of backup set")
    code, out, _ = _cli(monkeypatch, capsys, dsn, "backup", "restore", "--dsn-env", "E2_TEST_DSN",
                        "--from", str(tmp_path / "set"), "--database", f"{name}_r")
    assert code == 0, out
    assert all(f.ok and f.grade == "real" for f in dr.compare(dsn, name, f"{name}_r"))


def test_a_corrupt_backup_is_refused_before_any_database_is_touched(monkeypatch, capsys, db, tmp_path):
    dsn, name = db
    bset = dr.backup(dsn, name, tmp_path / "set")
    faults.corrupt(bset.path, "one byte flipped in the dump")
    code, out, err = _cli(monkeypatch, capsys, dsn, "backup", "restore", "--dsn-env", "E2_TEST_DSN",
                          "--from", str(bset.path), "--database", f"{name}_r")
    assert code == errors.EXIT_REFUSED and "checksum" in err.splitlines()[0]
    assert not dr.database_exists(dsn, f"{name}_r")
    code, out, _ = _cli(monkeypatch, capsys, dsn, "backup", "restore", "--from", str(bset.path), "--verify-only")
    assert code == errors.EXIT_FAILED and out.startswith("FAIL checksum")


def test_restoring_over_a_database_with_data_is_refused(monkeypatch, capsys, db, tmp_path):
    dsn, name = db
    before = dr.table_stats(dsn, name)
    bset = dr.backup(dsn, name, tmp_path / "set")
    code, _, err = _cli(monkeypatch, capsys, dsn, "backup", "restore", "--dsn-env", "E2_TEST_DSN",
                        "--from", str(bset.path), "--database", name)
    assert code == errors.EXIT_REFUSED and "already holds tables" in err
    assert dr.table_stats(dsn, name) == before


def test_a_restore_that_fails_midway_drops_the_database_it_created(db, tmp_path):
    dsn, name = db
    bset = dr.backup(dsn, name, tmp_path / "set")
    # a valid checksum over a dump pg_restore cannot read: the failure is pg_restore's
    (bset.path / manifest.DUMP).write_bytes(b"PGDMP not really a dump")
    m = manifest.read(bset.path)
    m["dump"].update(sha256=manifest.sha256_file(bset.path / manifest.DUMP), bytes=23)
    manifest.write(bset.path, m)
    with pytest.raises(errors.ProvisionError) as e:
        dr.restore(dsn, bset.path, f"{name}_r")
    assert "pg_restore exited 1" in str(e.value) and any(x.startswith("command: ") for x in e.value.evidence)
    assert not dr.database_exists(dsn, f"{name}_r")


@pytest.mark.parametrize("argv, env, message", [
    (["backup", "create", "--dsn-env", "E2_UNSET", "--database", "x", "--out", "OUT"], {}, "E2_UNSET is not set"),
    (["backup", "create", "--dsn-env", "E2_TEST_DSN", "--database", "no-such", "--out", "OUT"], None,
     "invalid database name"),
    (["backup", "restore", "--from", "OUT", "--database", "x"], None, "--dsn-env and --database are required"),
    (["backup", "restore", "--dsn-env", "E2_TEST_DSN", "--from", "MISSING", "--database", "x"], None,
     "no backup directory"),
    # the old spellings, hidden aliases for one release
    (["backup", "--dsn-env", "E2_UNSET", "--database", "x", "--out", "OUT"], {}, "E2_UNSET is not set"),
    (["restore", "--from", "OUT", "--database", "x"], None, "--dsn-env and --database are required"),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(monkeypatch, capsys, server, tmp_path, argv, env, message):
    dsn = server[1]["postgres_dsn"]
    monkeypatch.delenv("E2_UNSET", raising=False)
    argv = [a.replace("OUT", str(tmp_path / "out")).replace("MISSING", str(tmp_path / "missing")) for a in argv]
    code, out, err = _cli(monkeypatch, capsys, dsn, *argv)
    assert code == errors.EXIT_USAGE and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_an_unreachable_server_is_exit_4_without_the_password(monkeypatch, capsys, server, tmp_path):
    dsn = server[1]["postgres_dsn"].replace(f":{server[1]['port']}/", f":{procs.free_port()}/")
    code, _, err = _cli(monkeypatch, capsys, dsn, "backup", "create", "--dsn-env", "E2_TEST_DSN",
                        "--database", "postgres", "--out", str(tmp_path / "out"))
    assert code == errors.EXIT_TARGET and "not reachable" in err
    assert not (tmp_path / "out").exists()


def test_a_pg_dump_failure_carries_command_exit_code_and_stderr(db, tmp_path, monkeypatch):
    dsn, name = db
    # a role that may connect but not read the tables: pg_dump itself fails
    with psycopg.connect(dsn, autocommit=True, dbname=name) as c:
        c.execute("DROP ROLE IF EXISTS e2_reader")
        c.execute("CREATE ROLE e2_reader LOGIN PASSWORD 'e2-reader-pw'")
        # tables readable (the manifest's stats work), sequences not: pg_dump itself fails
        c.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO e2_reader")
    parts = urlsplit(dsn)
    reader = f"postgresql://e2_reader:e2-reader-pw@{parts.hostname}:{parts.port}/{name}"
    try:
        with pytest.raises(errors.ProvisionError) as e:
            dr.backup(reader, name, tmp_path / "out")
        text = "\n".join([str(e.value), *e.value.evidence])
        assert "pg_dump exited 1" in str(e.value) and "permission denied" in text and "e2-reader-pw" not in text
        assert any(x.startswith("command: ") and "pg_dump" in x for x in e.value.evidence)
        assert not (tmp_path / "out").exists()
        # without table access the stats query fails first: one line, no password
        with psycopg.connect(dsn, autocommit=True, dbname=name) as c:
            c.execute("REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM e2_reader")
        with pytest.raises(errors.ProvisionError, match="permission denied for table") as e:
            dr.backup(reader, name, tmp_path / "out")
        assert "e2-reader-pw" not in str(e.value) and not (tmp_path / "out").exists()
    finally:
        with psycopg.connect(dsn, autocommit=True, dbname=name) as c:
            c.execute("DROP OWNED BY e2_reader")
            c.execute("DROP ROLE e2_reader")
