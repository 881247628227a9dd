"""provision.backup: PostgreSQL backup sets (pg_dump + checksum manifest), restore, compare."""
from .dr import backup, compare, integrity, restore, table_stats, verify  # noqa: F401
