"""PostgreSQL client plumbing: find the binaries, split a DSN, run pg_* tools.

A DSN's password never goes on a command line (it would show in `ps`, in
error messages and in CI logs): tools get it through PGPASSWORD, and every
text we raise is scrubbed of it.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import conninfo as _ci

from .. import errors
from ..config import Secret

BINDIR_ENV = "CTL_PG_BINDIR"
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

BINARIES_MISSING = ("PostgreSQL binaries not found: need {names} in ${env}, /usr/lib/postgresql/*/bin "
                    "or PATH (install Debian's postgresql package)")
INVALID_DB_NAME = ("invalid database name {name!r}: expected letters, digits and _ "
                   "(at most 63, not starting with a digit)")
UNREACHABLE = "PostgreSQL at {where} is not reachable: {reason}"


def _version_key(path: str) -> tuple:
    # /usr/lib/postgresql/15/bin -> (15,): the newest major wins
    return tuple(int(x) for x in re.findall(r"\d+", Path(path).parent.name)) or (0,)


def bindir(names: tuple[str, ...] = ("pg_dump", "pg_restore")) -> Path:
    """The directory holding all of `names`: $CTL_PG_BINDIR, the newest Debian dir, then PATH."""
    candidates = []
    if os.environ.get(BINDIR_ENV):
        candidates.append(os.environ[BINDIR_ENV])
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    found = shutil.which(names[0])
    if found:
        candidates.append(str(Path(found).parent))
    for c in candidates:
        if all(os.access(Path(c) / n, os.X_OK) for n in names):
            return Path(c)
    raise errors.TargetUnavailable(BINARIES_MISSING.format(names=", ".join(names), env=BINDIR_ENV))


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise errors.BadInput(INVALID_DB_NAME.format(name=name))
    return name


@dataclass(frozen=True)
class Conn:
    """A DSN split into what may be shown (params) and what may not (password)."""

    params: dict
    password: Secret = field(default=Secret(""), repr=False)

    @classmethod
    def parse(cls, dsn: str) -> Conn:
        try:
            params = _ci.conninfo_to_dict(str(dsn))
        except psycopg.ProgrammingError:
            # psycopg's message may quote the DSN: say only that it is malformed
            raise errors.BadInput(
                "malformed PostgreSQL DSN (expected postgresql://user:password@host:port/db)") from None
        password = str(params.pop("password", "") or "")
        return cls({k: str(v) for k, v in params.items()}, Secret(password))

    def for_db(self, database: str) -> Conn:
        return Conn({**self.params, "dbname": database}, self.password)

    @property
    def dbname(self) -> str:
        return self.params.get("dbname", "postgres")

    def public(self) -> str:
        """host=... port=... user=... dbname=...: safe to show and to pass on a command line."""
        return _ci.make_conninfo(**self.params)

    def where(self) -> str:
        p = self.params
        return f"{p.get('user', '?')}@{p.get('host', 'localhost')}:{p.get('port', '5432')}/{self.dbname}"

    def connect(self, autocommit: bool = True, timeout: int = 10) -> psycopg.Connection:
        try:
            return psycopg.connect(self.public(), password=self.password or None,
                                   autocommit=autocommit, connect_timeout=timeout)
        except psycopg.OperationalError as exc:
            why = self.scrub(_first_line(exc))
            raise errors.TargetUnavailable(UNREACHABLE.format(where=self.where(), reason=why)) from None

    @contextmanager
    def session(self, what: str, autocommit: bool = True):
        """A connection whose psycopg errors surface as one-line ProvisionErrors saying `what` failed."""
        with sql_errors(self, what), self.connect(autocommit=autocommit) as c:
            yield c

    def env(self) -> dict:
        """Environment for pg_dump/pg_restore: the password travels here, never in argv."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["PGCONNECT_TIMEOUT"] = "10"
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def scrub(self, text: str) -> str:
        return text.replace(self.password, "***") if self.password else text


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class QueryFailed(errors.ProvisionError):
    """A statement failed on the server (permission denied, missing object...)."""


@contextmanager
def sql_errors(conn: Conn, what: str):
    """psycopg errors as one-line ProvisionErrors naming what was done, scrubbed of the password."""
    try:
        yield
    except psycopg.OperationalError as exc:
        why = conn.scrub(_first_line(exc))
        raise errors.TargetUnavailable(UNREACHABLE.format(where=conn.where(), reason=why)) from None
    except psycopg.Error as exc:
        raise QueryFailed(f"{what} on {conn.where()} failed: {conn.scrub(_first_line(exc))}") from None


class CommandFailed(errors.ProvisionError):
    """A pg_* tool exited non-zero; carries its command, exit code and stderr."""

    def __init__(self, argv: list[str], code: int, stderr: str):
        self.argv, self.code, self.stderr = list(argv), code, stderr
        tail = stderr.strip().splitlines()[-5:]
        super().__init__(f"{Path(argv[0]).name} exited {code}: {' '.join(tail) or '(no stderr)'}",
                         evidence=(f"command: {' '.join(argv)}", f"exit code: {code}", *tail))


def run(argv: list[str], conn: Conn | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    env = conn.env() if conn else None
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        scrub = conn.scrub if conn else (lambda s: s)
        raise CommandFailed([scrub(a) for a in argv], proc.returncode, scrub(proc.stderr))
    return proc


def tool_version(path: Path) -> str:
    return run([str(path), "--version"]).stdout.strip()
