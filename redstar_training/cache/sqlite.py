"""The SQLite backend of a keyed cache: a table in one file, the first row put for a key kept."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

from redstar_training.cache.sqlite_file import open_db
from redstar_training.cache.table import Row, Table

KEYS_PER_LOOKUP = 500
PARAMETERS_PER_INSERT = 2560  # well under SQLite's limit of 32,766 parameters a statement


class SqliteStore:
    """Rows by key in one SQLite table, shared by threads under a lock; a row is committed by the time
    `put_many` returns, so a killed process loses only the rows still being put."""

    def __init__(self, path: str | Path, table: Table):
        self.table = table
        self.db = open_db(path, table.declaration)
        self._lock = threading.Lock()
        names = ", ".join(("key", *table.columns))
        self._select = f"SELECT {names} FROM {table.name} WHERE key IN "
        self._insert = f"INSERT OR IGNORE INTO {table.name} ({names}) VALUES "
        self._marks = "(" + ",".join("?" * (1 + len(table.columns))) + ")"
        self._rows_per_insert = max(1, PARAMETERS_PER_INSERT // (1 + len(table.columns)))

    def get_many(self, keys: Sequence[str]) -> dict[str, Row]:
        """The rows of the keys present, looked up a chunk of keys at a time."""
        found: list[tuple] = []
        with self._lock:
            for start in range(0, len(keys), KEYS_PER_LOOKUP):
                chunk = list(keys[start : start + KEYS_PER_LOOKUP])
                found.extend(self.db.execute(self._select + f"({','.join('?' * len(chunk))})", chunk))
        rows = {key: dict(zip(self.table.columns, values, strict=True)) for key, *values in found}
        for row in rows.values():
            for column in self.table.json_columns:
                row[column] = json.loads(row[column]) if row[column] else None
        return rows

    def put_many(self, rows: Sequence[tuple[str, Row]]) -> int:
        """Commits the rows in one transaction; returns how many keys were new. The rows go in as
        multi-row INSERTs: SQLite inserts a statement's rows without taking the GIL back between them
        (an `executemany` takes it back for every row, which stalls a committing thread behind a busy caller)."""
        if not rows:
            return 0
        json_columns = self.table.json_columns
        flat = [
            (key, *(json.dumps(row[c]) if c in json_columns else row[c] for c in self.table.columns))
            for key, row in rows
        ]
        with self._lock:
            before = self.db.total_changes
            try:
                self.db.execute("BEGIN")
                for start in range(0, len(flat), self._rows_per_insert):
                    part = flat[start : start + self._rows_per_insert]
                    self.db.execute(self._insert + ",".join([self._marks] * len(part)), [v for r in part for v in r])
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
            return self.db.total_changes - before

    def count(self) -> int:
        with self._lock:
            return self.db.execute(f"SELECT count(*) FROM {self.table.name}").fetchone()[0]

    def close(self) -> None:
        self.db.close()
