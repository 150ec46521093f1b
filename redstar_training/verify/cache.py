"""Durable verdict caches, so re-scoring the same outputs (a resumed run, a second report, RL rewards on
repeated samples) costs nothing. Math verdicts are keyed by (gold, prediction, format, mode, options,
verifier version), code verdicts by (program, tests, sandbox version), so a new verifier or sandbox never
reads an old verdict; timeouts and errors depend on the machine and the moment, so they are not cached. A
path ending in `.shards` is a folder of per-writer shards (`ShardedRecords`), for a shared filesystem."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import asdict
from pathlib import Path

from redstar_training.files.sqlite_tables import open_db, rows_by_key, table_name
from redstar_training.verify.code_types import CodeVerdict
from redstar_training.verify.equivalence import VERIFIER_VERSION, MathTask, Verdict

_CACHEABLE = ("correct", "wrong", "no_answer")


def cache_key(task: MathTask) -> str:
    fields: list[object] = [task.gold, task.output, task.extracted, task.answer_format, task.mode, task.finish_reason]
    fields += [task.tolerance, task.precision, task.language, task.answer_read, VERIFIER_VERSION]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).hexdigest()


class _KeyedCache:
    """Rows by key in one SQLite table (or in shards, for a `.shards` path), with hit and miss counts."""

    table = ""  # "name (key TEXT PRIMARY KEY, ...)"

    def __init__(self, path: str | Path):
        from redstar_training.generation.sharded_cache import SUFFIX, ShardedRecords

        self.path = Path(path)
        self._shards = ShardedRecords(self.path) if str(path).endswith(SUFFIX) else None
        self._db = None if self._shards else open_db(self.path, self.table)
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def _sqlite(self) -> sqlite3.Connection:
        """The SQLite connection of a cache that is not sharded."""
        if self._db is None:
            raise RuntimeError(f"{self.path}: a sharded verdict cache has no SQLite connection")
        return self._db

    def _rows(self, keys: list[str], columns: tuple[str, ...]) -> list[tuple]:
        """(key, *columns) for the keys present; counts hits and misses."""
        with self._lock:
            if self._shards is not None:
                rows = [(k, *r["row"]) for k, r in self._shards.get_records(keys).items()]
            else:
                rows = rows_by_key(self._sqlite(), self.table, columns, keys)
            self.hits += len(rows)
            self.misses += len(set(keys)) - len(rows)
        return rows

    def _put(self, rows: list[tuple]) -> None:
        if not rows:
            return
        if self._shards is not None:
            self._shards.put_records([{"key": key, "row": list(rest)} for key, *rest in rows])
            return
        marks = ",".join("?" * len(rows[0]))
        db = self._sqlite()
        with self._lock, db:
            db.executemany(f"INSERT OR REPLACE INTO {table_name(self.table)} VALUES ({marks})", rows)

    def close(self) -> None:
        if self._shards is not None:
            self._shards.close()
        else:
            self._sqlite().close()


class VerdictCache(_KeyedCache):
    """Math and choice verdicts by `cache_key`."""

    table = "verdicts (key TEXT PRIMARY KEY, status TEXT, reason TEXT, extracted TEXT)"

    def get_many(self, keys: list[str]) -> dict[str, Verdict]:
        return {
            key: Verdict(status, reason, extracted)
            for key, status, reason, extracted in self._rows(keys, ("status", "reason", "extracted"))
        }

    def put_many(self, verdicts: dict[str, Verdict]) -> None:
        self._put([(k, v.status, v.reason, v.extracted) for k, v in verdicts.items() if v.status in _CACHEABLE])


def code_cache_key(task) -> str:
    """(program hash, tests hash, sandbox version) for a `CodeTask`; the time limit is part of the tests."""
    from redstar_training.verify.sandbox import SANDBOX_VERSION

    program = hashlib.sha256(task.program.encode()).hexdigest()
    tests = [task.tests, task.entry_point, [list(t) for t in task.io], task.timeout_s]
    tests_hash = hashlib.sha256(json.dumps(tests, ensure_ascii=False).encode()).hexdigest()
    return f"{program}:{tests_hash}:{SANDBOX_VERSION}"


class CodeVerdictCache(_KeyedCache):
    """Code verdicts (`CodeVerdict`, stored as JSON) by `code_cache_key`."""

    table = "code_verdicts (key TEXT PRIMARY KEY, verdict TEXT)"

    def get_many(self, keys: list[str]) -> dict:
        return {key: CodeVerdict(**json.loads(verdict)) for key, verdict in self._rows(keys, ("verdict",))}

    def put_many(self, verdicts: dict) -> None:
        self._put([(k, json.dumps(asdict(v))) for k, v in verdicts.items() if v.status in ("correct", "wrong")])
