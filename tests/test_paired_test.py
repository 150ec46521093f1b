"""The paired per-item comparison: its false-verdict rate and power on simulated benchmarks shaped like
real ones (bimodal item difficulty), and its numbers on fixtures small enough to work out by hand."""

import itertools

import numpy as np
import pytest

from redstar_assets.evaluation.paired_test import ComparisonRefused, paired_comparison

ITEMS, SEEDS, LEVEL = 250, 3, 0.05
SIM_RESAMPLES = 1000  # per verdict in the simulations, for speed: p-values resolve to 0.001, far below LEVEL


def _arm(rng: np.random.Generator, rates: np.ndarray, samples: int) -> dict:
    """One arm's verdicts: item -> {training seed -> `samples` draws at the item's success rate}."""
    drawn = (rng.random((rates.size, SEEDS, samples)) < rates[:, None, None]).tolist()
    return {f"item{i}": dict(enumerate(by_seed)) for i, by_seed in enumerate(drawn)}


def _plant(rates: np.ndarray, target: float) -> np.ndarray:
    """Arm a's rates min(1, p + delta), with delta found by bisection so that the mean planted gain over
    these items is exactly `target`: easy items cannot gain, so delta exceeds the target."""
    low, high = 0.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if np.minimum(1 - rates, mid).mean() < target else (low, mid)
    return np.minimum(1.0, rates + high)


def _verdicts(gain: float, samples: int, draws: int, seed: int) -> tuple[list[str], list[float]]:
    """The verdict of each simulated comparison, fresh items each draw, and the planted mean gain."""
    rng = np.random.default_rng(seed)
    verdicts, planted = [], []
    for draw in range(draws):
        rates = rng.beta(0.5, 0.5, ITEMS)
        rates_a = _plant(rates, gain) if gain else rates
        planted.append(float((rates_a - rates).mean()))
        a, b = _arm(rng, rates_a, samples), _arm(rng, rates, samples)
        result = paired_comparison(a, b, label_a="a", label_b="b", level=LEVEL, resamples=SIM_RESAMPLES, seed=draw)
        verdicts.append(result.verdict)
    return verdicts, planted


@pytest.mark.timeout(20)
@pytest.mark.parametrize("samples", [1, 4])
def test_same_rates_give_a_false_verdict_at_about_the_level(samples):
    """500 null draws: 250 items with Beta(0.5, 0.5) success rates, both arms sampled from the same rates,
    3 seeds x `samples` samples each; any verdict but "no difference" is a false one."""
    verdicts, _ = _verdicts(0.0, samples, draws=500, seed=100 + samples)
    false_rate = sum(v != "no difference" for v in verdicts) / len(verdicts)
    assert LEVEL - 0.03 <= false_rate <= LEVEL + 0.03, false_rate


@pytest.mark.timeout(20)
def test_a_planted_gain_of_five_points_is_found():
    """200 draws of 250 Beta(0.5, 0.5) items, arm a's rates raised by a gain averaging exactly +0.05
    (see `_plant`), 3 seeds x 2 samples: the smallest n the benchmark registry samples per seed. With
    1 sample per seed the power is about 0.75, short of 0.8."""
    verdicts, planted = _verdicts(0.05, samples=2, draws=200, seed=7)
    assert np.mean(planted) == pytest.approx(0.05, abs=0.005)
    assert sum(v == "better" for v in verdicts) / len(verdicts) >= 0.8


T, F = True, False
# a: x pools seeds 0.75 and 0.0 (not 3/5 by samples) to 0.375; y pools 1.0 and 0.5 to 0.75.
# b: x has only seed 1 (0.0); y pools 0.0 and 1.0 to 0.5.
ARM_A = {"x": {1: [T, T, T, F], 2: [F]}, "y": {1: [T], 2: [T, F]}}
ARM_B = {"x": {1: [F, F]}, "y": {1: [F], 2: [T]}}


