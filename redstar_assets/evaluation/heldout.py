"""Held-out benchmark sets, kept disjoint from every training problem by content hash."""

from __future__ import annotations

from typing import Any

import polars as pl

from redstar_assets.problems.normalize import normalize_problems
from redstar_assets.problems.sources import load_source


def build_benchmark(spec: dict[str, Any], training_ids: set[str]) -> tuple[pl.DataFrame, int]:
    """The benchmark's problems minus any that a training source also holds; returns (problems, overlap)."""
    rows, _quarantine = load_source(spec)
    frame, _dupes = normalize_problems(rows)
    overlap = frame.filter(pl.col("problem_id").is_in(sorted(training_ids)))
    return frame.filter(~pl.col("problem_id").is_in(sorted(training_ids))), overlap.height
