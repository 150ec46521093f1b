"""The sample cache: every finished completion, keyed by its content address, committed the moment
it finishes (SQLite in WAL mode: a SIGKILL loses at most the requests in flight, never a committed
sample, and the key is the primary key, so a sample can never be stored twice). Failed requests are
not cached: a re-run asks again."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from redstar_training.files.sqlite_tables import open_db, rows_by_key
from redstar_training.generation.types import Completion

_COLUMNS = (
    "key",
    "problem_id",
    "sample_index",
    "text",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "latency_s",
    "attempts",
    "extra",
)
_TABLE = (
    "samples (key TEXT PRIMARY KEY, problem_id TEXT, sample_index INTEGER, text TEXT, finish_reason TEXT, "
    "prompt_tokens INTEGER, completion_tokens INTEGER, latency_s REAL, attempts INTEGER, extra TEXT, "
    "created REAL DEFAULT (julianday('now')))"
)
_INSERT = f"INSERT OR IGNORE INTO samples ({', '.join(_COLUMNS)}) VALUES ({','.join('?' * len(_COLUMNS))})"
_ROWS_PER_INSERT = 256  # 2,560 parameters a statement, under SQLite's limit of 32,766


def _insert_rows(n: int) -> str:
    """One INSERT statement for n rows."""
    values = "(" + ",".join("?" * len(_COLUMNS)) + ")"
    return f"INSERT OR IGNORE INTO samples ({', '.join(_COLUMNS)}) VALUES " + ",".join([values] * n)


def _row(c: Completion) -> tuple:
    return tuple(json.dumps(c.extra) if col == "extra" else getattr(c, col) for col in _COLUMNS)


class SampleCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = open_db(self.path, _TABLE, autocommit=True)
        # the WAL is checkpointed (and synced) every 64 MB rather than every 4 MB, which commits large
        # samples faster; pages stay 4 KB, as larger pages make every commit rewrite whole pages of the
        # key index (docs/results.md)
        self._db.execute("PRAGMA wal_autocheckpoint=16384")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process kills
        self._lock = threading.Lock()

    def get_many(self, keys: Iterable[str]) -> dict[str, Completion]:
        found: dict[str, Completion] = {}
        with self._lock:
            rows = rows_by_key(self._db, _TABLE, _COLUMNS[1:], list(keys))
        for row in rows:
            values = dict(zip(_COLUMNS, row, strict=True))
            values["extra"] = json.loads(values["extra"] or "{}")
            found[values["key"]] = Completion(**values)
        return found

    def put(self, c: Completion) -> bool:
        """Commits one finished sample; False when the key was already there (nothing is overwritten)."""
        if not c.ok:
            return False
        with self._lock:
            return self._db.execute(_INSERT, _row(c)).rowcount == 1

    def put_many(self, completions: list[Completion]) -> int:
        """Commits many finished samples in one transaction; returns how many were new. The rows go in
        as multi-row INSERTs of up to 256 rows: SQLite inserts a statement's rows without taking the GIL
        back between them (an `executemany` takes it back for every row, which stalls a committing
        thread behind a busy caller)."""
        rows = [_row(c) for c in completions if c.ok]
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN")
            for start in range(0, len(rows), _ROWS_PER_INSERT):
                part = rows[start : start + _ROWS_PER_INSERT]
                self._db.execute(_insert_rows(len(part)), [v for row in part for v in row])
            self._db.execute("COMMIT")
            return self._db.total_changes - before

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM samples").fetchone()[0]

    def close(self) -> None:
        self._db.close()


class BatchedPuts:
    """Commits finished samples in small transactions (a million single-row commits cost minutes):
    at most `every` samples, or `seconds` of work, wait to be committed, plus the one transaction in
    flight: commits run on a background thread (SQLite writes without the GIL) while generation goes
    on. `close()` waits for the last commit; a failed commit is raised by the next call."""

    def __init__(self, cache: SampleCache, every: int = 256, seconds: float = 1.0):
        from redstar_training.generation.in_flight import InFlight

        self.cache, self.every, self.seconds = cache, every, seconds
        self.pending: list[Completion] = []
        self.last = time.monotonic()
        self._commits = InFlight("sample-cache")

    def add(self, c: Completion) -> None:
        self.pending.append(c)
        if len(self.pending) >= self.every or time.monotonic() - self.last >= self.seconds:
            self.flush()

    def flush(self) -> None:
        """Hands what is pending to the committing thread (after the previous commit has finished)."""
        self._commits.wait()
        if self.pending:
            batch, self.pending = self.pending, []
            self._commits.submit(self.cache.put_many, batch)
        self.last = time.monotonic()

    def close(self) -> None:
        """Commits everything pending and waits for it."""
        try:
            self.flush()
        finally:
            self._commits.close()


def open_sample_cache(path: str | Path):
    """The cache at `path`: one SQLite file, or per-writer shards for a folder ending in `.shards`
    (a data root on a shared filesystem, where SQLite's locking is not safe across hosts)."""
    from redstar_training.generation.sharded_cache import SUFFIX, ShardedSampleCache

    return ShardedSampleCache(path) if str(path).endswith(SUFFIX) else SampleCache(path)
