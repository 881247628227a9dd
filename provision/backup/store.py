"""Backup sets in the environment's S3 bucket (provision/cloudformation/backup.yaml), and the restore drill.

A set is two objects under `<backup.prefix>/<environment>/<set id>/`: `dump.pgc` and `manifest.json`,
both SSE-KMS with the stack's key. The dump object carries the manifest's sha256 in its metadata, so a
manifest changed after the upload is caught, and the manifest carries the dump's. Nothing is restored
from a set before both objects are found encrypted with the backup key, the manifest matches the dump's
record of it and the dump its checksum: a refused set never touches a database.
"""
from __future__ import annotations

import hashlib
import secrets
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import botocore.exceptions

from .. import config, errors
from ..config import Environment
from ..findings import Finding, combine, failed, unverifiable, weakest
from . import dr, manifest

STACK = "backup"
NO_BUCKET = ("stack {stack} has no backup bucket: apply it with `provision stacks up --env {env}`; "
             "nothing was changed")
NO_SETS = "no backup set under s3://{bucket}/{prefix}"
NO_SUCH_SET = "no backup set {set_id} under s3://{bucket}/{prefix}"
SET_REFUSED = ("restore refused: backup set {set_id} failed verification ({reason}); "
               "no database was touched")
NOT_ENCRYPTED = "upload of {key} is not SSE-KMS with the backup key ({got}); the set is incomplete"
META_MANIFEST = "manifest-sha256"
STAMP = "%Y-%m-%dT%H%M%SZ"


@dataclass(frozen=True)
class Location:
    bucket: str
    key_arn: str
    prefix: str  # "<backup.prefix>/<environment>/"

    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class RemoteSet:
    set_id: str
    created: datetime  # when the manifest object was written
    objects: dict  # name -> {"key", "bytes"}

    @property
    def complete(self) -> bool:
        return {manifest.DUMP, manifest.MANIFEST} <= set(self.objects)

    @property
    def bytes(self) -> int:
        return sum(o["bytes"] for o in self.objects.values())


def prefix_of(env: Environment) -> str:
    return f"{config.settings()['backup']['prefix']}/{env.name}/"


def by_alias(target, env: Environment) -> Location:
    """The bucket and key as backup.yaml names them (bucket name, key alias resolved with kms:DescribeKey): for
    a role that may not read the stack (the drill's, the CronJob's), which needs no CloudFormation right."""
    from ..aws import clients
    from .cronjob_checks import expected_config

    want = expected_config(env)
    key = clients.client(target, "kms").describe_key(KeyId=want["BACKUP_KEY_ALIAS"])["KeyMetadata"]["Arn"]
    return Location(want["BACKUP_BUCKET"], key, prefix_of(env))


def location(target, env: Environment) -> Location:
    """The environment's bucket and key, from the backup stack's outputs (by the key's alias when the caller
    may not read the stack: the drill role reads the backups and nothing else)."""
    from ..aws import clients
    from ..aws.stack_api import outputs, resources

    try:
        out = outputs(target, env, STACK)
    except botocore.exceptions.ClientError as exc:
        if not readable(exc):
            raise
        return by_alias(target, env)
    if out.get("BackupBucketName") and not out.get("BackupKeyArn"):
        # An endpoint that keeps no outputs of change-set stacks (moto) resolves the bucket's name, not the
        # key's ARN: a key's physical id is its id.
        cf = clients.client(target, "cloudformation")
        key_id = {r["LogicalResourceId"]: r.get("PhysicalResourceId") for r in resources(cf, env.stack_name(STACK))
                  }.get("BackupKey")
        if key_id:
            out["BackupKeyArn"] = f"arn:aws:kms:{target.region}:{target.account_id}:key/{key_id}"
    if not out.get("BackupBucketName") or not out.get("BackupKeyArn"):
        raise errors.BadInput(NO_BUCKET.format(stack=env.stack_name(STACK), env=env.name))
    return Location(out["BackupBucketName"], out["BackupKeyArn"], prefix_of(env))


def _sse(key_arn: str) -> dict:
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_arn}


def encryption_problem(head: dict, key_arn: str) -> str:
    """Pure: why a HeadObject answer is not SSE-KMS with the backup key ('' when it is)."""
    sse, key = head.get("ServerSideEncryption"), head.get("SSEKMSKeyId")
    if sse != "aws:kms":
        return f"encrypted with {sse or 'nothing'}, not aws:kms"
    if key != key_arn and not key_arn.endswith(f"/{key}"):
        return f"encrypted with key {key}, not the backup key {key_arn}"
    return ""


