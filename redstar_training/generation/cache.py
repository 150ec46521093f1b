"""The sample cache: every finished completion, keyed by its content address, committed the moment
it finishes (SQLite in WAL mode: a SIGKILL loses at most the requests in flight, never a committed
sample, and the key is the primary key, so a sample can never be stored twice). Failed requests are
not cached: a re-run asks again."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

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


_INSERT = f"INSERT OR IGNORE INTO samples ({', '.join(_COLUMNS)}) VALUES ({','.join('?' * len(_COLUMNS))})"


def _row(c: Completion) -> tuple:
    return tuple(json.dumps(c.extra) if col == "extra" else getattr(c, col) for col in _COLUMNS)


class SampleCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=60, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process kills
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS samples (key TEXT PRIMARY KEY, problem_id TEXT, sample_index INTEGER, "
            "text TEXT, finish_reason TEXT, prompt_tokens INTEGER, completion_tokens INTEGER, latency_s REAL, "
            "attempts INTEGER, extra TEXT, created REAL DEFAULT (julianday('now')))"
        )
        self._lock = threading.Lock()

    def get_many(self, keys: Iterable[str]) -> dict[str, Completion]:
        keys = list(keys)
        found: dict[str, Completion] = {}
        with self._lock:
            for start in range(0, len(keys), 900):
                chunk = keys[start : start + 900]
                query = f"SELECT {', '.join(_COLUMNS)} FROM samples WHERE key IN ({','.join('?' * len(chunk))})"
                for row in self._db.execute(query, chunk):
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
        """Commits many finished samples in one transaction (imports, benchmarks); returns how many were new."""
        rows = [_row(c) for c in completions if c.ok]
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN")
            self._db.executemany(_INSERT, rows)
            self._db.execute("COMMIT")
            return self._db.total_changes - before

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM samples").fetchone()[0]

    def close(self) -> None:
        self._db.close()


class BatchedPuts:
    """Commits finished samples in small transactions (a million single-row commits cost minutes):
    at most `every` samples, or `seconds` of work, are at risk when the process is killed."""

    def __init__(self, cache: SampleCache, every: int = 256, seconds: float = 1.0):
        self.cache, self.every, self.seconds = cache, every, seconds
        self.pending: list[Completion] = []
        self.last = time.monotonic()

    def add(self, c: Completion) -> None:
        self.pending.append(c)
        if len(self.pending) >= self.every or time.monotonic() - self.last >= self.seconds:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.cache.put_many(self.pending)
        self.pending.clear()
        self.last = time.monotonic()
