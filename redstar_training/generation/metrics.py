"""Benchmark metrics from per-sample verdicts, with the conventions papers use: `pass@1` greedy; `avg@n`,
the mean accuracy over n sampled runs with its standard error across runs (n/a when n = 1); `pass@k`, the
unbiased estimator 1 - C(n-c, k) / C(n, k) of Chen et al. (2021); `maj@n`, whether the most common extracted
answer of all n samples is correct (ties to the first seen); `maj@k` for k < n, its expectation over k-sample
subsets (all C(n, k) when at most 256, else 256 drawn from a fixed seed), votes kept in run order."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

MAJ_SUBSETS = 256  # the most k-sample subsets maj@k votes over; past it, a fixed-seed draw of this many
MAJ_SEED = 0


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn from n (c of them correct) is correct."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def majority_correct(answers: Sequence[str | None], correct: Sequence[bool], k: int) -> bool:
    """Whether the most frequent non-empty answer among the first k samples is a correct one."""
    votes = [(a, ok) for a, ok in zip(answers[:k], correct[:k], strict=True) if a]
    if not votes:
        return False
    counts = Counter(a for a, _ in votes)
    top = max(counts.values())
    winner = next(a for a, _ in votes if counts[a] == top)
    return next(ok for a, ok in votes if a == winner)


def majority_at_k(answers: Sequence[str | None], correct: Sequence[bool], k: int) -> float:
    """maj@k of one problem: at k = n the vote of all samples, below it the mean vote over k-sample
    subsets, since the first k samples alone are one noisy draw of k."""
    n = len(answers)
    if not 1 <= k <= n:
        raise ValueError(f"maj@{k} needs 1 <= k <= {n} samples")
    if k == n:
        return float(majority_correct(answers, correct, n))
    if not any(correct):
        return 0.0
    if all(correct) and all(answers):
        return 1.0
    subsets = _subsets(n, k)
    wins = sum(majority_correct([answers[i] for i in sub], [correct[i] for i in sub], k) for sub in subsets)
    return wins / len(subsets)


@lru_cache(maxsize=1024)
def _subsets(n: int, k: int) -> tuple[tuple[int, ...], ...]:
    """The k-sample subsets maj@k votes over, each in run order; the same for every problem."""
    if math.comb(n, k) <= MAJ_SUBSETS:
        return tuple(itertools.combinations(range(n), k))
    rng = random.Random(MAJ_SEED)
    return tuple(tuple(sorted(rng.sample(range(n), k))) for _ in range(MAJ_SUBSETS))


def avg_at_n(run_accuracies: Sequence[float]) -> tuple[float | None, float | None]:
    """(mean, standard error across runs); the error is None for a single run."""
    if not run_accuracies:
        return None, None
    n = len(run_accuracies)
    mean = sum(run_accuracies) / n
    if n == 1:
        return mean, None
    var = sum((a - mean) ** 2 for a in run_accuracies) / (n - 1)
    return mean, math.sqrt(var / n)


def problem_metrics(samples: dict[str, list[tuple[str | None, bool]]], ks: Sequence[int] = (1,)) -> dict:
    """Metrics over problems, each with its samples in run order as (extracted answer, correct)."""
    n_min = min((len(s) for s in samples.values()), default=0)
    runs = [
        sum(s[i][1] for s in samples.values()) / max(1, len(samples)) for i in range(n_min)
    ]  # accuracy of run i across problems
    mean, stderr = avg_at_n(runs)
    out = {"problems": len(samples), "n": n_min, f"avg@{n_min}": mean, "stderr": stderr}
    for k in ks:
        if k <= n_min:
            out[f"pass@{k}"] = sum(pass_at_k(len(s), sum(ok for _, ok in s), k) for s in samples.values()) / len(
                samples
            )
            out[f"maj@{k}"] = sum(
                majority_at_k([a for a, _ in s], [ok for _, ok in s], k) for s in samples.values()
            ) / len(samples)
    return out
