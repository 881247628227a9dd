"""Steps of features/disaster_recovery.feature."""
from __future__ import annotations

import secrets
import time
import zlib
from dataclasses import dataclass

import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from harness.faults import backup as faults
from provision import config, errors
from provision.backup import appdata, dr, manifest
from provision.findings import combine
from provision.report.outcomes import NOT_VERIFIABLE_PREFIX

scenarios("disaster_recovery.feature")

NO_DSN = ("{prefix} the {target} target: no PostgreSQL DSN (set {env}, e.g. through "
          "`kubectl port-forward svc/postgres-service`; see docs/disaster-recovery.md)")


@dataclass(frozen=True)
class Source:
    dsn: str
    database: str
    seed: int
    stats: dict


@dataclass(frozen=True)
class Restored:
    backup: dr.BackupSet
    database: str
    finding: object
    seconds: float


@pytest.fixture
def scratch_db(target):
    """Names for fresh databases on the target's server (parallel-safe); dropped after the scenario."""
    made = []

    def new(role: str) -> str:
        made.append(f"ctl_dr_{secrets.token_hex(4)}_{role}")
        return made[-1]

    yield new
    for name in made:
        dr.drop_database(target.postgres_dsn, name)


@given("a PostgreSQL database with generated application data", target_fixture="source")
def _source(target, scratch_db, request):
    if not target.postgres_dsn:
        pytest.skip(NO_DSN.format(prefix=NOT_VERIFIABLE_PREFIX, target=target.name,
                                  env=config.settings()["backup"]["live_dsn_env"]))
    seed = zlib.crc32(request.node.nodeid.encode())  # reproducible per scenario
    name = scratch_db("source")
    appdata.create(target.postgres_dsn, name, seed)
    return Source(target.postgres_dsn, name, seed, dr.table_stats(target.postgres_dsn, name))


@given(parsers.parse("a backup with {fault}"), target_fixture="backup_set")
def _corrupt_backup(source, tmp_path, fault):
    bset = dr.backup(source.dsn, source.database, tmp_path / "backup")
    faults.corrupt(bset.path, fault)
    return bset


@when("it is backed up and restored into an empty database", target_fixture="restored")
def _backup_and_restore(source, scratch_db, tmp_path):
    bset = dr.backup(source.dsn, source.database, tmp_path / "backup")
    name = scratch_db("restored")
    t0 = time.monotonic()
    finding = dr.restore(source.dsn, bset.path, name)
    return Restored(bset, name, finding, time.monotonic() - t0)


@when("the corrupt backup is restored into a database holding data", target_fixture="outcome")
def _restore_corrupt(source, backup_set):
    try:
        dr.restore(source.dsn, backup_set.path, source.database)
    except errors.ProvisionError as exc:
        return exc
    return None


@when(parsers.parse("the restored data is tampered with: {fault}"))
def _tamper(source, restored, fault):
    faults.tamper(source.dsn, restored.database, fault)


@then("the backup's checksum verifies")
def _checksum_ok(check, restored):
    check(dr.verify(restored.backup.path))


@then("the restored data is identical, table by table")
def _identical(check, source, restored):
    check(restored.finding)  # against the manifest, right after pg_restore
    check(combine(f"database {restored.database} equals {source.database}, table by table",
                  dr.compare(source.dsn, source.database, restored.database)))


@then("the restore finished within the RTO")
def _within_rto(check, target, restored):
    rto = manifest.within_rto(restored.seconds, config.settings()["backup"]["rto_minutes"])
    check(rto.graded(target.grade("postgres")))  # the time of a restore into the target's PostgreSQL


@then(parsers.parse('the restore is refused naming "{word}"'))
def _refused(check, outcome, word):
    check(faults.refused(outcome, word))


@then("the database still holds its data")
def _untouched(check, target, source):
    after = dr.table_stats(source.dsn, source.database)
    found = manifest.compare_tables(source.stats, after, "before the restore", "after the restore")
    check(combine(f"database {source.database} still holds its data",
                  [f.graded(target.grade("postgres")) for f in found]))


@then(parsers.parse('the integrity check fails for table "{table}"'))
def _integrity_red(check, record, source, restored, table):
    against_source = dr.compare(source.dsn, source.database, restored.database)
    against_manifest = dr.integrity_tables(source.dsn, restored.backup.path, restored.database)
    record(combine(f"database {restored.database} equals {source.database} (seeded fault)", against_source))
    check(faults.caught(against_source, table))
    check(faults.caught(against_manifest, table))
