"""Problem normalization and the one definition of "the same problem": same domain, same `canonical` text
(case, Unicode forms, LaTeX spacing and whitespace ignored) and same figure. Exact dedupe keeps the first
of them, and near-duplicate detection and decontamination compare canonical texts too. A problem's id
hashes its stored text (`normalize_text`: only Unicode composition and whitespace normalized), so the
problem a user reads back is the one the id names."""

from __future__ import annotations

import hashlib
import re
import unicodedata

import polars as pl

_SPACE = re.compile(r"\s+")
_LATEX_SPACING = re.compile(r"\\[,;:!> ]|\\q?quad\b|\\left\b|\\right\b|\\displaystyle\b|\$")


def normalize_text(text: str) -> str:
    """NFC, collapsed whitespace, trimmed: the stored form of a problem's text, which its id hashes."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def canonical(text: str) -> str:
    """Lower case, NFKC, no LaTeX spacing or `$`, `\\dfrac`/`\\tfrac` as `\\frac`, one space between words."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = t.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    t = _LATEX_SPACING.sub(" ", t)
    return _SPACE.sub(" ", t).strip()


def same_problem_key(domain: str, text: str, image: bytes | None = None) -> str:
    """Equal for two problems that are the same problem (see the module docstring)."""
    figure = hashlib.sha256(image).hexdigest() if image else ""
    return hashlib.sha256(f"{domain}\n{canonical(text)}\n{figure}".encode()).hexdigest()


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
    parts = ["domain", "problem", "image"]
    same = pl.struct(parts).map_elements(
        lambda r: same_problem_key(r["domain"], r["problem"], r["image"]), return_dtype=pl.String
    )
    deduped = frame.filter(same.is_first_distinct())
    cols = ["problem_id", "source", "source_row", "domain", "problem", "answer", "level", "subject", "tests", "image"]
    return deduped.select(cols), frame.height - deduped.height
