"""The `teacher_traces` of a `traces` source: the dataset's own traces (already in `<think>` form, see
problems/trace_import.py) passed through, no teacher called. Each is joined to its problem as curated, so
a problem removed as a duplicate or as contaminated takes its traces with it, and is keyed by its problem
and its text: importing the same data again adds nothing, and a new revision adds only the new texts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator

import polars as pl

from redstar_assets.config.sources import TraceSource
from redstar_assets.problems.normalize import with_problem_ids
from redstar_assets.traces.teacher import TRACE_COLUMNS, TRACE_DTYPES

IMPORT_VERSION = "import-v1"


def _first_sighting(seen: set[str], key: str) -> bool:
    """True the first time `key` is seen (and remembers it)."""
    if key in seen:
        return False
    seen.add(key)
    return True


def imported_trace_batches(
    batches: Iterable[pl.DataFrame], problems: pl.DataFrame, spec: TraceSource
) -> Iterator[pl.DataFrame]:
    """TRACE_COLUMNS plus `original_text` (the dataset's own text, for audit), one row per distinct
    trace of a kept problem, a batch of raw rows at a time; `sample_index` is the dataset's own when
    mapped, else the order within the problem. A trace whose reasoning never closed reads as cut off
    (`finish_reason` length)."""
    info = problems.select("problem_id", "source", "domain", "problem", "answer", "tests", "level")
    seen: set[str] = set()
    next_sample: dict[str, int] = {}
    for raw in batches:
        keyed = with_problem_ids(raw)
        joined = keyed.select("problem_id", "trace", "trace_original", "trace_finished", "sample").join(
            info, on="problem_id", how="inner", maintain_order="left"
        )
        pairs = zip(joined["problem_id"], joined["trace"], strict=True)
        ids = [hashlib.sha256(f"{p}\n{t}".encode()).hexdigest()[:16] for p, t in pairs]
        fresh = [_first_sighting(seen, i) for i in ids]  # first sighting only, across batches
        kept = joined.with_columns(pl.Series("trace_id", ids, dtype=pl.String)).filter(pl.Series(fresh))
        order = []
        for pid in kept["problem_id"]:
            order.append(next_sample.get(pid, 0))
            next_sample[pid] = order[-1] + 1
        yield (
            kept.with_columns(
                pl.coalesce(pl.col("sample"), pl.Series(order, dtype=pl.Int64)).alias("sample_index"),
                pl.lit(spec.teacher_label()).alias("teacher"),
                pl.lit(IMPORT_VERSION).alias("prompt_version"),
                pl.lit(json.dumps({"imported": spec.origin()}, sort_keys=True)).alias("sampling"),
                pl.col("trace").alias("text"),
                pl.when(pl.col("trace_finished"))
                .then(pl.lit("stop"))
                .otherwise(pl.lit("length"))
                .alias("finish_reason"),
                pl.lit(None, dtype=pl.Int64).alias("prompt_tokens"),
                pl.lit(None, dtype=pl.Int64).alias("completion_tokens"),
                pl.lit(0.0).alias("latency_s"),
                pl.lit(None, dtype=pl.String).alias("error_kind"),
                pl.lit(None, dtype=pl.String).alias("error"),
            )
            .select(*TRACE_COLUMNS, pl.col("trace_original").alias("original_text"))
            .cast(TRACE_DTYPES)
        )
