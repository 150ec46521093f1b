"""Held-out benchmark sets, read through the registry and kept disjoint from every training problem
by content hash (the problem id of its domain, the same id training files carry)."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import polars as pl

from redstar_assets.config.benchmark_registry import benchmarks_dir
from redstar_assets.config.evaluation_suite import EvalBenchmark
from redstar_assets.problems.benchmark_files import read_benchmark
from redstar_training.files.run_config import config_hash


@dataclass(frozen=True)
class HeldOut:
    items: pl.DataFrame  # the registry's columns, one row per distinct problem
    overlap_removed: int  # items that a training source also holds
    duplicates_removed: int
    left_out: list[dict]  # unusable rows: file, row, reason


def build_benchmark(spec: EvalBenchmark, training_ids: set[str]) -> HeldOut:
    """The benchmark's usable items, first occurrence of each problem kept, minus any problem a
    training source also holds."""
    read = read_benchmark(spec.name, count=spec.count, registry={spec.name: spec.entry})
    items = read.items.with_row_index("_row")
    distinct = items.unique(subset="problem_id", keep="first", maintain_order=True)
    repeated = items.filter(~pl.col("_row").is_in(distinct["_row"].implode()))
    overlapping = distinct.filter(pl.col("problem_id").is_in(sorted(training_ids)))
    kept = distinct.filter(~pl.col("problem_id").is_in(sorted(training_ids))).drop("_row")
    left_out = [
        *read.left_out,
        *_left_out(spec.name, repeated, "the same problem as an earlier item"),
        *_left_out(spec.name, overlapping, "a training problem too (held out from training by content hash)"),
    ]
    return HeldOut(kept, overlapping.height, repeated.height, left_out)


def _left_out(name: str, rows: pl.DataFrame, reason: str) -> list[dict]:
    """Items a held-out set leaves out, each named by its benchmark item id, with why."""
    return [{"file": name, "row": item, "reason": f"item {item}: {reason}"} for item in rows["item_id"]]


def benchmark_fingerprint(spec: EvalBenchmark) -> str:
    """What a benchmark's items and scoring depend on without building it: its registry entry and the
    profile's overrides, and its file's bytes when it reads a local file (a generator is fixed by its
    spec, a hub dataset by its id)."""
    entry = {k: v for k, v in dataclasses.asdict(spec.entry).items() if k != "protocol"}  # text, not scoring
    digest = hashlib.sha256(config_hash([entry, spec.overrides]).encode())
    path = benchmarks_dir() / spec.entry.path if spec.entry.path and not spec.entry.generator else None
    if path is not None and path.is_file():
        with path.open("rb") as fh:
            digest.update(hashlib.file_digest(fh, "sha256").digest())
    return digest.hexdigest()[:16]
