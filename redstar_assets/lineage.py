"""Metadata every materialization carries: its config hash, the data versions it read, and the
git commit of the code that made it."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from typing import Any

import polars as pl
from dagster import MetadataValue

from redstar_assets.profile import spec_hash


@functools.cache
def code_commit() -> str:
    """The checkout's commit (with `-dirty` when tracked files changed), or `unknown` outside git."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


def lineage_metadata(config: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Config hash, the config itself, input data versions and the code commit, as UI-readable metadata."""
    return {
        "code_commit": code_commit(),
        "config_hash": spec_hash(config),
        "config": MetadataValue.json(config if isinstance(config, (dict, list)) else {"value": str(config)}),
        "input_data_versions": MetadataValue.json(inputs),
    }


def preview(frame: pl.DataFrame, rows: int = 5, width: int = 160) -> MetadataValue:
    """A few rows as a markdown table, long strings cut, for the UI."""
    if frame.height == 0:
        return MetadataValue.md("_empty_")
    head = frame.head(rows).with_columns(
        [
            pl.col(c).cast(pl.String).str.slice(0, width).str.replace_all("\n", " ⏎ ").str.replace_all(r"\|", "/")
            for c in frame.columns
        ]
    )
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in head.iter_rows()]
    return MetadataValue.md("\n".join(lines))
