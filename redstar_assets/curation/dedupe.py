"""Duplicate problems: exact after canonicalization (whitespace, LaTeX spacing, case), and near
duplicates with MinHash LSH over character 5-gram shingles (keep the first of each cluster).

Character shingles make a changed number or word cost only a few shingles of a long problem (a
near duplicate) but many of a short one (`Compute 348 + 275.` and `Compute 348 + 276.` share
under half of theirs), so short generated problems are not merged by accident."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_LATEX_SPACING = re.compile(r"\\[,;:!> ]|\\q?quad\b|\\left\b|\\right\b|\\displaystyle\b|\$")
_SPACE = re.compile(r"\s+")


def canonical(text: str) -> str:
    """Lower case, NFKC, no LaTeX spacing or `$`, `\\dfrac`/`\\tfrac` as `\\frac`, one space between words."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = t.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    t = _LATEX_SPACING.sub(" ", t)
    return _SPACE.sub(" ", t).strip()


def shingles(text: str, k: int = 5) -> set[bytes]:
    t = canonical(text)
    if len(t) <= k:
        return {t.encode()}
    return {t[i : i + k].encode() for i in range(len(t) - k + 1)}


def exact_duplicates(ids: Sequence[str], texts: Sequence[str]) -> dict[str, str]:
    """{removed id: kept id} for problems equal after canonicalization; the first one is kept."""
    first: dict[str, str] = {}
    removed = {}
    for pid, text in zip(ids, texts, strict=True):
        key = canonical(text)
        if key in first:
            removed[pid] = first[key]
        else:
            first[key] = pid
    return removed


def near_duplicates(
    ids: Sequence[str],
    texts: Sequence[str],
    threshold: float = 0.8,
    num_perm: int = 128,
    seed: int = 1,
    min_chars: int = 60,
) -> dict[str, str]:
    """{removed id: kept id} for problems whose estimated shingle Jaccard similarity reaches
    `threshold` with an earlier kept problem (checked exactly on the LSH candidates). Problems
    shorter than `min_chars` are left to exact dedupe: "Compute 320 + 911." and "Compute 320 + 91."
    share 80% of their shingles and are different problems."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    kept: dict[str, str] = {}  # id -> text; shingles of a candidate are recomputed (rare), not stored
    removed: dict[str, str] = {}
    for pid, text in zip(ids, texts, strict=True):
        if len(text) < min_chars:
            continue
        sh = shingles(text)
        m = MinHash(num_perm=num_perm, seed=seed)
        m.update_batch(list(sh))
        match = None
        for cand in lsh.query(m):
            other = shingles(kept[cand])
            if len(sh & other) / len(sh | other) >= threshold:
                match = cand
                break
        if match is None:
            lsh.insert(pid, m)
            kept[pid] = text
        else:
            removed[pid] = match
    return removed
