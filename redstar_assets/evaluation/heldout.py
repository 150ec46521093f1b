"""Held-out benchmark sets, kept disjoint from every training problem by content hash."""

from __future__ import annotations

import glob
import hashlib
from typing import Any

import polars as pl

from redstar_assets.problems.normalize import normalize_problems
from redstar_assets.problems.sources import load_source
from redstar_assets.profile import spec_hash


def build_benchmark(spec: dict[str, Any], training_ids: set[str]) -> tuple[pl.DataFrame, int]:
    """The benchmark's problems minus any that a training source also holds; returns (problems, overlap)."""
    rows, _quarantine = load_source(spec)
    frame, _dupes = normalize_problems(rows)
    overlap = frame.filter(pl.col("problem_id").is_in(sorted(training_ids)))
    return frame.filter(~pl.col("problem_id").is_in(sorted(training_ids))), overlap.height


def benchmark_fingerprint(spec: dict[str, Any]) -> str:
    """What a benchmark's items depend on without building it: its spec, and its files' bytes when it
    reads local files (a generator is fixed by its spec, a hub dataset by its id and revision)."""
    digest = hashlib.sha256(spec_hash(spec).encode())
    if spec.get("kind") == "file":
        for path in sorted(glob.glob(str(spec.get("path", "")))):
            with open(path, "rb") as fh:
                digest.update(hashlib.file_digest(fh, "sha256").digest())
    return digest.hexdigest()[:16]
