"""The backup CronJob (manifests/base/postgres-backup.yaml): its static check against settings.yaml and
backup.yaml (each property with a seeded fault), its script's dump step run against the target's real
PostgreSQL (the set it writes verifies and restores like `provision backup create`'s), and its Job admitted
by a restricted namespace and scheduled by a temporary control plane (kwok does not run containers)."""
from __future__ import annotations

import copy
import os
import secrets
import subprocess
from pathlib import Path

import pytest

from provision import config
from provision.backup import appdata, cronjob_checks, dr, manifest, pgtools
from provision.config import Environment
from provision.findings import caught
from provision.kube import render

pytestmark = [pytest.mark.offline]
SCRIPT = Path(__file__).resolve().parents[1] / "manifests" / "base" / "postgres-backup.sh"


@pytest.fixture(scope="module")
def dev():
    return render.render("dev")


def _cronjob(objs):
    return next(o for o in objs if o["kind"] == "CronJob")


def _set(path):
    def edit(objs):
        obj = _cronjob(objs)
        *parents, last = path
        for p in parents:
            obj = obj[p]
        obj[last] = edit.value
        return objs
    return edit


def _pod(objs):
    return _cronjob(objs)["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def _config(key, value):
    def edit(objs):
        next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "postgres-backup")[
            "data"][key] = value
        return objs
    return edit


def _env(name, value):
    def edit(objs):
        for e in _pod(objs)["initContainers"][0]["env"]:
            if e["name"] == name:
                e["value"] = value
        return objs
    return edit


def _annotation(value):
    def edit(objs):
        sa = next(o for o in objs if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == "postgres-backup")
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] = value
        return objs
    return edit


def _pod_field(key, value):
    def edit(objs):
        _pod(objs)[key] = value
        return objs
    return edit


def _spec(key, value):
    def edit(objs):
        _cronjob(objs)["spec"][key] = value
        return objs
    return edit


def _no_scratch(objs):
    pod = _pod(objs)
    pod["initContainers"][0]["volumeMounts"] = [m for m in pod["initContainers"][0]["volumeMounts"]
                                                if m["name"] != "backup"]
    return objs


FAULTS = {
    "another schedule": (_spec("schedule", "0 */6 * * *"), "is not settings backup.schedule"),
    "concurrent runs": (_spec("concurrencyPolicy", "Allow"), "not Forbid"),
    "unbounded history": (_spec("failedJobsHistoryLimit", None), "failedJobsHistoryLimit None"),
    "another ServiceAccount": (_pod_field("serviceAccountName", "api-backend"), "not settings backup.service_account"),
    "an API token mounted": (_pod_field("automountServiceAccountToken", True), "mounts an API token"),
    "the other cluster's role": (_annotation("arn:aws:iam::422017356244:role/cloudtolocalllm-eks-prod-postgres-backup"),
                                 "cloudtolocalllm-eks-prod-postgres-backup"),
    "another database": (_env("PGDATABASE", "postgres"), "not settings backup.database"),
    "a host that is no Service": (_env("PGHOST", "10.0.0.5"), "is not a Service of the settings"),
    "the prod bucket in dev": (_config("BACKUP_BUCKET", "cloudtolocalllm-eks-prod-backups-422017356244"),
                               "BACKUP_BUCKET='cloudtolocalllm-eks-prod-backups-422017356244'"),
    "another prefix": (_config("BACKUP_PREFIX", "postgres/"), "BACKUP_PREFIX='postgres/'"),
    "another key alias": (_config("BACKUP_KEY_ALIAS", "alias/aws/s3"), "BACKUP_KEY_ALIAS='alias/aws/s3'"),
    "the dump on the read-only root": (_no_scratch, "container dump has no emptyDir"),
}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_committed_cronjob_matches_settings_and_the_backup_stack(env):
    objs = render.render(env)
    assert cronjob_checks.check_cronjob(objs, Environment.named(env)).ok
    assert cronjob_checks.check_egress(objs).ok


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_seeded_fault_turns_the_cronjob_check_red(dev, fault):
    edit, naming = FAULTS[fault]
    f = cronjob_checks.check_cronjob(edit(copy.deepcopy(dev)), Environment.named("dev"))
    assert caught(f, naming).ok, f.evidence


