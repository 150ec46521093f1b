"""Preference pairs for DPO: a verified-correct and a wrong trace of the same problem."""

from __future__ import annotations

import polars as pl


def preference_pairs(
    verified: pl.DataFrame, max_pairs: int | None = None, exclude: set[str] | None = None
) -> pl.DataFrame:
    """One pair per problem that has both verdicts: its first correct and first wrong sample."""
    usable = verified.filter(pl.col("status").is_in(["correct", "wrong"]))
    if exclude:
        usable = usable.filter(~pl.col("problem_id").is_in(sorted(exclude)))
    first = usable.sort("sample_index").group_by(["problem_id", "status"], maintain_order=True).first()
    chosen = first.filter(pl.col("status") == "correct").select(
        "problem_id", "problem", pl.col("text").alias("chosen"), pl.col("trace_id").alias("chosen_id")
    )
    rejected = first.filter(pl.col("status") == "wrong").select(
        "problem_id", pl.col("text").alias("rejected"), pl.col("trace_id").alias("rejected_id")
    )
    pairs = chosen.join(rejected, on="problem_id").sort("problem_id").rename({"problem": "prompt"})
    return pairs.head(max_pairs) if max_pairs else pairs
