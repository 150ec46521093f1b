"""Decontamination against every registered benchmark: a training problem that shares a word
n-gram (default 13, as in GPT-3's and open-r1's decontamination) with a benchmark item, or, when it
is short (under two n-grams of words), reaches a fuzzy ratio with one (default 80), is removed and
named with the item it matched.

The fuzzy default was measured on the shared benchmark files: with one word replaced, 350 of 352
short MATH-500/AIME/AMC/OlympiadBench problems still score >= 80 against their original, while
short GSM8K problems score at most 59 against all of them."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import polars as pl

from redstar_assets.curation.dedupe import canonical

_WORD = re.compile(r"\w+")
_NUMBERS = re.compile(r"\d+")


@dataclass(frozen=True)
class Match:
    benchmark: str
    item_id: str
    how: str  # "4 shared 13-grams" or "fuzzy 93"


class ContaminationIndex:
    """Built once from the benchmarks' problems; `match(text)` is a few dict look-ups per problem."""

    def __init__(self, benchmarks: pl.DataFrame, ngram: int = 13, fuzzy_ratio: float = 80.0):
        self.ngram, self.fuzzy_ratio = ngram, fuzzy_ratio
        self.grams: dict[int, list[int]] = {}
        self.texts: list[str] = []
        self.items: list[tuple[str, str]] = []
        for n, (bench, item, problem) in enumerate(benchmarks.select("benchmark", "item_id", "problem").iter_rows()):
            words = _WORD.findall(canonical(problem))
            for g in set(self._grams(words)):
                self.grams.setdefault(g, []).append(n)
            self.texts.append(" ".join(words))
            self.items.append((bench, item))

    def _grams(self, words: list[str]) -> list[int]:
        n = self.ngram
        return [hash(" ".join(words[i : i + n])) for i in range(len(words) - n + 1)]

    def match(self, problem: str) -> Match | None:
        words = _WORD.findall(canonical(problem))
        shared: Counter = Counter()
        for g in set(self._grams(words)):
            shared.update(self.grams.get(g, ()))
        if shared:  # the item sharing the most n-grams (multi-part problems share a preamble)
            n, count = shared.most_common(1)[0]
            bench, item = self.items[n]
            return Match(bench, item, f"{count} shared {self.ngram}-grams")
        if len(words) < self.ngram * 2 and self.texts:
            from rapidfuzz import fuzz, process

            text = " ".join(words)
            for _, score, i in process.extract(
                text, self.texts, scorer=fuzz.ratio, score_cutoff=self.fuzzy_ratio, limit=5
            ):
                # Short problems that differ only in their numbers ("Compute 12 + 30." vs "Compute 15 + 31.")
                # are different problems: below 95, the numbers must agree too.
                if score >= 95 or _NUMBERS.findall(text) == _NUMBERS.findall(self.texts[i]):
                    bench, item = self.items[i]
                    return Match(bench, item, f"fuzzy {score:.0f}")
        return None


def decontaminate(problems: pl.DataFrame, index: ContaminationIndex) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(clean problems, removed problems with the benchmark item each matched and how)."""
    removed = []
    for pid, text in problems.select("problem_id", "problem").iter_rows():
        m = index.match(text)
        if m:
            removed.append({"problem_id": pid, "benchmark": m.benchmark, "item_id": m.item_id, "how": m.how})
    schema = {"problem_id": pl.String, "benchmark": pl.String, "item_id": pl.String, "how": pl.String}
    removed_frame = pl.DataFrame(removed, schema=schema)
    clean = problems.filter(~pl.col("problem_id").is_in(removed_frame["problem_id"].implode()))
    return clean, removed_frame.join(problems.select("problem_id", "problem"), on="problem_id", how="left")
