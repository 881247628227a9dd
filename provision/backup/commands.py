"""`provision backup create|list|restore|drill|prune` (create and restore also under their old names).

With `--env E` the sets live in the environment's S3 bucket (backup.yaml; moto offline); without it,
create and restore work on a local directory (`--out`, `--from`), as before.
The DSN comes from an environment variable the user names (--dsn-env), never
from the command line: a password there lands in shell history, `ps` and CI logs.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from .. import config, errors
from . import dr, store

DSN_ENV_UNSET = "environment variable {var} is not set or empty: it must hold the PostgreSQL DSN (postgresql://user:password@host:port/db)"
BAD_ENV_NAME = "invalid environment variable name {var!r}"
NEEDS_DSN = "--dsn-env and --database are required unless --verify-only"
NEEDS_PLACE = "{verb} needs --env ENV (the environment's S3 bucket) or {local}"


def _env_arg(p, required: bool) -> None:
    p.add_argument("--env", required=required, choices=config.environments(),
                   help="environment whose S3 bucket holds the sets (backup.yaml)")


def register(sub) -> None:
    b = sub.add_parser("backup", help="pg_dump a database into a new backup set (dump + checksum manifest)")
    _env_arg(b, False)
    b.add_argument("--dsn-env", required=True, metavar="VAR", help="environment variable holding the server's DSN")
    b.add_argument("--database", help="database to back up (default: settings backup.database)")
    b.add_argument("--out", type=Path, metavar="DIR", help="new (or empty) directory for the backup set (no --env)")
    b.set_defaults(func=_backup)
    r = sub.add_parser("restore", help="verify a backup set's checksum, then restore it into a new or empty database")
    _env_arg(r, False)
    r.add_argument("--from", dest="source", type=Path, metavar="DIR", help="backup set directory (no --env)")
    r.add_argument("--set", dest="set_id", metavar="ID", help="with --env: the set to restore (default: the newest)")
    r.add_argument("--dsn-env", metavar="VAR", help="environment variable holding the server's DSN")
    r.add_argument("--database", help="database to restore into (created when missing; must hold no tables)")
    r.add_argument("--verify-only", action="store_true", help="check the checksum only; touch no database")
    r.set_defaults(func=_restore)
    ls = sub.add_parser("backup-list", help="the sets in the environment's bucket: age, size, checksum")
    _env_arg(ls, True)
    ls.add_argument("--json", action="store_true", help="machine output")
    ls.set_defaults(func=_list)
    d = sub.add_parser("backup-drill", help="restore the newest set into a scratch database; measure RTO and RPO")
    _env_arg(d, True)
    d.add_argument("--dsn-env", required=True, metavar="VAR", help="DSN of a server to restore into (never the app's)")
    d.set_defaults(func=_drill)
    pr = sub.add_parser("backup-prune", help="delete sets past retention_days, keeping the newest keep_min")
    _env_arg(pr, True)
    pr.add_argument("--dry-run", action="store_true", help="only say which sets would go")
    pr.set_defaults(func=_prune)


def _dsn(var: str) -> str:
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", var or ""):
        raise errors.BadInput(BAD_ENV_NAME.format(var=var))
    value = os.environ.get(var, "")
    if not value:
        raise errors.BadInput(DSN_ENV_UNSET.format(var=var))
    return value


def _progress(m: str) -> None:
    from ..cli import progress
    progress(m)


def _where(env_name: str):
    """(s3 client, Location, target) of an environment, from the backup stack's outputs."""
    from ..aws import clients
    from ..aws.commands import cli_target

    target = cli_target()
    return clients.client(target, "s3"), store.location(target, config.Environment.named(env_name)), target