def test_pooled_and_per_seed_differences_match_the_hand_computation():
    r = paired_comparison(ARM_A, ARM_B, label_a="a", label_b="b")
    assert r.mean_diff == pytest.approx((0.375 + 0.75) / 2 - (0.0 + 0.5) / 2)  # 0.3125
    # seeds of a: 1 -> (0.75 + 1) / 2, 2 -> (0 + 0.5) / 2; of b: 1 -> (0 + 0) / 2, 2 -> 1 (y only)
    assert r.seed_diff == pytest.approx((0.875 + 0.25) / 2 - (0.0 + 1.0) / 2)  # 0.0625
    assert (r.items, r.seeds_a, r.seeds_b, r.level) == (2, 2, 2, 0.05)
    # two items with d = (0.375, 0.5): a mean as large in size as the observed one under half the sign flips
    assert r.p_value == pytest.approx(0.5, abs=0.02) and r.verdict == "no difference"
    assert "10000 resamples" in r.method and "95% paired bootstrap" in r.method


def test_the_p_value_matches_the_exact_sign_flip_distribution():
    """Ten items: every one of the 2^10 sign vectors enumerated gives the exact p-value the Monte Carlo
    one estimates."""
    rng = np.random.default_rng(3)
    a = {f"i{i}": {0: list(rng.random(3) < 0.7)} for i in range(10)}
    b = {f"i{i}": {0: list(rng.random(3) < 0.4)} for i in range(10)}
    d = np.array([np.mean(a[i][0]) - np.mean(b[i][0]) for i in a])
    flips = np.array(list(itertools.product([-1, 1], repeat=d.size)))
    exact = np.mean(np.abs(flips @ d) >= abs(d.sum()) - 1e-9)
    r = paired_comparison(a, b, label_a="a", label_b="b", resamples=20000)
    assert r.mean_diff == pytest.approx(d.mean())
    assert r.p_value == pytest.approx(exact, abs=0.01)
    assert r.ci_low <= r.mean_diff <= r.ci_high


def test_a_clear_cut_difference_has_a_verdict_and_identical_arms_have_none():
    right = {f"i{i}": {s: [T, T] for s in (1, 2, 3)} for i in range(40)}
    wrong = {f"i{i}": {s: [F, T] if i % 4 == 0 else [F, F] for s in (1, 2, 3)} for i in range(40)}
    better = paired_comparison(right, wrong, label_a="rl", label_b="sft")
    assert better.verdict == "better" and better.mean_diff == pytest.approx(1 - 0.5 * 10 / 40)
    assert better.p_value == pytest.approx(1 / 10001)
    assert 0 < better.ci_low <= better.mean_diff <= better.ci_high <= 1
    worse = paired_comparison(wrong, right, label_a="sft", label_b="rl")
    assert worse.verdict == "worse" and worse.mean_diff == pytest.approx(-better.mean_diff)
    same = paired_comparison(right, right, label_a="rl", label_b="rl again")
    assert same.p_value == 1.0 and same.verdict == "no difference"
    assert (same.mean_diff, same.ci_low, same.ci_high, same.seed_diff) == (0.0, 0.0, 0.0, 0.0)


def test_arms_scored_on_different_items_are_refused_by_name():
    b = {"x": {1: [T]}, "w": {1: [F]}}
    with pytest.raises(ComparisonRefused, match=r"'grpo'.*'sft'.*2 only in 'grpo', 1 only in 'sft'"):
        paired_comparison({**ARM_A, "z": {1: [T]}}, b, label_a="grpo", label_b="sft")


@pytest.mark.parametrize(
    ("a", "b", "named"),
    [
        ({}, ARM_B, "'grpo' has no items"),
        (ARM_A, {"x": {1: [F]}, "y": {1: []}}, "'sft': item 'y' has no verdicts for seed 1"),
        (ARM_A, {"x": {}, "y": {1: [T]}}, "'sft': item 'x' has no verdicts"),
    ],
)
def test_an_arm_without_verdicts_is_an_error_naming_it(a, b, named):
    with pytest.raises(ValueError, match=named):
        paired_comparison(a, b, label_a="grpo", label_b="sft")
