"""Reading JSONL input files the same way everywhere: each line's number travels with its row, and a
line that is not a JSON object becomes an error message naming the file and line, not a crash."""

from __future__ import annotations

import json
from pathlib import Path


def read_rows(path: Path) -> tuple[list[tuple[int, dict]], list[str]]:
    """(line number, row) for each JSON object line, and an error message for each line that is not one."""
    rows, errors = [], []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                errors.append(f"{path}:{number}: invalid JSON line ({exc}); skipped")
                continue
            rows.append((number, row))
    return rows, errors
