"""The sample cache: every finished completion, keyed by its content address, committed the moment
it finishes, so a killed run loses only the requests in flight and a sample is never stored twice.
Failed requests are not cached: a re-run asks again."""

from __future__ import annotations

import time
from collections.abc import Iterable

from redstar_training.cache.keyed import KeyedCache
from redstar_training.cache.table import Row, Table
from redstar_training.generation.in_flight import InFlight
from redstar_training.generation.types import Completion

SAMPLES = Table(
    "samples (key TEXT PRIMARY KEY, problem_id TEXT, sample_index INTEGER, text TEXT, finish_reason TEXT, "
    "prompt_tokens INTEGER, completion_tokens INTEGER, latency_s REAL, attempts INTEGER, extra TEXT, "
    "created REAL DEFAULT (julianday('now')))",
    (
        "problem_id",
        "sample_index",
        "text",
        "finish_reason",
        "prompt_tokens",
        "completion_tokens",
        "latency_s",
        "attempts",
        "extra",
    ),
    json_columns=frozenset({"extra"}),
)


class SampleCache(KeyedCache[Completion]):
    """Finished teacher or evaluation samples by content address: a SQLite file, or per-writer shards
    for a path ending in `.shards`."""

    table = SAMPLES

    def _decode(self, key: str, row: Row) -> Completion:
        row["extra"] = row.get("extra") or {}
        return Completion(key=key, **row)

    def put_many(self, completions: Iterable[Completion]) -> int:
        """Commits the finished samples among `completions`; returns how many were new (nothing is overwritten)."""
        return self.store.put_many(
            [(c.key, {col: getattr(c, col) for col in SAMPLES.columns}) for c in completions if c.ok]
        )

    def put(self, c: Completion) -> bool:
        """Commits one finished sample; False when it failed or its key was already there."""
        return self.put_many([c]) == 1


class BatchedPuts:
    """Commits finished samples in small transactions (a million single-row commits cost minutes):
    at most `every` samples, or `seconds` of work, wait to be committed, plus the one transaction in
    flight: commits run on a background thread (SQLite writes without the GIL) while generation goes
    on. `close()` waits for the last commit; a failed commit is raised by the next call."""

    def __init__(self, cache: SampleCache, every: int = 256, seconds: float = 1.0):
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
