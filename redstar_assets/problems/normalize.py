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


def problem_id(domain: str, text: str, image: bytes | None = None) -> str:
    """Content hash over domain, normalized text and the image's bytes when there is one (the same
    question over two figures is two problems); stable across sources and runs."""
    key = f"{domain}\n{normalize_text(text)}"
    if image:
        key += "\n" + hashlib.sha256(image).hexdigest()
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def with_problem_ids(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with its `problem_id` column (from domain, problem and image, when it has one)."""
    parts = ["domain", "problem", *(["image"] if "image" in frame.columns else [])]
    return frame.with_columns(
        pl.struct(parts)
        .map_elements(lambda r: problem_id(r["domain"], r["problem"], r.get("image")), return_dtype=pl.String)
        .alias("problem_id")
    )


def normalize_problems(raw: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Returns normalized problems with ids, first occurrence kept, and the number of duplicates removed."""
    frame = with_problem_ids(
        raw.with_columns(
            pl.col("problem").map_elements(normalize_text, return_dtype=pl.String),
            pl.col("answer").str.strip_chars(),
            *([] if "tests" in raw.columns else [pl.lit(None, dtype=pl.String).alias("tests")]),
            *([] if "image" in raw.columns else [pl.lit(None, dtype=pl.Binary).alias("image")]),
        )
    )
    deduped = frame.unique(subset="problem_id", keep="first", maintain_order=True)
    cols = ["problem_id", "source", "source_row", "domain", "problem", "answer", "level", "subject", "tests", "image"]
    return deduped.select(cols), frame.height - deduped.height
