"""Quality flags on teacher traces, beside the verdict: a correct answer can still sit in a trace
that is truncated, has no thinking block, loops, switches language, or is absurdly short or long,
and a student learns those habits. Thresholds come from the profile's `quality:` block."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_WORD = re.compile(r"\w+|[^\w\s]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_LETTER = re.compile(r"[^\W\d_]")
FLAGS = ("truncated", "no_think", "repetitive", "language_mixed", "too_short", "too_long")


@dataclass(frozen=True)
class QualitySpec:
    min_chars: int = 20
    max_chars: int = 200_000
    repetition_ngram: int = 8
    max_repetition: float = 0.5  # share of word n-grams that repeat an earlier one
    max_foreign_script: float = 0.05  # share of letters in CJK scripts when the problem has none

    @classmethod
    def from_profile(cls, spec: dict[str, Any] | None) -> QualitySpec:
        try:
            return cls(**(spec or {}))
        except TypeError as exc:
            raise ValueError(f"quality: {exc}") from None


def repetition_ratio(text: str, n: int = 8) -> float:
    """Share of word n-grams that already occurred earlier in the text (0 = no loop, ->1 = a loop)."""
    words = _WORD.findall(text)
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def foreign_script_ratio(text: str, problem: str) -> float:
    """Share of letters in CJK scripts, when the problem itself has none (QwQ's known language switching)."""
    if _CJK.search(problem):
        return 0.0
    letters = len(_LETTER.findall(text))
    return len(_CJK.findall(text)) / letters if letters else 0.0


def has_think_block(text: str) -> bool:
    return ("<think>" in text and "</think>" in text) or (
        "<|begin_of_thought|>" in text and "<|end_of_thought|>" in text
    )


def quality_flags(text: str, problem: str, finish_reason: str, status: str, spec: QualitySpec) -> list[str]:
    flags = []
    if finish_reason == "length" or status == "no_answer":
        flags.append("truncated")
    if not has_think_block(text):
        flags.append("no_think")
    if repetition_ratio(text, spec.repetition_ngram) > spec.max_repetition:
        flags.append("repetitive")
    if foreign_script_ratio(text, problem) > spec.max_foreign_script:
        flags.append("language_mixed")
    if len(text) < spec.min_chars:
        flags.append("too_short")
    if len(text) > spec.max_chars:
        flags.append("too_long")
    return flags
