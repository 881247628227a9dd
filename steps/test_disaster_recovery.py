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


# ---- off-cluster sets in the environment's bucket (provision/backup/store.py) ----


@dataclass(frozen=True)
class Bucket:
    s3: object
    loc: object


@then("the backup stack's checks pass")
def _backup_stack(check, target, env):
    from provision.backup import bucket_checks

    check(bucket_checks.template_check(env, target))


@given("its backup in the environment's bucket", target_fixture="bucket")
def _in_bucket(target, env, source, tmp_path):
    from harness import backup_world
    from provision.backup import store

    s3, loc, why = backup_world.bucket(target, env)
    if loc is None:
        pytest.skip(f"{NOT_VERIFIABLE_PREFIX} the {target.name} target: {why}")
    if not target.cannot.get("seeded_faults"):  # offline: a set of the scenario's database; live: the CronJob's
        store.upload(s3, loc, dr.backup(source.dsn, source.database, tmp_path / "set"))
    return Bucket(s3, loc)


@given(parsers.parse("the backup in the bucket has {fault}"))
def _corrupt_in_bucket(bucket, fault):
    from provision.backup import store

    faults.corrupt_remote(bucket.s3, bucket.loc, store.newest(bucket.s3, bucket.loc), fault)


@when("the backup in the bucket is restored into the database holding data", target_fixture="outcome")
def _restore_from_bucket(target, bucket, source):
    from provision.backup import store

    try:
        store.restore(bucket.s3, bucket.loc, None, source.dsn, source.database, target.grade("aws"))
    except errors.ProvisionError as exc:
        return exc
    return None


@given("its backup in the bucket, uploaded as the backup CronJob would", target_fixture="drill_location")
def _uploaded_as_cronjob(target, env, source, tmp_path, record):
    from harness import rehearsal_drill
    from provision.findings import passed

    loc = rehearsal_drill.upload_as_cronjob(target, env, dr.backup(source.dsn, source.database, tmp_path / "set"))
    record(passed("the CronJob's set, uploaded by the operator", "a set under the prefix", loc.url(),
                  gaps=(rehearsal_drill.CRONJOB_GAP,), grade=target.grade("aws")))
    return loc


@when("the nightly workflow's drill job runs the restore drill with its own role", target_fixture="drilled")
def _drill_as_job(target, env, source, request):
    from harness import rehearsal_drill
    from provision.aws import clients
    from provision.backup import store

    with rehearsal_drill.as_drill_job(target, env):
        loc = store.location(target, env)  # the drill role may not read the stack: by the key's alias
        drilled = store.drill(clients.client(target, "s3"), loc, source.dsn,
                              {s: target.grade(s) for s in ("aws", "postgres")})
        request.node.stash[_REFUSALS] = rehearsal_drill.refusals(target, env, loc)
    return drilled


_REFUSALS = pytest.StashKey()


@then("the drill job's role may not write the backups nor read the stacks")
def _drill_refusals(check, request):
    check(request.node.stash[_REFUSALS])


@when("the restore drill runs", target_fixture="drilled")
def _drill(target, bucket, source):
    from provision.backup import store

    return store.drill(bucket.s3, bucket.loc, source.dsn, {s: target.grade(s) for s in ("aws", "postgres")})


def _part(drilled, prefix: str):
    return next(f for f in drilled.findings if f.subject.startswith(prefix))


@then("the newest backup verifies before any restore")
def _drill_verified(check, drilled):
    check(drilled.findings[0])


@then("the drilled database matches the backup's manifest, table by table")
def _drill_matches(check, drilled):
    check(_part(drilled, "restore of backup"))


@then("the RPO and the RTO are within the targets of settings")
def _drill_rpo_rto(check, drilled):
    check(combine(f"RPO and RTO of the drill of set {drilled.set_id}",
                  [_part(drilled, "RPO"), _part(drilled, "RTO")]))


# ---- the backup CronJob (manifests/base/postgres-backup.yaml)

@then("the backup CronJob is as settings.yaml and backup.yaml say")
def _cronjob_as_settings(objects, check):
    from provision.backup import cronjob_checks
    check(cronjob_checks.check_cronjob(objects, config.Environment.named("dev")))


@then("the backup pod's egress is exactly postgres, DNS and the region's AWS ranges on 443")
def _backup_egress(objects, check):
    from provision.backup import cronjob_checks
    check(combine("the backup pod's egress", [cronjob_checks.check_egress(objects),
                                               cronjob_checks.check_reachability(objects)]))


@then("a Job from the backup CronJob is admitted under Pod Security restricted and its pod is scheduled")
def _cronjob_admitted(objects, target, scratch_namespace, check):
    from provision.backup import cronjob_admission
    check(cronjob_admission.admitted_and_scheduled(target, objects, scratch_namespace))
