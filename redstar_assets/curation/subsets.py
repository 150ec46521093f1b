"""Subset recipes: which verified traces a student is trained on, and in what target format. A
subset's content hash covers its sorted trace ids, the recipe and the target format, so two subsets
with the same hash trained the same way."""

from __future__ import annotations

import hashlib
import json

import polars as pl

from redstar_assets.config.sections import SubsetRecipe
from redstar_training.verify import extract_answer
from redstar_training.verify.extract import extract_code


class SubsetTooSmall(ValueError):
    """The recipe asks for more traces than the pool holds."""


def _eligible(verified: pl.DataFrame, recipe: SubsetRecipe) -> pl.DataFrame:
    pool = verified.filter(pl.col("status") == "correct") if recipe.verified_only else verified
    pool = pool.filter(~pl.col("finish_reason").is_in(["error", "skipped"]))
    if recipe.quality_only and "quality_ok" in pool.columns:
        pool = pool.filter(pl.col("quality_ok"))
    return (
        pool.sort(["problem_id", "sample_index"])
        .group_by("problem_id", maintain_order=True)
        .head(recipe.max_per_problem)
    )


def _tiebreak(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def _ranked(pool: pl.DataFrame, difficulty: pl.DataFrame, recipe: SubsetRecipe) -> pl.DataFrame:
    """The pool in the recipe's order of preference (seeded ties), with the pass rate (the scoring
    model's when there is one, else the teacher's) and the bucket joined."""
    rate = pl.col("scorer_pass_rate") if "scorer_pass_rate" in difficulty.columns else pl.col("teacher_pass_rate")
    ranked = pool.join(
        difficulty.select("problem_id", rate.alias("_rate"), *[c for c in ("bucket",) if c in difficulty.columns]),
        on="problem_id",
        how="left",
    ).with_columns(
        pl.col("trace_id").map_elements(lambda t: _tiebreak(recipe.seed, t), return_dtype=pl.String).alias("_tie")
    )
    if recipe.strategy == "band":
        assert recipe.band is not None, "checked by the profile: strategy band needs band: [low, high]"
        low, high = recipe.band
        ranked = ranked.filter(pl.col("_rate").is_between(low, high))
    if recipe.strategy == "hard_first":
        return ranked.sort(["_rate", "_tie"], nulls_last=True)  # unverified traces (no rate) last
    if recipe.strategy == "stratified":  # round-robin over buckets: equal shares while each lasts
        ranked = ranked.sort("_tie").with_columns(pl.int_range(pl.len()).over("bucket").alias("_turn"))
        return ranked.sort(["_turn", "bucket"])
    return ranked.sort("_tie")  # random and band: a seeded shuffle


def _take(ranked: pl.DataFrame, n: int, recipe: SubsetRecipe, what: str) -> pl.DataFrame:
    if ranked.height < n and not recipe.cap:
        raise SubsetTooSmall(
            f"subset recipe {recipe.name!r} asks for {n} {what}traces but only {ranked.height} are eligible "
            f"(strategy={recipe.strategy}, verified_only={recipe.verified_only}, quality_only={recipe.quality_only}, "
            f"max_per_problem={recipe.max_per_problem}); lower its scale, add problems, or set cap: true"
        )
    return ranked.head(n)


def select_traces(verified: pl.DataFrame, difficulty: pl.DataFrame, recipe: SubsetRecipe) -> pl.DataFrame:
    """The recipe's traces: `scale` of them (fewer only with `cap: true`), split across domains by
    `mix`, each domain's share taken in the strategy's order."""
    ranked = _ranked(_eligible(verified, recipe), difficulty, recipe)
    if recipe.mix:
        shares = _shares(recipe.scale, recipe.mix)
        parts = [_take(ranked.filter(pl.col("domain") == d), n, recipe, f"{d} ") for d, n in shares.items() if n]
        picked = pl.concat(parts) if parts else ranked.head(0)
    else:
        picked = _take(ranked, recipe.scale, recipe, "")
    return picked.drop([c for c in ("_tie", "_turn", "_rate", "bucket") if c in picked.columns]).sort("trace_id")


def _shares(scale: int, mix: dict[str, float]) -> dict[str, int]:
    """Integer counts per domain summing to `scale` (largest remainders)."""
    raw = {d: scale * f for d, f in sorted(mix.items())}
    counts = {d: int(v) for d, v in raw.items()}
    for d in sorted(raw, key=lambda d: raw[d] - counts[d], reverse=True)[: scale - sum(counts.values())]:
        counts[d] += 1
    return counts


def answer_only(domain: pl.Expr, extracted: pl.Expr) -> pl.Expr:
    """The answer-only assistant turn: a math answer boxed, a code answer as its fenced program (the
    program-only baseline)."""
    boxed = pl.lit("\\boxed{") + extracted.fill_null("") + pl.lit("}")
    fenced = pl.lit("```python\n") + extracted.fill_null("") + pl.lit("\n```")
    return pl.when(domain == "code").then(fenced).otherwise(boxed)


def target_text(trace_text: str, target_format: str, domain: str = "math") -> str:
    """The assistant turn of one trace: the whole trace for long_cot, else `answer_only` of what the
    verifier extracts from it."""
    if target_format == "long_cot":
        return trace_text
    extracted = extract_code(trace_text) if domain == "code" else extract_answer(trace_text)
    return str(pl.select(answer_only(pl.lit(domain), pl.lit(extracted, dtype=pl.String))).item())


def subset_hash(trace_ids: list[str], recipe: SubsetRecipe) -> str:
    """Over the sorted ids and the recipe (a recipe that names no `sources` hashes as before they existed)."""
    fields = {k: v for k, v in recipe.model_dump().items() if not (k == "sources" and v is None)}
    payload = json.dumps({"ids": sorted(trace_ids), "recipe": fields}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
