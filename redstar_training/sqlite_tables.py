"""The SQLite plumbing the sample cache and the verdict caches share: one file in WAL mode (readers
never block the writer; a SIGKILL loses no committed row), usable from several threads and
processes, with its table created on open, and lookups of many keys in chunks that stay under
SQLite's limit on a statement's parameters."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

KEYS_PER_LOOKUP = 500


def open_db(path: str | Path, table: str, autocommit: bool = False) -> sqlite3.Connection:
    """The database at `path` with `table` ("name (key TEXT PRIMARY KEY, ...)") created. With
    `autocommit` every statement commits on its own unless the caller opens a transaction with BEGIN."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if autocommit:
        db = sqlite3.connect(Path(path), check_same_thread=False, timeout=60, isolation_level=None)
    else:
        db = sqlite3.connect(Path(path), check_same_thread=False, timeout=60)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"CREATE TABLE IF NOT EXISTS {table}")
    return db


def table_name(table: str) -> str:
    """The name in a table declaration ("name (key TEXT PRIMARY KEY, ...)")."""
    return table.split(" ", 1)[0]


def rows_by_key(db: sqlite3.Connection, table: str, columns: Sequence[str], keys: Sequence[str]) -> list[tuple]:
    """(key, *columns) of the rows whose key is in `keys`, looked up a chunk of keys at a time."""
    rows: list[tuple] = []
    select = f"SELECT key, {', '.join(columns)} FROM {table_name(table)}"
    for start in range(0, len(keys), KEYS_PER_LOOKUP):
        chunk = list(keys[start : start + KEYS_PER_LOOKUP])
        rows.extend(db.execute(f"{select} WHERE key IN ({','.join('?' * len(chunk))})", chunk))
    return rows
