"""Reading JSONL input files the same way everywhere: each line's number travels with its row, a BOM
on the first line is dropped, and a line that is not a UTF-8 JSON object becomes an error naming the
file and line (quarantined, skipped or fatal, as the caller decides), not a crash. Lines are read as
they come, so a file larger than memory streams through."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path


def iter_lines(path: Path) -> Iterator[tuple[int, dict | None, str]]:
    """(line number, the JSON object or None, the raw line or why it could not be read) per non-blank line."""
    with Path(path).open("rb") as fh:
        for lineno, data in enumerate(fh, start=1):
            try:  # a line that is not UTF-8 is that line's fault, not the file's
                line = data.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield lineno, None, f"<not UTF-8: {exc.reason} at byte {exc.start}> {data[:200]!r}"
                continue
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                yield lineno, None, line.strip()
                continue
            yield lineno, rec if isinstance(rec, dict) else None, line.strip()


def read_rows(path: Path) -> tuple[list[tuple[int, dict]], list[str]]:
    """(line number, row) for each JSON object line, and an error message for each line that is not one."""
    rows, errors = [], []
    for number, row, raw in iter_lines(path):
        if row is None:
            errors.append(f"{path}:{number}: invalid JSON line (not a JSON object: {raw[:80]}); skipped")
        else:
            rows.append((number, row))
    return rows, errors
