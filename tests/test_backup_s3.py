"""Backup sets in the environment's S3 bucket (backup.yaml applied to moto in-process), with a real PostgreSQL:
create, list, restore (verified before any database is touched), prune, drill; each corruption refused."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from harness.faults import backup as faults
from provision import cli, config, errors
from provision.aws.cfn import load, parameters
from provision.backup import dr, manifest, store
from provision.findings import caught
from tests import test_backup_cli

_cli = test_backup_cli._cli
server, db = test_backup_cli.server, test_backup_cli.db  # fixtures: a real server, a database with data

pytestmark = [pytest.mark.offline]
GRADES = {"aws": "emulated", "postgres": "real"}


@pytest.fixture
def bucket(monkeypatch):
    """The backup stack of a fresh copy of dev, applied to moto: (s3, Location, Environment)."""
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": config.settings()["aws"]["region"]}.items():
        monkeypatch.setenv(k, v)
    for k in ("AWS_ENDPOINT_URL", "KUBECONFIG"):  # the CLI's target is the environment's: moto in-process here
        monkeypatch.delenv(k, raising=False)
    with mock_aws():
        import boto3

        from provision.aws import clients
        clients._shared.cache_clear()
        env = config.Environment.named("dev", suffix=uuid.uuid4().hex[:8])
        doc = load.load(load.path("backup"))
        params = parameters.for_template("backup", doc, env, {})
        cf = boto3.client("cloudformation")
        cf.create_stack(StackName=env.stack_name("backup"), TemplateBody=load.path("backup").read_text(),
                        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
                        Capabilities=["CAPABILITY_NAMED_IAM"])
        out = {o["OutputKey"]: o["OutputValue"]
               for o in cf.describe_stacks(StackName=env.stack_name("backup"))["Stacks"][0]["Outputs"]}
        loc = store.Location(out["BackupBucketName"], out["BackupKeyArn"], store.prefix_of(env))
        yield boto3.client("s3"), loc, env
        clients._shared.cache_clear()


def _set(db, bucket, tmp_path):
    (dsn, name), (s3, loc, _) = db, bucket
    return store.upload(s3, loc, dr.backup(dsn, name, tmp_path / "set"))


def test_a_set_is_uploaded_with_the_backup_key_and_restores_identically(db, bucket, tmp_path):
    (dsn, name), (s3, loc, _) = db, bucket
    rset = _set(db, bucket, tmp_path)
    assert rset.complete and [s.set_id for s in store.sets(s3, loc)] == [rset.set_id]
    for o in rset.objects.values():
        assert store.encryption_problem(s3.head_object(Bucket=loc.bucket, Key=o["key"]), loc.key_arn) == ""
        assert o["key"].startswith(loc.prefix)
    f = store.restore(s3, loc, None, dsn, f"{name}_restored", "emulated")
    assert f.ok, f.evidence
    assert all(c.ok for c in dr.compare(dsn, name, f"{name}_restored"))


@pytest.mark.parametrize("fault", list(faults.REMOTE_CORRUPTIONS))
def test_a_corrupt_set_is_refused_before_any_database_is_touched(db, bucket, tmp_path, fault):
    (dsn, name), (s3, loc, _) = db, bucket
    rset = _set(db, bucket, tmp_path)
    word = faults.corrupt_remote(s3, loc, store.sets(s3, loc)[-1], fault)
    before = dr.table_stats(dsn, name)
    target_db = f"{name}_target"
    with pytest.raises(errors.Refused) as e:
        store.restore(s3, loc, rset.set_id, dsn, target_db, "emulated")
    assert "no database was touched" in str(e.value) and word in str(e.value) + " ".join(e.value.evidence)
    assert not dr.database_exists(dsn, target_db)  # not even created
    with pytest.raises(errors.Refused):  # nor restored over the source with data
        store.restore(s3, loc, rset.set_id, dsn, name, "emulated")
    assert dr.table_stats(dsn, name) == before
    drilled = store.drill(s3, loc, dsn, GRADES)
    assert caught(drilled.finding(), word).ok and drilled.rto_seconds is None


def test_restore_refuses_a_database_holding_tables_in_one_line_exit_3(db, bucket, tmp_path, monkeypatch, capsys):
    (dsn, name), (_, loc, _) = db, bucket
    _set(db, bucket, tmp_path)
    monkeypatch.setattr(store, "location", lambda target, e: loc)
    before = dr.table_stats(dsn, name)
    code, out, err = _cli(monkeypatch, capsys, dsn, "backup", "restore", "--env", "dev", "--dsn-env", "E2_TEST_DSN",
                          "--database", name)
    said = [ln for ln in err.splitlines() if ln.startswith("provision ")]
    assert code == errors.EXIT_REFUSED and len(said) == 1 and "already holds tables" in said[0]
    assert dr.table_stats(dsn, name) == before


def test_cli_create_list_drill_prune(db, bucket, monkeypatch, capsys):
    (dsn, name), (_, loc, _) = db, bucket
    monkeypatch.setattr(store, "location", lambda target, e: loc)
    code, out, _ = _cli(monkeypatch, capsys, dsn, "backup", "create", "--env", "dev", "--dsn-env", "E2_TEST_DSN",
                        "--database", name)
    assert code == 0 and loc.url() in out and "SSE-KMS" in out
    code, out, _ = _cli(monkeypatch, capsys, dsn, "backup", "list", "--env", "dev")
    assert code == 0 and out.startswith(f"1 sets in {loc.url()}") and "sha256" in out and "bytes" in out
    code, out, _ = _cli(monkeypatch, capsys, dsn, "backup", "drill", "--env", "dev", "--dsn-env", "E2_TEST_DSN")
    assert code == 0 and "RTO" in out and "RPO" in out, out
    code, out, _ = _cli(monkeypatch, capsys, dsn, "backup", "prune", "--env", "dev", "--dry-run")
    assert code == 0 and "would delete 0 sets" in out


def test_drill_measures_rto_and_rpo_and_a_backup_older_than_the_rpo_is_red(db, bucket, tmp_path):
    (dsn, _), (s3, loc, _) = db, bucket
    _set(db, bucket, tmp_path)
    ok = store.drill(s3, loc, dsn, GRADES)
    assert ok.finding().ok, ok.finding().evidence
    assert ok.rto_seconds is not None and ok.rpo_hours is not None and ok.rpo_hours < 1
    rpo = config.settings()["backup"]["rpo_hours"]
    late = store.drill(s3, loc, dsn, GRADES, now=datetime.now(UTC) + timedelta(hours=rpo + 1))  # seeded fault
    rpo_finding = next(f for f in late.findings if f.subject.startswith("RPO"))
    assert caught(rpo_finding, "older than the RPO").ok and caught(late.finding(), "RPO").ok
    assert not any(n.startswith("ctl_drill_") for n in _databases(dsn))  # scratch dropped


def _databases(dsn):
    import psycopg
    with psycopg.connect(dsn, autocommit=True) as c:
        return [r[0] for r in c.execute("SELECT datname FROM pg_database").fetchall()]


def test_prune_keeps_keep_min_and_deletes_past_retention(bucket):
    s3, loc, _ = bucket
    b = config.settings()["backup"]
    now = datetime.now(UTC)
    for i in range(b["keep_min"] + 3):
        for n in (manifest.DUMP, manifest.MANIFEST):
            s3.put_object(Bucket=loc.bucket, Key=f"{loc.prefix}set{i:02d}/{n}", Body=b"x",
                          ServerSideEncryption="aws:kms", SSEKMSKeyId=loc.key_arn)
    # moto stamps LastModified now: judge from a clock retention_days + 1 days ahead, one set per day back
    later = now + timedelta(days=b["retention_days"] + 1)
    assert len(store.prune(s3, loc, later, dry_run=True)) == 3
    assert len(store.prune(s3, loc, later)) == 3
    assert len(store.sets(s3, loc)) == b["keep_min"]


def test_no_bucket_is_one_line_exit_2(monkeypatch, capsys, bucket):
    monkeypatch.setenv("E2_TEST_DSN", "postgresql://u:p@127.0.0.1:1/x")
    code = cli.main(["backup", "list", "--env", "dev"])  # dev's own stack was never applied here
    err = capsys.readouterr().err
    assert code == errors.EXIT_USAGE and "has no backup bucket" in err and len(err.strip().splitlines()) == 1
