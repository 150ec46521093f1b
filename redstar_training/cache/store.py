"""What every backend of a keyed cache does, and which backend a path names."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from redstar_training.cache.shards import ShardStore
from redstar_training.cache.sqlite import SqliteStore
from redstar_training.cache.table import Row, Table

SUFFIX = ".shards"


class Store(Protocol):
    """Rows by key; a key's first row is kept and never overwritten, so a reader never sees it change."""

    def get_many(self, keys: Sequence[str]) -> dict[str, Row]: ...

    def put_many(self, rows: Sequence[tuple[str, Row]]) -> int:
        """Commits the rows; returns how many keys were new."""
        ...

    def count(self) -> int: ...

    def close(self) -> None: ...


def open_store(path: str | Path, table: Table) -> Store:
    """Per-writer shards for a folder ending in `.shards` (a data root on a shared filesystem, where
    SQLite's locking is not safe across hosts), else one SQLite file."""
    return ShardStore(path, table) if str(path).endswith(SUFFIX) else SqliteStore(path, table)
