"""Problem normalization: canonical text, a content-hash id, exact dedupe (keep first)."""

from __future__ import annotations

import hashlib
import re
import unicodedata

import polars as pl

_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFC, collapsed whitespace, trimmed: two problems equal after this are the same problem."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def problem_id(domain: str, text: str) -> str:
    """Content hash over domain and normalized text; stable across sources and runs."""
    return hashlib.sha256(f"{domain}\n{normalize_text(text)}".encode()).hexdigest()[:16]


def normalize_problems(raw: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Returns normalized problems with ids, first occurrence kept, and the number of duplicates removed."""
    frame = raw.with_columns(
        pl.col("problem").map_elements(normalize_text, return_dtype=pl.String),
        pl.col("answer").str.strip_chars(),
        *([] if "tests" in raw.columns else [pl.lit(None, dtype=pl.String).alias("tests")]),
    ).with_columns(
        pl.struct("domain", "problem")
        .map_elements(lambda r: problem_id(r["domain"], r["problem"]), return_dtype=pl.String)
        .alias("problem_id")
    )
    deduped = frame.unique(subset="problem_id", keep="first", maintain_order=True)
    cols = ["problem_id", "source", "source_row", "domain", "problem", "answer", "level", "subject", "tests"]
    return deduped.select(cols), frame.height - deduped.height
