"""RL problems chosen by the student, as open-r1's pass-rate filter and DAPO's dynamic sampling do:
candidates from outside its SFT subset first, each sampled k times by the SFT checkpoint through the
evaluation entry point, cut to those it solves sometimes but not always (the only groups whose
rewards differ). The same samples give on-policy DPO pairs: the student's own correct and wrong answer."""

from __future__ import annotations

import polars as pl

from redstar_assets.config.errors import ProfileError
from redstar_assets.training.pairs import PAIR_SCHEMA

# The verified traces' columns a candidate carries to the evaluation entry point and the reward.
JUDGING_COLUMNS = ("answer_format", "tolerance", "verify_mode")
RATE_SCHEMA = {"problem_id": pl.String, "samples": pl.Int64, "correct": pl.Int64, "pass_rate": pl.Float64}


class TooFewProblems(ProfileError):
    """The student's pass-rate cut left fewer problems than the recipe asks for."""


def candidate_problems(verified: pl.LazyFrame, subset_ids: pl.Series, count: int) -> pl.DataFrame:
    """Up to `count` distinct problems with a reference answer, those outside the SFT subset first,
    then by problem id; `in_sft_subset` marks the ones the pool could only fill from the subset."""
    names = verified.collect_schema().names()
    judging = [c for c in JUDGING_COLUMNS if c in names]
    return (
        verified.select("problem_id", "problem", "answer", *judging)
        .filter(pl.col("answer").is_not_null())
        .unique(subset="problem_id", keep="first")
        .with_columns(pl.col("problem_id").is_in(subset_ids.implode()).alias("in_sft_subset"))
        .sort("in_sft_subset", "problem_id")
        .head(count)
        .collect()
    )


def pass_rates(outputs: pl.DataFrame) -> pl.DataFrame:
    """Per problem, of its sampled outputs (the greedy pass left out): how many, how many correct, and
    the pass rate."""
    sampled = outputs.filter(pl.col("run") != "greedy")
    if sampled.height == 0:
        return pl.DataFrame(schema=RATE_SCHEMA)
    return (
        sampled.group_by("problem_id")
        .agg(
            pl.len().cast(pl.Int64).alias("samples"),
            (pl.col("status") == "correct").sum().cast(pl.Int64).alias("correct"),
        )
        .with_columns((pl.col("correct") / pl.col("samples")).alias("pass_rate"))
        .sort("problem_id")
    )


def cut_by_pass_rate(candidates: pl.DataFrame, rates: pl.DataFrame, wanted: int, arm: str) -> pl.DataFrame:
    """The candidates the student solves sometimes but not always (0 < pass rate < 1), with their
    rates, outside the SFT subset first, at most `wanted`; fewer than `wanted` fails, with the counts."""
    rated = candidates.join(rates, on="problem_id", how="inner")
    kept = rated.filter((pl.col("pass_rate") > 0) & (pl.col("pass_rate") < 1)).sort("in_sft_subset", "problem_id")
    if kept.height < wanted:
        never = rated.filter(pl.col("pass_rate") == 0).height
        always = rated.filter(pl.col("pass_rate") == 1).height
        raise TooFewProblems(
            f"experiment {arm!r}: the student's pass-rate cut kept {kept.height} of {rated.height} candidate problems "
            f"({never} never solved, {always} always solved), but the recipe asks for {wanted}; lower max_problems "
            "(or max_pairs), raise candidates, or add problems"
        )
    return kept.head(wanted)


def on_policy_pairs(outputs: pl.DataFrame, kept: pl.DataFrame) -> pl.DataFrame:
    """One DPO pair per kept problem from the student's own samples: its first correct and its first
    incorrect (wrong, or no final answer) sampled output, by sample seed, in PAIR_SCHEMA's columns."""
    sampled = (
        outputs.filter((pl.col("run") != "greedy") & (pl.col("status") != "error"))
        .filter(pl.col("problem_id").is_in(kept["problem_id"].implode()))
        .with_columns((pl.col("status") == "correct").alias("correct"))
        .sort("problem_id", "seed")
    )
    first = sampled.group_by("problem_id", "correct", maintain_order=True).first()
    side = {
        correct: first.filter(pl.col("correct") == correct).select(
            "problem_id",
            pl.col("output").alias(role),
            (pl.col("problem_id") + ":" + pl.col("run")).alias(f"{role}_id"),
        )
        for correct, role in ((True, "chosen"), (False, "rejected"))
    }
    prompts = kept.select("problem_id", pl.col("problem").alias("prompt"))
    pairs = prompts.join(side[True], on="problem_id").join(side[False], on="problem_id")
    return pairs.select(list(PAIR_SCHEMA)).sort("problem_id")
