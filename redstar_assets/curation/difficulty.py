"""Difficulty per problem (the profile's `difficulty:` block): the teacher's verified pass rate (or a
scoring model's, with `scorer:`), a TF-IDF + ridge estimate of the level (`learned:`, learned_difficulty.py)
and the mean trace length. The pass rate sets the bucket (>= `easy` easy, >= `medium` medium, else hard; never
solved is hard); `unverified` traces (imported, no reference) are left out, so a problem with only those
has no rate and the bucket `unverified`. Band recipes (keep 0.1-0.6, as open-r1 does) filter on the same rate."""

from __future__ import annotations

import polars as pl

from redstar_assets.config.sections import DifficultySpec


def score_difficulty(
    verified: pl.DataFrame, spec: DifficultySpec | None = None, scorer: pl.DataFrame | None = None
) -> pl.DataFrame:
    spec = spec or DifficultySpec()
    easy, medium = float(spec.easy), float(spec.medium)
    frame = (
        verified.group_by("problem_id", maintain_order=True)
        .agg(
            (pl.col("status") != "unverified").sum().alias("samples"),
            (pl.col("status") == "correct").sum().alias("correct"),
            (pl.col("chars") if "chars" in verified.columns else pl.col("text").str.len_chars())
            .mean()
            .alias("mean_trace_chars"),
            pl.col("completion_tokens").mean().alias("mean_trace_tokens"),
            pl.col("level").first(),
        )
        .with_columns(
            pl.when(pl.col("samples") > 0).then(pl.col("correct") / pl.col("samples")).alias("teacher_pass_rate")
        )
    )
    if scorer is not None:
        rates = scorer.group_by("problem_id").agg((pl.col("status") == "correct").mean().alias("scorer_pass_rate"))
        frame = frame.join(rates, on="problem_id", how="left")
    rate = pl.col("scorer_pass_rate") if scorer is not None else pl.col("teacher_pass_rate")
    return frame.with_columns(
        pl.when(rate.is_null())
        .then(pl.lit("unverified"))
        .when(rate >= easy)
        .then(pl.lit("easy"))
        .when(rate >= medium)
        .then(pl.lit("medium"))
        .otherwise(pl.lit("hard"))
        .alias("bucket")
    )


def with_learned_difficulty(scores: pl.DataFrame, problems: pl.DataFrame, model) -> pl.DataFrame:
    """Adds the estimator's predicted level for each problem."""
    texts = problems.select("problem_id", "problem")
    predicted = model.predict(texts["problem"].to_list()) if texts.height else []
    learned = texts.with_columns(pl.Series("learned_difficulty", [round(float(v), 3) for v in predicted]))
    return scores.join(learned.select("problem_id", "learned_difficulty"), on="problem_id", how="left")
