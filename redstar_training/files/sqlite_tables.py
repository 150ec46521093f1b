"""The SQLite plumbing the sample cache and the verdict caches share: one file in WAL mode (readers
never block the writer; a SIGKILL loses no committed row), usable from several threads and
processes, with its table created on open, and lookups of many keys in chunks that stay under
SQLite's limit on a statement's parameters."""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path

KEYS_PER_LOOKUP = 500


def open_db(path: str | Path, table: str, autocommit: bool = False) -> sqlite3.Connection:
    """The database at `path` with `table` ("name (key TEXT PRIMARY KEY, ...)") created. With
    `autocommit` every statement commits on its own unless the caller opens a transaction with BEGIN.

    A cache is only a shortcut, so one that fails SQLite's integrity check (garbage pages, a
    truncated file, a torn copy) is never trusted: it is set aside as `<name>.corrupt-<time>` with
    its WAL, reported on stderr (the run's log), and an empty one takes its place; what it held is
    recomputed. The check reads every page, about a second per GB, once per open."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    problem = _integrity_problem(path)
    if problem:
        aside = set_aside(path)
        print(
            f"WARNING: cache {path} is corrupt ({problem}); set aside as {aside.name}, rebuilt empty", file=sys.stderr
        )
    if autocommit:
        db = sqlite3.connect(path, check_same_thread=False, timeout=60, isolation_level=None)
    else:
        db = sqlite3.connect(path, check_same_thread=False, timeout=60)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"CREATE TABLE IF NOT EXISTS {table}")
    return db


def _integrity_problem(path: Path) -> str | None:
    """Why the database at `path` cannot be trusted, or None (also for a file not yet created)."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        db = sqlite3.connect(path, timeout=60)
        try:
            found = [r[0] for r in db.execute("PRAGMA quick_check(5)")]
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:  # not a database at all, or too broken to check
        return f"{type(exc).__name__}: {exc}"
    return None if found == ["ok"] else "; ".join(found)


def set_aside(path: Path) -> Path:
    """Moves a database and its WAL and shared-memory files to `<name>.corrupt-<time>`; returns it."""
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**6}")
    for suffix in ("", "-wal", "-shm"):
        extra = Path(f"{path}{suffix}")
        if extra.exists():
            extra.rename(Path(f"{aside}{suffix}"))
    return aside


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
