"""Decontamination against every registered benchmark: a training problem that shares a word n-gram
(default 13, as in GPT-3's and open-r1's decontamination) with a benchmark item, or, when shorter than two
n-grams, reaches a fuzzy ratio with one (default 80), is removed and named with the item it matched. A
problem with a figure is also matched by its image: a perceptual hash (images.py) within `image_distance`
bits (default 3) of a benchmark figure's. The evidence for the defaults is in docs/results.md."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import polars as pl

from redstar_assets.problems.images import figure_hashes, hash_distance, perceptual_hash
from redstar_assets.problems.normalize import canonical


@dataclass(frozen=True)
class Match:
    """The benchmark item a training problem overlaps, and the evidence."""

    benchmark: str
    item_id: str
    how: str  # "4 shared 13-grams", "fuzzy 93" or "image 2 bits"


_WORD = re.compile(r"\w+")
_NUMBERS = re.compile(r"\d+")


class ContaminationIndex:
    """Built once from the benchmarks' problems; `match(text)` is a few dict look-ups per problem."""

    def __init__(self, benchmarks: pl.DataFrame, ngram: int = 13, fuzzy_ratio: float = 80.0, image_distance: int = 3):
        self.ngram, self.fuzzy_ratio, self.image_distance = ngram, fuzzy_ratio, image_distance
        self.grams: dict[int, list[int]] = {}
        self.texts: list[str] = []
        self.items: list[tuple[str, str]] = []
        self.figures: dict[tuple[int, int], list[tuple[int, int]]] = {}  # (band, bits) -> [(hash, item)]
        images = benchmarks["image"] if "image" in benchmarks.columns else [None] * benchmarks.height
        rows = benchmarks.select("benchmark", "item_id", "problem").iter_rows()
        for n, ((bench, item, problem), image) in enumerate(zip(rows, images, strict=True)):
            words = _WORD.findall(canonical(problem))
            for g in set(self._grams(words)):
                self.grams.setdefault(g, []).append(n)
            self.texts.append(" ".join(words))
            self.items.append((bench, item))
            if image is not None:
                code = perceptual_hash(image)
                for band in _bands(code):
                    self.figures.setdefault(band, []).append((code, n))

    def image_match(self, code: int) -> Match | None:
        """The benchmark figure nearest the perceptual hash `code` within `image_distance` bits. Two
        hashes that close agree exactly on at least one of their 16-bit quarters (pigeonhole, up to 3
        bits), so only figures sharing a quarter are compared; a larger distance compares every figure."""
        if self.image_distance > 3:
            candidates = {c for group in self.figures.values() for c in group}
        else:
            candidates = {c for band in _bands(code) for c in self.figures.get(band, ())}
        near = [(hash_distance(code, other), n) for other, n in candidates]
        near = [pair for pair in near if pair[0] <= self.image_distance]
        if not near:
            return None
        distance, n = min(near)
        bench, item = self.items[n]
        return Match(bench, item, f"image {distance} bits")

    def _grams(self, words: list[str]) -> list[int]:
        n = self.ngram
        return [hash(" ".join(words[i : i + n])) for i in range(len(words) - n + 1)]

    def match(self, problem: str, figure: int | None = None) -> Match | None:
        """The benchmark item `problem` (with its figure's perceptual hash, when it has one) overlaps, or None."""
        found = self._text_match(problem)
        if found is None and figure is not None and self.figures:
            return self.image_match(figure)
        return found

    def _text_match(self, problem: str) -> Match | None:
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


def decontaminate(
    problems: pl.DataFrame, index: ContaminationIndex, figures: list[int | None] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(clean problems, removed problems with the benchmark item each matched and how); `figures` are
    the problems' perceptual hashes when the caller has them, else they are computed here."""
    removed = []
    if figures is None:
        figures = figure_hashes(problems["image"]) if "image" in problems.columns else [None] * problems.height
    for (pid, text), figure in zip(problems.select("problem_id", "problem").iter_rows(), figures, strict=True):
        m = index.match(text, figure)
        if m:
            removed.append({"problem_id": pid, "benchmark": m.benchmark, "item_id": m.item_id, "how": m.how})
    schema = {"problem_id": pl.String, "benchmark": pl.String, "item_id": pl.String, "how": pl.String}
    removed_frame = pl.DataFrame(removed, schema=schema)
    clean = problems.filter(~pl.col("problem_id").is_in(removed_frame["problem_id"].implode()))
    return clean, removed_frame.join(problems.select("problem_id", "problem"), on="problem_id", how="left")


def _bands(code: int) -> list[tuple[int, int]]:
    """A 64-bit hash's four 16-bit quarters, each tagged with its place."""
    return [(band, (code >> (16 * band)) & 0xFFFF) for band in range(4)]
