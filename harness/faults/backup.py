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


# -- seeded faults on a set in the bucket (provision/backup/store.py), applied to a fresh set only ----------


def _get(s3, loc, key: str) -> tuple[bytes, dict]:
    obj = s3.get_object(Bucket=loc.bucket, Key=key)
    return obj["Body"].read(), obj.get("Metadata") or {}


def _put(s3, loc, key: str, body: bytes, meta: dict, **sse) -> None:
    sse = sse or {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": loc.key_arn}
    s3.put_object(Bucket=loc.bucket, Key=key, Body=body, Metadata=meta, **sse)


def _remote_flip(s3, loc, rset) -> None:
    key = rset.objects[manifest.DUMP]["key"]
    body, meta = _get(s3, loc, key)
    data = bytearray(body)
    data[len(data) // 2] ^= 0x01
    _put(s3, loc, key, bytes(data), meta)


def _remote_truncate(s3, loc, rset) -> None:
    key = rset.objects[manifest.DUMP]["key"]
    body, meta = _get(s3, loc, key)
    _put(s3, loc, key, body[: len(body) // 2], meta)


def _remote_drop_manifest(s3, loc, rset) -> None:
    s3.delete_object(Bucket=loc.bucket, Key=rset.objects[manifest.MANIFEST]["key"])


def _remote_tamper_manifest(s3, loc, rset) -> None:
    import json

    key = rset.objects[manifest.MANIFEST]["key"]
    body, meta = _get(s3, loc, key)
    m = json.loads(body)
    table = sorted(m["tables"])[0]
    m["tables"][table]["rows"] += 1  # a manifest that would bless a restore with an extra row
    _put(s3, loc, key, json.dumps(m, indent=1, sort_keys=True).encode() + b"\n", meta)


def _remote_other_key(s3, loc, rset) -> None:
    import boto3

    kms = boto3.client("kms", region_name=s3.meta.region_name)  # AWS_ENDPOINT_URL: the target's, if any
    key_arn = kms.create_key(Description="seeded fault: not the backup key")["KeyMetadata"]["Arn"]
    k = rset.objects[manifest.DUMP]["key"]
    body, meta = _get(s3, loc, k)
    _put(s3, loc, k, body, meta, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn)


def _remote_sse_s3(s3, loc, rset) -> None:
    k = rset.objects[manifest.DUMP]["key"]
    body, meta = _get(s3, loc, k)
    _put(s3, loc, k, body, meta, ServerSideEncryption="AES256")


REMOTE_CORRUPTIONS = {
    "one byte flipped in the dump object": (_remote_flip, "checksum"),
    "the dump object truncated": (_remote_truncate, "checksum"),
    "the manifest object deleted": (_remote_drop_manifest, "no manifest.json"),
    "the manifest tampered with": (_remote_tamper_manifest, "tampered manifest"),
    "the dump encrypted with another key": (_remote_other_key, "not the backup key"),
    "the dump encrypted with SSE-S3, not the backup key": (_remote_sse_s3, "not aws:kms"),
}


def corrupt_remote(s3, loc, rset, fault: str) -> str:
    """Apply a seeded fault to a set in the bucket; returns the word the refusal must name."""
    apply, word = _lookup(REMOTE_CORRUPTIONS, fault)
    apply(s3, loc, rset)
    return word