def test_a_missing_cronjob_is_red(dev):
    f = cronjob_checks.check_cronjob([o for o in dev if o["kind"] != "CronJob"], Environment.named("dev"))
    assert caught(f, "no CronJob postgres-backup").ok


def test_the_committed_networkpolicy_is_what_the_vendored_ranges_render():
    import yaml
    doc = yaml.safe_load((SCRIPT.parent / "postgres-backup-networkpolicy.yaml").read_text())
    assert doc == cronjob_checks.egress_policy()


# ------------------------------------------------------------- the script's dump step, real PostgreSQL

def test_the_cronjob_dump_step_writes_a_set_that_verifies_and_restores(target, tmp_path):
    """postgres-backup.sh dump against the target's server: its manifest is what provision/backup writes
    (checksum verifies; every table's rows and digest equal a restore of the dump, judged by dr.integrity)."""
    if not target.postgres_dsn:
        pytest.skip("no PostgreSQL on this target")
    dsn, src, dst = target.postgres_dsn, f"ctl_cj_{secrets.token_hex(4)}_src", f"ctl_cj_{secrets.token_hex(4)}_dst"
    appdata.create(dsn, src, 1313)
    try:
        c = pgtools.Conn.parse(dsn)
        bins = pgtools.bindir(("pg_dump", "psql"))
        env = {**c.env(), "PATH": f"{bins}:{os.environ['PATH']}", "PGHOST": c.params.get("host", "127.0.0.1"),
               "PGPORT": c.params.get("port", "5432"), "PGUSER": c.params.get("user", ""), "PGDATABASE": src,
               "BACKUP_DIR": str(tmp_path)}
        out = subprocess.run(["sh", str(SCRIPT), "dump"], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == ["dump.pgc", "manifest.json", "set-id"]
        assert manifest.verify(tmp_path).ok
        m = manifest.read(tmp_path)
        assert m["database"] == src and m["tables"] == dr.table_stats(dsn, src)   # same digests as provision's
        restored = dr.restore(dsn, tmp_path, dst)
        assert restored.ok, restored.evidence
        set_id = (tmp_path / "set-id").read_text().strip()
        assert set_id.startswith(m["created"].replace(":", "")) and len(set_id.rsplit("-", 1)[1]) == 4
    finally:
        dr.drop_database(dsn, src)
        dr.drop_database(dsn, dst)


def test_the_dump_step_fails_loudly_without_a_server(tmp_path):
    env = {"PATH": os.environ["PATH"], "PGHOST": "127.0.0.1", "PGPORT": "1", "PGUSER": "nobody",
           "PGDATABASE": config.settings()["backup"]["database"], "BACKUP_DIR": str(tmp_path),
           "PGCONNECT_TIMEOUT": "2"}
    out = subprocess.run(["sh", str(SCRIPT), "dump"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and not (tmp_path / "manifest.json").exists()


# ------------------------------------------------ admitted and scheduled by a (temporary) control plane

@pytest.fixture(scope="module")
def temporary_cluster(tmp_path_factory):
    """A control plane of its own (etcd, kube-apiserver, controller-manager, scheduler, kwok Nodes)."""
    from provision.local import controlplane, stack
    with controlplane.temporary(tmp_path_factory.mktemp("cp") / "backup", encrypt=False) as info:
        yield stack.target({"components": {"controlplane": info}})


def test_a_job_from_the_cronjob_is_admitted_by_a_restricted_namespace_and_scheduled(temporary_cluster, dev):
    from provision.backup import cronjob_admission
    f = cronjob_admission.admitted_and_scheduled(temporary_cluster, dev, "backup-admission")
    assert f.ok, f.evidence
    assert "pod-security.kubernetes.io/enforce=restricted" in f.evidence[0]


def test_seeded_root_pod_is_refused_by_pod_security(temporary_cluster, dev):
    from provision.backup import cronjob_admission
    objs = copy.deepcopy(dev)
    _pod(objs)["securityContext"].update(runAsNonRoot=False, runAsUser=0)
    f = cronjob_admission.admitted_and_scheduled(temporary_cluster, objs, "backup-admission-root", timeout=30)
    assert caught(f, "PodSecurity").ok, f.evidence


def test_job_of_copies_the_job_template(dev):
    from provision.backup import cronjob_admission
    job = cronjob_admission.job_of(_cronjob(dev), "x")
    assert job["kind"] == "Job" and job["spec"] == _cronjob(dev)["spec"]["jobTemplate"]["spec"]
