"""Metadata every materialization carries: its config hash, the data versions it read, and the
git commit of the code that made it."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from redstar_training.files.run_config import config_hash


@functools.cache
def code_commit() -> str:
    """The checkout's commit (with `-dirty` when tracked files changed), or `unknown` outside git."""
    root = Path(__file__).resolve().parents[2]
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
        "config_hash": config_hash(config),
        "config": dg.MetadataValue.json(config if isinstance(config, (dict, list)) else {"value": str(config)}),
        "input_data_versions": dg.MetadataValue.json(inputs),
    }


def cell_text(value) -> str:
    """A table cell: floats to three places, None as n/a."""
    if value is None:
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def markdown_table(frame: pl.DataFrame) -> str:
    """The frame as a markdown table (the report's tables, the previews in the UI)."""
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell_text(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join(lines)


def preview(frame: pl.DataFrame, rows: int = 5, width: int = 160) -> dg.MetadataValue:
    """A few rows as a markdown table for the UI, long strings cut to `width` and kept on one line."""
    if frame.height == 0:
        return dg.MetadataValue.md("_empty_")
    text = [c for c, dtype in frame.schema.items() if dtype == pl.String]
    head = frame.head(rows).with_columns(
        pl.col(c).str.slice(0, width).str.replace_all("\n", " ⏎ ").str.replace_all(r"\|", "/") for c in text
    )
    return dg.MetadataValue.md(markdown_table(head))
