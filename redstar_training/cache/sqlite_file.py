"""Opening a cache's SQLite file: WAL mode (readers never block the writer; a SIGKILL loses no
committed row), usable from several threads and processes, its table created on open, and a file
that fails the integrity check set aside rather than trusted."""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path


def open_db(path: str | Path, table: str) -> sqlite3.Connection:
    """The database at `path` with `table` ("name (key TEXT PRIMARY KEY, ...)") created. Every statement
    commits on its own unless the caller opens a transaction with BEGIN.

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
    db = sqlite3.connect(path, check_same_thread=False, timeout=60, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    # the WAL is checkpointed (and synced) every 64 MB rather than every 4 MB, which commits large
    # samples faster; pages stay 4 KB, as larger pages make every commit rewrite whole pages of the
    # key index (docs/results.md)
    db.execute("PRAGMA wal_autocheckpoint=16384")
    db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process kills
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