def upload(s3, loc: Location, bset: dr.BackupSet) -> RemoteSet:
    """Put a local backup set (dump, then manifest) with SSE-KMS and the backup key; read both back."""
    created = datetime.strptime(bset.manifest["created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    set_id = f"{created.strftime(STAMP)}-{secrets.token_hex(2)}"
    body = (bset.path / manifest.MANIFEST).read_bytes()
    msha = hashlib.sha256(body).hexdigest()
    base = f"{loc.prefix}{set_id}/"
    with open(bset.dump, "rb") as f:
        s3.put_object(Bucket=loc.bucket, Key=base + manifest.DUMP, Body=f, **_sse(loc.key_arn),
                      Metadata={"sha256": bset.manifest["dump"]["sha256"], META_MANIFEST: msha})
    s3.put_object(Bucket=loc.bucket, Key=base + manifest.MANIFEST, Body=body, **_sse(loc.key_arn),
                  Metadata={"sha256": msha})
    objects = {}
    for name in (manifest.DUMP, manifest.MANIFEST):
        head = s3.head_object(Bucket=loc.bucket, Key=base + name)
        problem = encryption_problem(head, loc.key_arn)
        if problem:
            raise errors.ProvisionError(NOT_ENCRYPTED.format(key=base + name, got=problem))
        objects[name] = {"key": base + name, "bytes": head["ContentLength"]}
    return RemoteSet(set_id, created, objects)


def sets(s3, loc: Location) -> list[RemoteSet]:
    """The sets under the environment's prefix, oldest first (incomplete ones included)."""
    found: dict[str, dict] = {}
    when: dict[str, datetime] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=loc.bucket, Prefix=loc.prefix):
        for o in page.get("Contents", []):
            rest = o["Key"][len(loc.prefix):]
            if rest.count("/") != 1:
                continue
            set_id, name = rest.split("/")
            found.setdefault(set_id, {})[name] = {"key": o["Key"], "bytes": o["Size"]}
            if name == manifest.MANIFEST or set_id not in when:
                when[set_id] = o["LastModified"]
    return sorted((RemoteSet(i, when[i], objs) for i, objs in found.items()), key=lambda s: (s.created, s.set_id))


def newest(s3, loc: Location) -> RemoteSet:
    found = sets(s3, loc)
    if not found:
        raise errors.BadInput(NO_SETS.format(bucket=loc.bucket, prefix=loc.prefix))
    return found[-1]


def fetch(s3, loc: Location, rset: RemoteSet, dest: Path, grade: str) -> Finding:
    """Download a set into `dest` and verify it: both objects SSE-KMS with the backup key, the manifest as the
    dump object recorded it, the dump's checksum. Touches no database."""
    subject = f"backup set {rset.set_id} verifies before any restore"
    expected = "manifest and dump present, SSE-KMS with the backup key, manifest and checksum match"
    if manifest.MANIFEST not in rset.objects:
        return failed(subject, expected, f"no {manifest.MANIFEST}: an unverified backup (no checksum to check)",
                      (f"FAIL set {rset.set_id} has no manifest",), grade=grade)
    if manifest.DUMP not in rset.objects:
        return failed(subject, expected, f"no {manifest.DUMP}", (f"FAIL set {rset.set_id} has no dump",), grade=grade)
    heads, problems = {}, []
    for name, o in rset.objects.items():
        if name not in (manifest.DUMP, manifest.MANIFEST):
            continue
        heads[name] = s3.head_object(Bucket=loc.bucket, Key=o["key"])
        problem = encryption_problem(heads[name], loc.key_arn)
        if problem:
            problems.append(f"{name} {problem}")
    if problems:
        return failed(subject, expected, "; ".join(problems), tuple(f"FAIL {p}" for p in problems), grade=grade)
    dest.mkdir(parents=True, exist_ok=True)
    for name in (manifest.DUMP, manifest.MANIFEST):
        s3.download_file(loc.bucket, rset.objects[name]["key"], str(dest / name))
    msha = manifest.sha256_file(dest / manifest.MANIFEST)
    recorded = (heads[manifest.DUMP].get("Metadata") or {}).get(META_MANIFEST)
    if msha != recorded:
        return failed(subject, expected, f"manifest sha256 {msha[:12]} is not the one recorded with the dump "
                      f"({(recorded or 'none')[:12]}): the manifest was changed (tampered manifest)",
                      (f"FAIL manifest sha256 {msha}, recorded {recorded}",), grade=grade)
    checked = manifest.verify(dest)
    return Finding(checked.status, subject, expected, checked.actual,
                   (*(f"FAIL {e}" for e in checked.evidence if not checked.ok), *checked.evidence), grade=grade)


def restore(s3, loc: Location, set_id: str | None, dsn: str, database: str, grade: str, progress=lambda m: None):
    """Verify a set (the newest without an id), then restore it into a new or empty database."""
    rset = newest(s3, loc) if not set_id else next((s for s in sets(s3, loc) if s.set_id == set_id), None)
    if rset is None:
        raise errors.BadInput(NO_SUCH_SET.format(set_id=set_id, bucket=loc.bucket, prefix=loc.prefix))
    with tempfile.TemporaryDirectory(prefix="ctl-restore-") as d:
        checked = fetch(s3, loc, rset, Path(d) / rset.set_id, grade)
        if not checked.ok:
            raise errors.Refused(SET_REFUSED.format(set_id=rset.set_id, reason=checked.actual),
                                 evidence=(checked.line(), *checked.evidence))
        progress(f"set {rset.set_id} verified; restoring into {database}")
        return dr.restore(dsn, Path(d) / rset.set_id, database, progress)


def prune(s3, loc: Location, now: datetime | None = None, dry_run: bool = False) -> list[str]:
    """Delete the sets `manifest.expired` names (past retention_days, never the newest keep_min)."""
    b = config.settings()["backup"]
    found = {s.set_id: s for s in sets(s3, loc)}
    gone = manifest.expired({i: s.created for i, s in found.items()}, now or datetime.now(UTC),
                            b["retention_days"], b["keep_min"])
    if not dry_run:
        for set_id in gone:
            for o in found[set_id].objects.values():
                s3.delete_object(Bucket=loc.bucket, Key=o["key"])
    return gone


def within_rpo(created: datetime, now: datetime, rpo_hours: float, grade: str) -> Finding:
    """Pure: the newest set is younger than the RPO (the data a loss now would cost)."""
    age_h = (now - created).total_seconds() / 3600
    ok = age_h <= rpo_hours
    return Finding(ok, "RPO: age of the newest backup", f"<= {rpo_hours} h", f"{age_h:.2f} h",
                   (f"RPO {age_h:.2f} h (newest set created {created.strftime(STAMP)}), target {rpo_hours} h",
                    *(() if ok else (f"FAIL the newest backup is {age_h:.2f} h old, older than the RPO "
                                     f"of {rpo_hours} h",))), grade=grade)


def within_rto(seconds: float, rto_minutes: float, grade: str) -> Finding:
    ok = seconds <= rto_minutes * 60
    return Finding(ok, "RTO: newest backup fetched, verified, restored and compared", f"<= {rto_minutes} min",
                   f"{seconds:.1f} s", (f"RTO {seconds:.1f} s measured from start to verified, target "
                                        f"{rto_minutes} min", *(() if ok else ("FAIL restore slower than the RTO",))),
                   grade=grade)


@dataclass(frozen=True)
class Drill:
    set_id: str
    findings: tuple[Finding, ...]
    rto_seconds: float | None
    rpo_hours: float | None

    def finding(self) -> Finding:
        return combine(f"restore drill of backup set {self.set_id}", list(self.findings))


def drill(s3, loc: Location, dsn: str, grades: dict, now: datetime | None = None, progress=lambda m: None) -> Drill:
    """Restore the newest set into a scratch database, compare it table by table with its manifest, measure
    RTO (start to verified) and RPO (the set's age at the start); the scratch database is dropped after."""
    b = config.settings()["backup"]
    t0 = time.monotonic()
    start = now or datetime.now(UTC)
    aws, pg = grades.get("aws", ""), grades.get("postgres", "")
    both = weakest([g for g in (aws, pg) if g])
    try:
        rset = newest(s3, loc)
    except errors.BadInput as exc:
        return Drill("-", (failed("the newest backup set", "a set under the prefix", str(exc), (f"FAIL {exc}",),
                                  grade=aws),), None, None)
    scratch = f"ctl_drill_{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory(prefix="ctl-drill-") as d:
        checked = fetch(s3, loc, rset, Path(d) / rset.set_id, aws)
        rpo = within_rpo(_manifest_created(Path(d) / rset.set_id) or rset.created, start, b["rpo_hours"], aws)
        if not checked.ok:
            rto = unverifiable("RTO: newest backup fetched, verified, restored and compared", f"<= {b['rto_minutes']}"
                               " min", "not measured: the set was refused before any restore", grade=both)
            return Drill(rset.set_id, (checked, rpo, rto), None, _hours(rpo))
        progress(f"drill: restoring set {rset.set_id} into scratch database {scratch}")
        try:
            restored = dr.restore(dsn, Path(d) / rset.set_id, scratch, progress)
            seconds = time.monotonic() - t0
        finally:
            dr.drop_database(dsn, scratch)
    rto = within_rto(seconds, b["rto_minutes"], both)
    return Drill(rset.set_id, (checked, restored.graded(pg), rpo, rto), seconds, _hours(rpo))


def _manifest_created(d: Path) -> datetime | None:
    try:
        return datetime.strptime(manifest.read(d)["created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (ValueError, KeyError, TypeError):
        return None


def _hours(rpo: Finding) -> float | None:
    try:
        return float(rpo.actual.split()[0])
    except (ValueError, IndexError):
        return None


def readable(exc: botocore.exceptions.ClientError) -> bool:
    """Whether an S3 error says the caller may not read (AccessDenied): a role without the drill's rights."""
    return exc.response.get("Error", {}).get("Code", "") in ("AccessDenied", "AccessDeniedException", "403")
