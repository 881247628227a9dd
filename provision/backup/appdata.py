"""Generated application data: a schema like the app's, rows from a seed.

Awkward values on purpose (quotes, backslashes, newlines, tabs, non-ASCII,
NULLs, large text) so a lossy dump or restore shows in the digests.
"""
from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from . import pgtools

SCHEMA = """
CREATE TABLE users (
    id uuid PRIMARY KEY,
    email text NOT NULL UNIQUE,
    display_name text,
    created_at timestamptz NOT NULL
);
CREATE TABLE conversations (
    id bigserial PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title text NOT NULL,
    model text NOT NULL,
    settings jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL
);
CREATE TABLE messages (
    id bigserial PRIMARY KEY,
    conversation_id bigint NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content text NOT NULL,
    tokens integer,
    created_at timestamptz NOT NULL
);
CREATE INDEX messages_conversation ON messages(conversation_id, created_at);
"""
TABLES = ("users", "conversations", "messages")

_WORDS = ["llama", "model", "tunnel", "desktop", "ollama", "prompt", "token", "stream", "ünïcødé",
          "日本語", "emoji 🦙", "quote ' here", 'double " quote', "back\\slash", "tab\there",
          "line\nbreak", "percent %s", "semi;colon", "NULL", "\\N", ""]
_MODELS = ["llama3.2:3b", "mistral:7b", "qwen2.5:14b", "phi4"]
_BASE = datetime(2025, 1, 1, tzinfo=UTC)


def rows(seed: int, users: int = 12, conversations: int = 30, messages: int = 200) -> dict[str, list[tuple]]:
    """Deterministic rows for a seed: same seed, same data."""
    r = random.Random(seed)
    text = lambda n: " ".join(r.choice(_WORDS) for _ in range(r.randint(1, n)))
    us = [(uuid.UUID(int=r.getrandbits(128), version=4), f"user{i}.{r.randint(0, 10**6)}@example.test",
           None if r.random() < 0.2 else text(3), _BASE + timedelta(seconds=r.randint(0, 10**7)))
          for i in range(users)]
    cs = [(i + 1, r.choice(us)[0], text(5), r.choice(_MODELS),
           f'{{"temperature": {r.random():.2f}, "stream": {r.choice(["true", "false"])}}}',
           _BASE + timedelta(seconds=r.randint(0, 10**7)))
          for i in range(conversations)]
    ms = [(i + 1, r.choice(cs)[0], r.choice(["user", "assistant", "system"]),
           text(40) if r.random() > 0.02 else "x" * 20000, None if r.random() < 0.3 else r.randint(1, 4000),
           _BASE + timedelta(seconds=r.randint(0, 10**7), microseconds=r.randint(0, 999999)))
          for i in range(messages)]
    return {"users": us, "conversations": cs, "messages": ms}


_COLUMNS = {
    "users": "(id, email, display_name, created_at)",
    "conversations": "(id, user_id, title, model, settings, created_at)",
    "messages": "(id, conversation_id, role, content, tokens, created_at)",
}


def load(conn: pgtools.Conn, seed: int, **sizes) -> dict[str, int]:
    """Create the schema in conn's (empty) database and fill it; returns row counts."""
    data = rows(seed, **sizes)
    with conn.session("loading generated application data", autocommit=False) as c:
        c.execute(SCHEMA)
        with c.cursor() as cur:
            for table in TABLES:
                with cur.copy(f"COPY {table} {_COLUMNS[table]} FROM STDIN") as cp:
                    for row in data[table]:
                        cp.write_row(row)
            # keep the sequences past the explicit ids, as the app's inserts would
            for table in ("conversations", "messages"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        c.commit()
    return {t: len(v) for t, v in data.items()}


def create(dsn: str, database: str, seed: int, **sizes) -> dict[str, int]:
    """A new database `database` holding generated application data for `seed`."""
    from . import dr  # dr imports nothing from here; kept local to keep this module light

    dr.create_database(dsn, database)
    return load(pgtools.Conn.parse(dsn).for_db(database), seed, **sizes)
