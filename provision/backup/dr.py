"""Backup, verify, restore and compare PostgreSQL databases (pg_dump custom format).

The same functions serve the suite (offline server, or live through a
port-forward to the postgres StatefulSet) and `provision backup create|restore`.
Their Findings about databases are graded real: every target has a real
PostgreSQL server (the offline one included).
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from psycopg import IsolationLevel, sql

from .. import errors
from ..findings import REAL, Finding, combine
from . import manifest, pgtools

DEST_NOT_EMPTY = "backup destination {dest} exists and is not empty: choose a new directory"
NO_BACKUP_DIR = "no backup directory {path}"
NO_DATABASE = "database {database!r} does not exist on {where}"
RESTORE_REFUSED = ("restore refused: backup {backup} failed checksum verification ({reason}); "
                   "database {database!r} was not touched")
TARGET_NOT_EMPTY = ("restore refused: database {database!r} already holds tables ({tables}); "
                    "restore only into a new or empty database")

# Session settings that make a row's text form independent of the client.
_CANONICAL = ["SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, YMD'", "SET IntervalStyle = 'postgres'",
              "SET extra_float_digits = 3", "SET bytea_output = 'hex'"]
_TABLES = """SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1, 2"""
# Order-independent digest of a table's rows: sha256 over the sorted md5 of each row's text.
_DIGEST = """SELECT count(*), encode(sha256(convert_to(coalesce(
               string_agg(md5(t::text), '' ORDER BY md5(t::text)), ''), 'UTF8')), 'hex') FROM {} AS t"""


@dataclass(frozen=True)
class BackupSet:
    path: Path
    manifest: dict

    @property
    def dump(self) -> Path:
        return self.path / self.manifest["dump"]["file"]


def _stats_in(cur) -> dict:
    for s in _CANONICAL:
        cur.execute(s)
    out = {}
    for schema, name in cur.execute(_TABLES).fetchall():
        rows, digest = cur.execute(sql.SQL(_DIGEST).format(sql.Identifier(schema, name))).fetchone()
        out[f"{schema}.{name}"] = {"rows": rows, "digest": digest}
    return out


def table_stats(dsn: str, database: str) -> dict:
    """{schema.table: {rows, digest}} of one database."""
    conn = pgtools.Conn.parse(dsn).for_db(pgtools.check_name(database))
    with conn.session("reading table stats") as c:
        return _stats_in(c.cursor())


def database_exists(dsn: str, database: str) -> bool:
    with pgtools.Conn.parse(dsn).session("looking up the database") as c:
        return c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is not None


def create_database(dsn: str, database: str) -> None:
    with pgtools.Conn.parse(dsn).session(f"creating database {database}") as c:
        c.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
            sql.Identifier(pgtools.check_name(database))))


def drop_database(dsn: str, database: str) -> None:
    with pgtools.Conn.parse(dsn).session(f"dropping database {database}") as c:
        name = sql.Identifier(pgtools.check_name(database))
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def backup(dsn: str, database: str, dest_dir: Path, progress=lambda m: None) -> BackupSet:
    """pg_dump of `database` into the new directory `dest_dir`, with its manifest.

    Table stats and the dump read the same snapshot, so the manifest describes
    exactly the dumped data even while the app keeps writing.
    """
    pgtools.check_name(database)
    dest = Path(dest_dir)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise errors.BadInput(DEST_NOT_EMPTY.format(dest=dest))
    bins = pgtools.bindir(("pg_dump", "pg_restore"))
    conn = pgtools.Conn.parse(dsn).for_db(database)
    created_dir = not dest.exists()
    with conn.session("reading the snapshot for the backup", autocommit=False) as c:
        c.isolation_level = IsolationLevel.REPEATABLE_READ  # one snapshot for stats and dump
        c.read_only = True
        cur = c.cursor()
        snapshot = cur.execute("SELECT pg_export_snapshot()").fetchone()[0]
        server = cur.execute("SHOW server_version").fetchone()[0]
        tables = _stats_in(cur)
        dest.mkdir(parents=True, exist_ok=True)
        dump = dest / manifest.DUMP
        progress(f"pg_dump of {conn.where()} ({len(tables)} tables) into {dump}")
        try:
            pgtools.run([str(bins / "pg_dump"), "--format=custom", f"--snapshot={snapshot}",
                         f"--file={dump}", f"--dbname={conn.public()}"], conn)
        except BaseException:
            shutil.rmtree(dest) if created_dir else dump.unlink(missing_ok=True)
            raise
        c.rollback()
    m = manifest.build(database, conn.where(), dump, tables,
                       {"pg_dump": pgtools.tool_version(bins / "pg_dump"), "server": server},
                       datetime.now(UTC))
    manifest.write(dest, m)
    return BackupSet(dest, m)


def verify(backup_dir: Path) -> Finding:
    return manifest.verify(Path(backup_dir))


def restore(dsn: str, backup_dir: Path, database: str, progress=lambda m: None) -> Finding:
    """Restore a verified backup set into a new (created) or empty database.

    Refuses, before touching any database, a set whose checksum does not
    match, and a target that already holds tables. Returns the integrity
    check of the restored data against the manifest (per table).
    """
    pgtools.check_name(database)
    backup_dir = Path(backup_dir)
    if not backup_dir.is_dir():
        raise errors.BadInput(NO_BACKUP_DIR.format(path=backup_dir))
    checked = manifest.verify(backup_dir)
    if not checked.ok:
        raise errors.Refused(RESTORE_REFUSED.format(backup=backup_dir, reason=checked.actual, database=database),
                             evidence=(checked.line(), *checked.evidence))
    m = manifest.read(backup_dir)
    bins = pgtools.bindir(("pg_dump", "pg_restore"))
    admin = pgtools.Conn.parse(dsn)
    target = admin.for_db(database)
    created = not database_exists(dsn, database)
    if created:
        create_database(dsn, database)
    else:
        present = table_stats(dsn, database)
        if present:
            raise errors.Refused(TARGET_NOT_EMPTY.format(database=database, tables=", ".join(sorted(present)[:5])))
    progress(f"pg_restore of {backup_dir.name} into {target.where()}")
    t0 = time.monotonic()
    try:
        # single transaction: a failing restore leaves nothing half-done
        pgtools.run([str(bins / "pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
                     "--single-transaction", f"--dbname={target.public()}", str(backup_dir / m["dump"]["file"])],
                    target)
    except BaseException:
        if created:
            drop_database(dsn, database)
        raise
    took = time.monotonic() - t0
    found = integrity(dsn, backup_dir, database)
    return Finding(found.status, f"restore of backup {backup_dir.name} into {database}", found.expected,
                   found.actual, (f"pg_restore took {took:.2f}s", *found.evidence), grade=REAL)


def integrity_tables(dsn: str, backup_dir: Path, database: str) -> list[Finding]:
    """One Finding per table of `database` against the row counts and digests in the backup's manifest."""
    m = manifest.read(Path(backup_dir))
    found = manifest.compare_tables(m["tables"], table_stats(dsn, database),
                                    f"backup {Path(backup_dir).name}", f"database {database}")
    return [f.graded(REAL) for f in found]


def integrity(dsn: str, backup_dir: Path, database: str) -> Finding:
    return combine(f"integrity of database {database} against backup {Path(backup_dir).name}",
                   integrity_tables(dsn, backup_dir, database))


def compare(dsn: str, db_a: str, db_b: str) -> list[Finding]:
    """One Finding per table: same rows (count and content digest) in both databases."""
    found = manifest.compare_tables(table_stats(dsn, db_a), table_stats(dsn, db_b), f"database {db_a}",
                                    f"database {db_b}")
    return [f.graded(REAL) for f in found]
