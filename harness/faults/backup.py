"""Seeded faults for the DR checks, applied to copies only (a fresh backup set, a scratch database).

Each must turn its check red: a corrupted set must be refused by checksum,
tampered restored data must fail the table-by-table comparison.
"""
from __future__ import annotations

from pathlib import Path

from psycopg import sql

from provision import errors
from provision.backup import manifest, pgtools
from provision.findings import Finding, failed, passed

UNKNOWN_FAULT = "unknown seeded fault {fault!r}: expected one of {known}"


def _flip_byte(d: Path) -> None:
    dump = d / manifest.DUMP
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, mid-file: inside table data, not the header
    dump.write_bytes(bytes(data))


def _truncate(d: Path) -> None:
    dump = d / manifest.DUMP
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])


def _drop_manifest(d: Path) -> None:
    (d / manifest.MANIFEST).unlink()


CORRUPTIONS = {
    "one byte flipped in the dump": _flip_byte,
    "the dump truncated": _truncate,
    "the manifest deleted": _drop_manifest,
}

# SQL run on a restored scratch database: each loses or changes exactly one row.
TAMPERING = {
    "one message deleted": "DELETE FROM messages WHERE id = (SELECT max(id) FROM messages)",
    "one user renamed": "UPDATE users SET display_name = coalesce(display_name, '') || ' (tampered)' "
                        "WHERE id = (SELECT min(id::text)::uuid FROM users)",
    "one conversation added": "INSERT INTO conversations (user_id, title, model, created_at) "
                              "SELECT id, 'injected', 'phi4', now() FROM users LIMIT 1",
}


def _lookup(table: dict, fault: str):
    if fault not in table:
        raise errors.BadInput(UNKNOWN_FAULT.format(fault=fault, known=", ".join(table)))
    return table[fault]


def corrupt(backup_dir: Path, fault: str) -> None:
    _lookup(CORRUPTIONS, fault)(Path(backup_dir))


def tamper(dsn: str, database: str, fault: str) -> None:
    statement = _lookup(TAMPERING, fault)
    with pgtools.Conn.parse(dsn).for_db(pgtools.check_name(database)).session(f"seeding fault {fault!r}") as c:
        if c.execute(sql.SQL(statement)).rowcount != 1:
            raise errors.ProvisionError(f"seeded fault {fault!r} changed no row in {database}")


def caught(findings: list[Finding], table: str) -> Finding:
    """The seeded fault in `table` turned that table's check red (and only a real check can)."""
    red = [f for f in findings if not f.ok]
    hit = [f for f in red if f.subject.startswith(f"table {table}:")]
    subject = f"integrity check catches the seeded fault in {table}"
    evidence = tuple(f.line() for f in findings)
    if hit:
        return passed(subject, expected=f"{table} red", actual=hit[0].actual, evidence=evidence)
    return failed(subject, expected=f"{table} red",
                  actual=f"red: {', '.join(f.subject for f in red) or 'none'}", evidence=evidence)


def refused(outcome: BaseException | None, word: str) -> Finding:
    """A restore attempt came out as a Refused error whose message names `word`."""
    subject = f"restore refused naming {word!r}"
    if isinstance(outcome, errors.Refused) and word in str(outcome):
        return passed(subject, expected=f"Refused naming {word!r}", actual=str(outcome), evidence=outcome.evidence)
    got = "the restore went through" if outcome is None else f"{type(outcome).__name__}: {outcome}"
    return failed(subject, expected=f"Refused naming {word!r}", actual=got,
                  evidence=getattr(outcome, "evidence", ()))
