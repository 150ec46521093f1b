"""A durable verdict cache, so re-scoring the same outputs (a resumed run, a second report, RL
rewards on repeated samples) costs nothing. Keyed by (gold, prediction, answer format, mode,
verifier version): a new verifier version never reads an old verdict. Timeouts and errors are not
cached: they depend on the machine and the moment, not on the pair."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path

from redstar_training.verify.equivalence import VERIFIER_VERSION, MathTask, Verdict

_CACHEABLE = ("correct", "wrong", "no_answer")


def cache_key(task: MathTask) -> str:
    fields = [task.gold, task.output, task.extracted, task.answer_format, task.mode, task.finish_reason]
    fields += [task.tolerance, task.precision, task.language, task.answer_read, VERIFIER_VERSION]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).hexdigest()


class VerdictCache:
    """SQLite in WAL mode: safe from several threads and processes at once."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, status TEXT, reason TEXT, extracted TEXT)"
        )
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get_many(self, keys: list[str]) -> dict[str, Verdict]:
        found: dict[str, Verdict] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT key, status, reason, extracted FROM verdicts WHERE key IN ({marks})"
                rows = self._db.execute(query, chunk)
                found.update({key: Verdict(status, reason, extracted) for key, status, reason, extracted in rows})
            self.hits += len(found)
            self.misses += len(set(keys)) - len(found)
        return found

    def put_many(self, verdicts: dict[str, Verdict]) -> None:
        rows = [(k, v.status, v.reason, v.extracted) for k, v in verdicts.items() if v.status in _CACHEABLE]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?)", rows)

    def close(self) -> None:
        self._db.close()
