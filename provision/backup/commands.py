"""`provision backup create` and `provision backup restore` (registered as `backup` and `restore`).

The DSN comes from an environment variable the user names (--dsn-env), never
from the command line: a password there lands in shell history, `ps` and CI logs.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .. import errors
from . import dr

DSN_ENV_UNSET = "environment variable {var} is not set or empty: it must hold the PostgreSQL DSN (postgresql://user:password@host:port/db)"
BAD_ENV_NAME = "invalid environment variable name {var!r}"
NEEDS_DSN = "--dsn-env and --database are required unless --verify-only"


def register(sub) -> None:
    b = sub.add_parser("backup", help="pg_dump a database into a new backup set (dump + checksum manifest)")
    b.add_argument("--dsn-env", required=True, metavar="VAR", help="environment variable holding the server's DSN")
    b.add_argument("--database", required=True, help="database to back up")
    b.add_argument("--out", required=True, type=Path, metavar="DIR", help="new (or empty) directory for the backup set")
    b.set_defaults(func=_backup)
    r = sub.add_parser("restore", help="verify a backup set's checksum, then restore it into a new or empty database")
    r.add_argument("--from", dest="source", required=True, type=Path, metavar="DIR", help="backup set directory")
    r.add_argument("--dsn-env", metavar="VAR", help="environment variable holding the server's DSN")
    r.add_argument("--database", help="database to restore into (created when missing; must hold no tables)")
    r.add_argument("--verify-only", action="store_true", help="check the checksum only; touch no database")
    r.set_defaults(func=_restore)


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


def _backup(args) -> int:
    bset = dr.backup(_dsn(args.dsn_env), args.database, args.out, _progress)
    m = bset.manifest
    print(f"backup set {bset.path}: {m['dump']['file']} sha256 {m['dump']['sha256']} ({m['dump']['bytes']} bytes)")
    for table, s in sorted(m["tables"].items()):
        print(f"  {table}: {s['rows']} rows")
    return errors.EXIT_OK


def _restore(args) -> int:
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
