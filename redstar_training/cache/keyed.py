"""The typed face of a keyed cache: values of one type by key, over whichever backend the path names."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar, Generic, TypeVar

from redstar_training.cache.store import open_store
from redstar_training.cache.table import Row, Table

V = TypeVar("V")


class KeyedCache(Generic[V]):
    """Values by key in `table`, with hit and miss counts. A subclass says only how a value becomes a
    row (its `put_many`, through `store.put_many`) and back (`_decode`), so samples and verdicts share
    one storage and one file format."""

    table: ClassVar[Table]

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.store = open_store(self.path, self.table)
        self.hits = self.misses = 0
        self._lock = threading.Lock()

    def _decode(self, key: str, row: Row) -> V:
        raise NotImplementedError

    def get_many(self, keys: Iterable[str]) -> dict[str, V]:
        wanted = list(keys)
        rows = self.store.get_many(wanted)
        with self._lock:
            self.hits += len(rows)
            self.misses += len(set(wanted)) - len(rows)
        return {key: self._decode(key, row) for key, row in rows.items()}

    def count(self) -> int:
        return self.store.count()

    def close(self) -> None:
        self.store.close()
