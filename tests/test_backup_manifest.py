"""Pure parts of provision.backup: checksum verification, table comparison, retention, DSN handling."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from harness.faults import backup as faults
from provision import errors
from provision.backup import manifest, pgtools
from provision.findings import passed

pytestmark = [pytest.mark.offline, pytest.mark.unit]

STATS = {"public.users": {"rows": 3, "digest": "a" * 64}, "public.messages": {"rows": 10, "digest": "b" * 64}}


@pytest.fixture
def backup_set(tmp_path):
    d = tmp_path / "set"
    d.mkdir()
    dump = d / manifest.DUMP
    dump.write_bytes(bytes(range(256)) * 40)
    manifest.write(d, manifest.build("app", "u@h:1/app", dump, STATS, {"pg_dump": "15"}, datetime.now(UTC)))
    return d


def test_an_intact_backup_verifies(backup_set):
    f = manifest.verify(backup_set)
    assert f.ok and f.subject == "checksum of backup set"
    assert f.grade == "static"  # a read of the backup's files


@pytest.mark.parametrize("fault", list(faults.CORRUPTIONS))
def test_every_seeded_corruption_fails_the_checksum(backup_set, fault):
    faults.corrupt(backup_set, fault)
    f = manifest.verify(backup_set)
    assert not f.ok
    assert "checksum" in f.actual


@pytest.mark.parametrize("text, why", [
    ("{not json", "not valid JSON"),
    ('{"format": "other/1"}', "expected 'cloudtolocalllm-backup/1'"),
    ('{"format": "cloudtolocalllm-backup/1", "dump": {"file": "dump.pgc"}}', "no dump file with a sha256"),
    ('{"format": "cloudtolocalllm-backup/1", "dump": {"file": "../x", "sha256": "0"}}', "outside the backup directory"),
])
def test_a_bad_manifest_is_refused_with_the_reason(backup_set, text, why):
    (backup_set / manifest.MANIFEST).write_text(text)
    f = manifest.verify(backup_set)
    assert not f.ok and why in f.actual


def test_a_missing_dump_fails(backup_set):
    (backup_set / manifest.DUMP).unlink()
    assert "is missing" in manifest.verify(backup_set).actual


def test_a_same_size_same_prefix_change_is_caught(backup_set):
    dump = backup_set / manifest.DUMP
    data = bytearray(dump.read_bytes())
    data[-1] ^= 0x80
    dump.write_bytes(bytes(data))
    assert "checksum mismatch" in manifest.verify(backup_set).actual


def test_manifest_records_size_and_sha256(backup_set):
    m = json.loads((backup_set / manifest.MANIFEST).read_text())
    assert m["dump"]["bytes"] == 256 * 40
    assert m["dump"]["sha256"] == manifest.sha256_file(backup_set / manifest.DUMP)
    assert m["created"].endswith("Z")


def test_identical_tables_compare_ok():
    found = manifest.compare_tables(STATS, json.loads(json.dumps(STATS)), "a", "b")
    assert [f.ok for f in found] == [True, True]


@pytest.mark.parametrize("change, table, why", [
    ({"public.messages": {"rows": 9, "digest": "c" * 64}}, "public.messages", "row count differs"),
    ({"public.users": {"rows": 3, "digest": "d" * 64}}, "public.users", "content differs"),
    ({"public.extra": {"rows": 0, "digest": "e" * 64}}, "public.extra", "missing in a"),
])
def test_a_lost_or_changed_row_turns_its_table_red(change, table, why):
    found = manifest.compare_tables(STATS, {**STATS, **change}, "a", "b")
    red = [f for f in found if not f.ok]
    assert len(red) == 1 and red[0].subject.startswith(f"table {table}:") and why in red[0].actual
    assert faults.caught(found, table).ok
    assert not faults.caught(found, "public.other").ok


def test_a_missing_table_is_red_and_two_empty_databases_match():
    assert not manifest.compare_tables(STATS, {"public.users": STATS["public.users"]}, "a", "b")[0].ok
    assert not manifest.compare_tables(STATS, {}, "a", "b")[0].ok
    (empty,) = manifest.compare_tables({}, {}, "a", "b")
    assert empty.ok and empty.actual == "no tables on either side"


def test_caught_is_red_when_nothing_was_caught():
    found = [passed("table public.users: b matches a")]
    f = faults.caught(found, "public.users")
    assert not f.ok and "red: none" in f.actual


def test_refused_judges_the_outcome():
    assert faults.refused(errors.Refused("restore refused: checksum mismatch"), "checksum").ok
    assert not faults.refused(None, "checksum").ok
    assert not faults.refused(errors.Refused("target not empty"), "checksum").ok
    assert not faults.refused(errors.BadInput("checksum"), "checksum").ok


def test_rto():
    assert manifest.within_rto(59 * 60, 60).ok
    assert not manifest.within_rto(61 * 60, 60).ok


def test_retention_prunes_old_sets_but_keeps_the_newest():
    now = datetime(2026, 1, 31, tzinfo=UTC)
    sets = {f"s{i:02d}": now - timedelta(days=i) for i in range(30)}
    assert manifest.expired(sets, now, retention_days=14, keep_min=7) == [f"s{i:02d}" for i in range(15, 30)]
    # a schedule that stalled for a month still keeps its last 7 sets
    stale = {f"s{i:02d}": now - timedelta(days=40 + i) for i in range(10)}
    assert manifest.expired(stale, now, retention_days=14, keep_min=7) == ["s07", "s08", "s09"]


def test_the_password_never_shows():
    c = pgtools.Conn.parse("postgresql://app:s3cr%40t@127.0.0.1:5433/app")
    assert c.password == "s3cr@t"
    assert "s3cr" not in c.public() and "s3cr" not in c.where() and "s3cr" not in repr(c.params)
    assert c.where() == "app@127.0.0.1:5433/app"
    assert "dbname=other" in c.for_db("other").public()
    assert "s3cr" not in repr(c) and "s3cr" not in repr(c.for_db("other"))
    assert c.scrub("auth failed for s3cr@t") == "auth failed for ***"
    assert c.env()["PGPASSWORD"] == "s3cr@t"


def test_a_failing_tool_reports_command_exit_code_and_stderr_without_the_password():
    c = pgtools.Conn.parse("postgresql://app:hunter22@127.0.0.1:1/app")
    with pytest.raises(pgtools.CommandFailed) as e:
        pgtools.run(["sh", "-c", 'echo "bad things for $PGPASSWORD" >&2; exit 7', "x hunter22"], c)
    text = "\n".join([str(e.value), *e.value.evidence])
    assert e.value.code == 7 and "exited 7" in str(e.value) and "bad things for ***" in text
    assert "command: sh -c" in text and "hunter22" not in text


@pytest.mark.parametrize("name", ["", "1abc", "a-b", "x" * 64, "a;drop"])
def test_bad_database_names_are_bad_input(name):
    with pytest.raises(errors.BadInput, match="invalid database name"):
        pgtools.check_name(name)


def test_a_malformed_dsn_is_bad_input_without_echoing_it():
    with pytest.raises(errors.BadInput) as e:
        pgtools.Conn.parse("host=x password='topsecret")
    assert "topsecret" not in str(e.value)


def test_missing_binaries_fail_with_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setenv(pgtools.BINDIR_ENV, str(tmp_path))
    monkeypatch.setattr(pgtools.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(pgtools.shutil, "which", lambda name: None)
    with pytest.raises(errors.TargetUnavailable) as e:
        pgtools.bindir(("initdb", "postgres"))
    assert str(e.value) == pgtools.BINARIES_MISSING.format(names="initdb, postgres", env=pgtools.BINDIR_ENV)
    assert "\n" not in str(e.value)
