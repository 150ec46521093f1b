"""What a keyed cache stores: one table of rows by a text key, kept by the SQLite backend as a table
and by the shard backend as one JSON record a line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]  # a row's value columns by name (the key travels beside it)


@dataclass(frozen=True)
class Table:
    """A table's shape, named once so both backends read and write the same rows: `declaration` creates
    it in SQLite ("name (key TEXT PRIMARY KEY, ...)"), `columns` are the value columns, in order."""

    declaration: str
    columns: tuple[str, ...]
    json_columns: frozenset[str] = frozenset()  # JSON text in SQLite, the JSON value itself in a shard record
    positional: bool = False  # a shard record holds the values as a "row" list rather than by column name

    @property
    def name(self) -> str:
        return self.declaration.split(" ", 1)[0]
