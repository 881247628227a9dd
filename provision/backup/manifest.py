"""The backup set's manifest and the pure judgements on it (no database needed).

A backup set is a directory: `dump.pgc` (pg_dump custom format) and
`manifest.json` (sha256 and size of the dump, per-table row counts and content
digests, tool versions, time). Nothing is restored from a set whose checksum
does not match: a flipped byte in a custom-format dump can restore "fine"
and silently lose rows.
"""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..findings import STATIC, Finding, failed, graded, passed

FORMAT = "cloudtolocalllm-backup/1"
MANIFEST = "manifest.json"
DUMP = "dump.pgc"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build(database: str, source: str, dump: Path, tables: dict, tools: dict, created: datetime) -> dict:
    return {
        "format": FORMAT,
        "database": database,
        "source": source,  # user@host:port/db, never the password
        "created": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dump": {"file": dump.name, "format": "custom", "sha256": sha256_file(dump), "bytes": dump.stat().st_size},
        "tables": tables,
        "tools": tools,
    }


def write(backup_dir: Path, manifest: dict) -> Path:
    path = Path(backup_dir) / MANIFEST
    path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return path


def read(backup_dir: Path) -> dict:
    """The manifest, or ValueError saying why it cannot be used."""
    path = Path(backup_dir) / MANIFEST
    if not path.is_file():
        raise ValueError(f"no {MANIFEST}: an unverified backup (no checksum to check)")
    try:
        m = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{MANIFEST} is not valid JSON ({exc.__class__.__name__}): no checksum to trust") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        got = m.get("format") if isinstance(m, dict) else None
        raise ValueError(f"{MANIFEST} has format {got!r}, expected {FORMAT!r}")
    dump = m.get("dump")
    if not isinstance(dump, dict) or not isinstance(dump.get("sha256"), str) or not isinstance(dump.get("file"), str):
        raise ValueError(f"{MANIFEST} names no dump file with a sha256 checksum")
    if Path(dump["file"]).name != dump["file"]:
        raise ValueError(f"{MANIFEST} names dump file {dump['file']!r} outside the backup directory")
    return m


@graded(STATIC)  # a read of the backup's files
def verify(backup_dir: Path) -> Finding:
    """Checksum (and size) of the dump against the manifest."""
    backup_dir = Path(backup_dir)
    subject = f"checksum of backup {backup_dir.name}"
    try:
        m = read(backup_dir)
    except ValueError as exc:
        return failed(subject, expected="a manifest with the dump's sha256", actual=str(exc))
    dump = backup_dir / m["dump"]["file"]
    if not dump.is_file():
        return failed(subject, expected=f"{dump.name} with sha256 {m['dump']['sha256']}",
                      actual=f"{dump.name} is missing")
    actual = sha256_file(dump)
    size = dump.stat().st_size
    evidence = (f"manifest: sha256 {m['dump']['sha256']}, {m['dump'].get('bytes')} bytes",
                f"{dump.name}: sha256 {actual}, {size} bytes")
    if actual != m["dump"]["sha256"] or size != m["dump"].get("bytes", size):
        return failed(subject, expected=f"sha256 {m['dump']['sha256']}", actual=f"sha256 {actual} (checksum mismatch)",
                      evidence=evidence)
    return passed(subject, expected=f"sha256 {actual}", actual=f"sha256 {actual}", evidence=evidence)


def compare_tables(expected: dict, actual: dict, expected_name: str, actual_name: str) -> list[Finding]:
    """One Finding per table (union of both sides): same row count and content digest."""
    out = []
    for table in sorted(set(expected) | set(actual)):
        subject = f"table {table}: {actual_name} matches {expected_name}"
        e, a = expected.get(table), actual.get(table)
        if e is None or a is None:
            missing = expected_name if e is None else actual_name
            out.append(failed(subject, expected="present on both sides", actual=f"missing in {missing}"))
            continue
        show = lambda s: f"{s['rows']} rows, digest {s['digest'][:12]}"
        if e["rows"] == a["rows"] and e["digest"] == a["digest"]:
            out.append(passed(subject, expected=show(e), actual=show(a)))
        else:
            why = "row count differs" if e["rows"] != a["rows"] else "same row count, content differs"
            out.append(failed(subject, expected=show(e), actual=f"{show(a)} ({why})"))
    if not out:  # an empty database restores to an empty one; say so rather than return nothing
        out.append(passed(f"tables of {actual_name}", expected=f"the tables of {expected_name}",
                          actual="no tables on either side"))
    return out


def within_rto(seconds: float, rto_minutes: float) -> Finding:
    return (passed if seconds <= rto_minutes * 60 else failed)(
        "restore time within the RTO", expected=f"<= {rto_minutes} min", actual=f"{seconds:.1f}s")


def expired(created: dict[str, datetime], now: datetime, retention_days: int, keep_min: int) -> list[str]:
    """Backup sets past retention, never touching the newest `keep_min` (a stalled schedule keeps its last sets)."""
    newest_first = sorted(created, key=lambda k: created[k], reverse=True)
    cutoff = now - timedelta(days=retention_days)
    return sorted(k for k in newest_first[keep_min:] if created[k] < cutoff)
