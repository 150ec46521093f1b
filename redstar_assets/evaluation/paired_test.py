"""A paired, per-item comparison of two arms scored on the same held-out items: pooling every seed and
sample per item and testing over items uses hundreds of paired units where a test across a handful of
training seeds has a few. The inference is about these trained seeds, not about a fresh training run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Verdicts = Mapping[str, Mapping[int | str, Sequence[bool]]]  # item id -> {training seed -> verdicts}

_TIE = 1e-9  # permuted means this close to the observed one count as ties (float sums differ in order)
_CELLS = 4_000_000  # resamples x items handled at once, to bound memory on large benchmarks


class ComparisonRefused(ValueError):
    """The two arms were scored on different items, so a per-item pairing would compare unlike things."""


@dataclass(frozen=True)
class PairedResult:
    """Arm a against arm b: the pooled per-item accuracy difference with its test and interval, and
    the difference of the arms' mean-over-seeds accuracy for reference."""

    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str  # "better", "worse" or "no difference": a relative to b
    level: float
    items: int
    method: str
    seed_diff: float
    seeds_a: int
    seeds_b: int
    mean_a: float  # each arm's accuracy: the mean over its seeds
    mean_b: float


def paired_comparison(
    a: Verdicts,
    b: Verdicts,
    *,
    label_a: str,
    label_b: str,
    level: float = 0.05,
    resamples: int = 10000,
    seed: int = 0,
) -> PairedResult:
    """Compares arm a with arm b item by item: each item's accuracy pools every seed and sample (seeds
    weighted equally), and the verdict is the two-sided sign-flip test's at `level`."""
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    for label, arm in ((label_a, a), (label_b, b)):
        if not arm:
            raise ValueError(f"arm {label!r} has no items")
    only_a, only_b = set(a) - set(b), set(b) - set(a)
    if only_a or only_b:
        raise ComparisonRefused(
            f"arms {label_a!r} and {label_b!r} were scored on different items: {len(only_a)} only in "
            f"{label_a!r}, {len(only_b)} only in {label_b!r}"
        )
    items = sorted(a)
    acc_a, seed_acc_a = _pool(a, items, label_a)
    acc_b, seed_acc_b = _pool(b, items, label_b)
    d = acc_a - acc_b
    rng = np.random.default_rng(seed)
    observed = float(d.mean())
    p_value = _sign_flip_p(d, observed, resamples, rng)
    ci_low, ci_high = _bootstrap_interval(d, level, resamples, rng)
    verdict = "no difference" if p_value >= level else ("better" if observed > 0 else "worse")
    method = (
        f"paired sign-flip permutation test over items ({resamples} resamples); "
        f"{100 * (1 - level):g}% paired bootstrap percentile interval over items"
    )
    return PairedResult(
        mean_diff=observed,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        verdict=verdict,
        level=level,
        items=len(items),
        method=method,
        seed_diff=_mean(seed_acc_a) - _mean(seed_acc_b),
        seeds_a=len(seed_acc_a),
        seeds_b=len(seed_acc_b),
        mean_a=_mean(seed_acc_a),
        mean_b=_mean(seed_acc_b),
    )


def _pool(arm: Verdicts, items: list[str], label: str) -> tuple[np.ndarray, list[float]]:
    """(each item's accuracy: the mean over its seeds of the mean over that seed's samples; each seed's
    accuracy: the mean over the items it scored of its mean there)."""
    per_item = np.empty(len(items))
    per_seed: dict[int | str, list[float]] = {}
    for i, item in enumerate(items):
        by_seed = arm[item]
        total = 0.0
        for s, v in by_seed.items():
            if len(v) == 0:
                raise ValueError(f"arm {label!r}: item {item!r} has no verdicts for seed {s!r}")
            acc = sum(v) / len(v)
            total += acc
            per_seed.setdefault(s, []).append(acc)
        if not by_seed:
            raise ValueError(f"arm {label!r}: item {item!r} has no verdicts")
        per_item[i] = total / len(by_seed)
    return per_item, [_mean(v) for v in per_seed.values()]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _chunks(resamples: int, items: int) -> list[int]:
    size = max(1, _CELLS // items)
    return [min(size, resamples - start) for start in range(0, resamples, size)]


def _sign_flip_p(d: np.ndarray, observed: float, resamples: int, rng: np.random.Generator) -> float:
    """Two-sided Monte Carlo p-value of the mean difference under random sign flips of the items: with
    bits b_i (1 keeps the sign, 0 flips it) the flipped sum is 2 * (b . d) - sum(d)."""
    total, extreme = float(d.sum()), 0
    for m in _chunks(resamples, d.size):
        bits = np.unpackbits(rng.integers(0, 256, size=(m, (d.size + 7) // 8), dtype=np.uint8), axis=1, count=d.size)
        flipped = (2 * (bits @ d) - total) / d.size
        extreme += int(np.count_nonzero(np.abs(flipped) >= abs(observed) - _TIE))
    return (1 + extreme) / (1 + resamples)


def _bootstrap_interval(d: np.ndarray, level: float, resamples: int, rng: np.random.Generator) -> tuple[float, float]:
    """Percentile interval of the mean difference over items resampled with replacement."""
    kind = np.uint16 if d.size <= np.iinfo(np.uint16).max else np.int64
    means = np.concatenate(
        [d[rng.integers(0, d.size, size=(m, d.size), dtype=kind)].mean(axis=1) for m in _chunks(resamples, d.size)]
    )
    low, high = np.quantile(means, [level / 2, 1 - level / 2])
    return float(low), float(high)