def _backup(args) -> int:
    database = args.database or config.settings()["backup"]["database"]
    if not args.env and not args.out:
        raise errors.BadInput(NEEDS_PLACE.format(verb="backup create", local="--out DIR"))
    dsn = _dsn(args.dsn_env)
    if not args.env:
        bset = dr.backup(dsn, database, args.out, _progress)
        where = str(bset.path)
    else:
        s3, loc, _ = _where(args.env)  # the bucket first: no dump is taken for a missing stack
        with tempfile.TemporaryDirectory(prefix="ctl-backup-") as d:
            bset = dr.backup(dsn, database, Path(d) / "set", _progress)
            remote = store.upload(s3, loc, bset)
        where = f"{loc.url()}{remote.set_id}/ (SSE-KMS {loc.key_arn})"
    m = bset.manifest
    print(f"backup set {where}: {m['dump']['file']} sha256 {m['dump']['sha256']} ({m['dump']['bytes']} bytes)")
    for table, s in sorted(m["tables"].items()):
        print(f"  {table}: {s['rows']} rows")
    return errors.EXIT_OK


def _restore(args) -> int:
    if args.env:
        if not args.dsn_env or not args.database:
            raise errors.BadInput(NEEDS_DSN.replace(" unless --verify-only", ""))
        s3, loc, target = _where(args.env)
        f = store.restore(s3, loc, args.set_id, _dsn(args.dsn_env), args.database, target.grade("aws"), _progress)
    else:
        if not args.source:
            raise errors.BadInput(NEEDS_PLACE.format(verb="backup restore", local="--from DIR"))
        if args.verify_only:
            if not args.source.is_dir():
                raise errors.BadInput(dr.NO_BACKUP_DIR.format(path=args.source))
            f = dr.verify(args.source)
            print(f.line())
            return errors.EXIT_OK if f.ok else errors.EXIT_FAILED
        if not args.dsn_env or not args.database:
            raise errors.BadInput(NEEDS_DSN)
        f = dr.restore(_dsn(args.dsn_env), args.source, args.database, _progress)
    print(f.line())
    for line in f.evidence:
        print(f"  {line}")
    return errors.EXIT_OK if f.ok else errors.EXIT_FAILED


def _list(args) -> int:
    s3, loc, _ = _where(args.env)
    now = datetime.now(UTC)
    rows = []
    for s in store.sets(s3, loc):
        dump = s.objects.get("dump.pgc", {})
        sha = ""
        if dump:
            sha = (s3.head_object(Bucket=loc.bucket, Key=dump["key"]).get("Metadata") or {}).get("sha256", "")
        rows.append({"set": s.set_id, "age_hours": round((now - s.created).total_seconds() / 3600, 2),
                     "bytes": s.bytes, "sha256": sha, "complete": s.complete})
    if args.json:
        print(json.dumps({"location": loc.url(), "sets": rows}, indent=1))
        return errors.EXIT_OK
    print(f"{len(rows)} sets in {loc.url()}")
    for r in rows:
        flag = "" if r["complete"] else "  INCOMPLETE (no manifest or no dump)"
        print(f"  {r['set']}  {r['age_hours']:>8.2f} h  {r['bytes']:>10} bytes  sha256 {r['sha256'][:16]}{flag}")
    return errors.EXIT_OK


def _drill(args) -> int:
    s3, loc, target = _where(args.env)
    grades = {s: target.grade(s) for s in ("aws", "postgres")}
    result = store.drill(s3, loc, _dsn(args.dsn_env), grades, progress=_progress)
    f = result.finding()
    print(f.line())
    for line in f.evidence:
        print(f"  {line}")
    return errors.EXIT_OK if f.ok else errors.EXIT_FAILED


def _prune(args) -> int:
    s3, loc, _ = _where(args.env)
    gone = store.prune(s3, loc, dry_run=args.dry_run)
    b = config.settings()["backup"]
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {len(gone)} sets in {loc.url()} (older than {b['retention_days']} days, "
          f"keeping the newest {b['keep_min']})")
    for set_id in gone:
        print(f"  {set_id}")
    return errors.EXIT_OK
