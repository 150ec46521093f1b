"""Quality flags on teacher traces, beside the verdict: a correct answer can still sit in a trace that is
truncated, has no thinking block, loops, switches language, or is absurdly short or long, and a student
learns those habits. Thresholds come from the profile's `quality:` block. The flags are Polars
expressions, so a million traces are flagged batch by batch without Python loops over the text;
repetition is the zlib compression ratio (a loop compresses far better than prose or LaTeX)."""

from __future__ import annotations

import zlib

import polars as pl

from redstar_assets.config.sections import QualitySpec

QUALITY_VERSION = "quality-v1"  # bumped when a flag's definition changes
FLAGS = ("truncated", "no_think", "repetitive", "language_mixed", "too_short", "too_long")
_CJK = r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]"


def compression_ratio(text: str) -> float:
    data = text.encode()
    return len(zlib.compress(data, 1)) / len(data) if len(data) >= 200 else 1.0  # too short to judge


def _ratios(texts: pl.Series) -> pl.Series:
    """zlib releases the GIL while it compresses: two threads use both cores on a batch."""
    from concurrent.futures import ThreadPoolExecutor

    values = [t or "" for t in texts]
    if len(values) < 1000:
        return pl.Series([compression_ratio(t) for t in values], dtype=pl.Float64)
    half = len(values) // 2
    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(lambda part: [compression_ratio(t) for t in part], (values[:half], values[half:]))
    return pl.Series(first + second, dtype=pl.Float64)


def flag_expressions(spec: QualitySpec) -> dict[str, pl.Expr]:
    """One boolean expression per flag over columns text, problem, finish_reason, status."""
    text = pl.col("text").fill_null("")
    foreign = text.str.count_matches(_CJK)
    # letters are counted only where a CJK character was seen (rare), as counting them in every trace is
    # the costliest flag by far; elsewhere language_mixed is false anyway
    letters = pl.when(foreign > 0).then(text).otherwise(pl.lit("")).str.count_matches(r"\p{L}")
    think = (text.str.contains("<think>", literal=True) & text.str.contains("</think>", literal=True)) | (
        text.str.contains("<|begin_of_thought|>", literal=True) & text.str.contains("<|end_of_thought|>", literal=True)
    )
    return {
        "truncated": (pl.col("finish_reason") == "length") | (pl.col("status") == "no_answer"),
        "no_think": ~think,
        "repetitive": text.map_batches(_ratios, return_dtype=pl.Float64) < spec.min_compression_ratio,
        "language_mixed": ~pl.col("problem").fill_null("").str.contains(_CJK)
        & (foreign > spec.max_foreign_script * pl.max_horizontal(letters, 1)),
        "too_short": text.str.len_chars() < spec.min_chars,
        "too_long": text.str.len_chars() > spec.max_chars,
    }


def with_quality_flags(frame: pl.DataFrame, spec: QualitySpec) -> pl.DataFrame:
    """Adds `quality_flags` (list of flag names) and `quality_ok` (no flag, and not a teacher error)."""
    exprs = flag_expressions(spec)
    flags = pl.concat_list([pl.when(e).then(pl.lit(name)).otherwise(pl.lit(None)) for name, e in exprs.items()])
    return frame.with_columns(flags.list.drop_nulls().alias("quality_flags")).with_columns(
        ((pl.col("quality_flags").list.len() == 0) & (pl.col("status") != "error")).alias("quality_ok")
    )


def quality_flags(text: str, problem: str, finish_reason: str, status: str, spec: QualitySpec) -> list[str]:
    """The flags of one trace (the same expressions, on a one-row frame)."""
    row = pl.DataFrame({"text": [text], "problem": [problem], "finish_reason": [finish_reason], "status": [status]})
    return with_quality_flags(row, spec)["quality_flags"][0].to_list()
