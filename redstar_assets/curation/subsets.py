"""Subset recipes: which verified traces a student is trained on, and in what target format.

A subset is its sorted trace ids plus the chat `messages` built from them. Its content hash covers
the ids, the recipe and the target format, so two subsets with the same hash trained the same way.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict

import polars as pl

from redstar_assets.profile import SubsetRecipe
from redstar_training.verify import extract_answer


class SubsetTooSmall(ValueError):
    """The recipe asks for more traces than the pool holds."""


def _eligible(verified: pl.DataFrame, recipe: SubsetRecipe) -> pl.DataFrame:
    pool = verified.filter(pl.col("status") == "correct") if recipe.verified_only else verified
    pool = pool.filter(pl.col("finish_reason") != "error")
    return (
        pool.sort(["problem_id", "sample_index"])
        .group_by("problem_id", maintain_order=True)
        .head(recipe.max_per_problem)
    )


def _tiebreak(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def select_traces(verified: pl.DataFrame, difficulty: pl.DataFrame, recipe: SubsetRecipe) -> pl.DataFrame:
    """The recipe's traces: a seeded random draw, or hardest problems first (lowest teacher pass rate)."""
    pool = _eligible(verified, recipe)
    if pool.height < recipe.scale:
        raise SubsetTooSmall(
            f"subset recipe {recipe.name!r} asks for {recipe.scale} traces but only {pool.height} are eligible "
            f"(verified_only={recipe.verified_only}, max_per_problem={recipe.max_per_problem}); "
            "lower its scale or add problems"
        )
    if recipe.strategy == "random":
        ids = sorted(pool["trace_id"].to_list())
        chosen = random.Random(recipe.seed).sample(ids, recipe.scale)
        picked = pool.filter(pl.col("trace_id").is_in(chosen))
    else:
        ranked = pool.join(difficulty.select("problem_id", "teacher_pass_rate"), on="problem_id", how="left")
        ranked = ranked.with_columns(
            pl.col("trace_id").map_elements(lambda t: _tiebreak(recipe.seed, t), return_dtype=pl.String).alias("_tie")
        )
        picked = ranked.sort(["teacher_pass_rate", "_tie"]).head(recipe.scale).drop("_tie", "teacher_pass_rate")
    return picked.sort("trace_id")


def target_text(trace_text: str, target_format: str) -> str:
    """The assistant turn: the whole trace for long_cot, only the boxed answer for answer_only."""
    if target_format == "long_cot":
        return trace_text
    return "\\boxed{" + (extract_answer(trace_text) or "") + "}"


def subset_messages(picked: pl.DataFrame, recipe: SubsetRecipe) -> pl.DataFrame:
    rows = [
        {
            "trace_id": r["trace_id"],
            "problem_id": r["problem_id"],
            "messages": [
                {"role": "user", "content": r["problem"]},
                {"role": "assistant", "content": target_text(r["text"], recipe.target_format)},
            ],
        }
        for r in picked.iter_rows(named=True)
    ]
    return pl.DataFrame(rows)


def subset_hash(trace_ids: list[str], recipe: SubsetRecipe) -> str:
    payload = json.dumps({"ids": sorted(trace_ids), "recipe": asdict(recipe)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
