"""Difficulty from the teacher's own behaviour: pass rate over its N samples and trace length.

Buckets (documented in the profile's `difficulty` block): pass rate >= `easy` is easy, >= `medium`
is medium, below that hard. A problem the teacher never solved is hard and has no usable trace.
"""

from __future__ import annotations

from typing import Any

import polars as pl


def difficulty_scores(verified: pl.DataFrame, spec: dict[str, Any]) -> pl.DataFrame:
    easy, medium = float(spec.get("easy", 0.75)), float(spec.get("medium", 0.4))
    return (
        verified.group_by("problem_id", maintain_order=True)
        .agg(
            pl.len().alias("samples"),
            (pl.col("status") == "correct").sum().alias("correct"),
            pl.col("text").str.len_chars().mean().alias("mean_trace_chars"),
            pl.col("completion_tokens").mean().alias("mean_trace_tokens"),
            pl.col("level").first(),
        )
        .with_columns((pl.col("correct") / pl.col("samples")).alias("teacher_pass_rate"))
        .with_columns(
            pl.when(pl.col("teacher_pass_rate") >= easy)
            .then(pl.lit("easy"))
            .when(pl.col("teacher_pass_rate") >= medium)
            .then(pl.lit("medium"))
            .otherwise(pl.lit("hard"))
            .alias("bucket")
        )
    )
