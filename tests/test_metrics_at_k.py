"""pass@k and maj@k at every k up to n: pass@k against counting k-subsets directly, maj@k as the expected
vote over k-subsets, and the score row that carries both."""

import itertools
import json
from math import comb

import pytest

from redstar_training.generation.evaluate import EvalRunConfig, _score
from redstar_training.generation.metrics import (
    MAJ_SUBSETS,
    _subsets,
    majority_at_k,
    majority_correct,
    pass_at_k,
    problem_metrics,
)

T, F = True, False


@pytest.mark.parametrize("verdicts", [[F] * 6, [T, F, F, T, F, F], [F, T, T, T, T, T], [T] * 6])
def test_pass_at_k_is_the_share_of_k_subsets_with_a_correct_sample(verdicts):
    n, c = len(verdicts), sum(verdicts)
    samples = {"p": [(str(i), ok) for i, ok in enumerate(verdicts)]}
    metrics = problem_metrics(samples, ks=range(1, n + 1))
    for k in range(1, n + 1):
        subsets = list(itertools.combinations(verdicts, k))
        direct = sum(any(s) for s in subsets) / len(subsets)
        assert pass_at_k(n, c, k) == pytest.approx(direct), k
        assert metrics[f"pass@{k}"] == pytest.approx(direct), k


def test_maj_at_k_is_the_mean_vote_over_k_subsets():
    # subsets of 2: (5,6) tie -> 5 right, (5,5) right, (5,7) tie -> 5 right, (6,5) -> 6 wrong, (6,7) wrong,
    # (5,7) right; of 3: only (6,5,7) elects the wrong 6
    answers, correct = ["5", "6", "5", "7"], [T, F, T, F]
    expected = {1: 2 / 4, 2: 4 / 6, 3: 3 / 4, 4: 1.0}
    assert {k: majority_at_k(answers, correct, k) for k in expected} == pytest.approx(expected)


def test_an_empty_answer_casts_no_vote_and_ties_go_to_the_first_in_run_order():
    # 1: (None) no vote, (6) wrong, (5) right; 2: (None,6) wrong, (None,5) right, (6,5) tie -> 6 wrong; 3: 6 first
    answers, correct = [None, "6", "5"], [F, F, T]
    assert [majority_at_k(answers, correct, k) for k in (1, 2, 3)] == pytest.approx([1 / 3, 1 / 3, 0.0])
    assert majority_at_k(answers, correct, 2) != majority_correct(answers, correct, 2)  # not the first two alone
    metrics = problem_metrics({"a": list(zip(answers, correct, strict=True)), "b": [("1", T)] * 3}, ks=(1, 2, 3))
    assert [metrics[f"maj@{k}"] for k in (1, 2, 3)] == pytest.approx([2 / 3, 2 / 3, 0.5])


def test_past_the_subset_cap_maj_at_k_draws_a_fixed_sample_of_subsets():
    n, k = 12, 6
    assert comb(n, k) > MAJ_SUBSETS and comb(10, 5) <= MAJ_SUBSETS
    assert len(_subsets(10, 5)) == comb(10, 5)
    drawn = _subsets(n, k)
    assert len(drawn) == MAJ_SUBSETS and all(list(s) == sorted(set(s)) and len(s) == k for s in drawn)
    answers = ["1", "2", "1", "3", "2", "2", "1", "4", "1", "2", "5", "1"]
    correct = [a == "1" for a in answers]
    subsets = itertools.combinations(range(n), k)
    exact = [majority_correct([answers[i] for i in s], [correct[i] for i in s], k) for s in subsets]
    estimate = majority_at_k(answers, correct, k)
    assert estimate == pytest.approx(sum(exact) / len(exact), abs=0.08)
    _subsets.cache_clear()
    assert majority_at_k(answers, correct, k) == estimate  # the same subsets on every call, and in every process
    with pytest.raises(ValueError, match="maj@13"):
        majority_at_k(answers, correct, 13)


def _rows(samples: dict[str, list[tuple[str, bool]]]) -> list[dict]:
    """Output rows as `_judge_benchmark` writes them: a greedy pass (always right here) and sampled runs."""
    rows = [{"problem_id": p, "run": "greedy", "extracted": "g", "status": "correct"} for p in samples]
    n = len(next(iter(samples.values())))
    for i in range(n):
        for p, s in samples.items():
            status = "correct" if s[i][1] else "wrong"
            rows.append({"problem_id": p, "run": f"seed{1234 + i}", "extracted": s[i][0], "status": status})
    return rows


def _score_of(samples: dict[str, list[tuple[str, bool]]]) -> dict:
    items = [{"problem_id": p} for p in samples]
    return _score({"stage": "sft", "path": "/m"}, {"name": "bench"}, items, _rows(samples), EvalRunConfig())


def test_the_score_row_carries_pass_and_maj_at_every_k_and_the_error_across_items():
    score = _score_of(
        {
            "p1": [("4", T), ("4", T), ("3", F)],  # pass@k 2/3, 1, 1; maj@k 2/3, 1, 1
            "p2": [("9", F), ("8", T), ("9", F)],  # pass@k 1/3, 2/3, 1; maj@k 1/3, 1/3, 0
        }
    )
    assert json.loads(score["pass_at_k"]) == pytest.approx({"1": 0.5, "2": 5 / 6, "3": 1.0})
    assert json.loads(score["maj_at_k"]) == pytest.approx({"1": 0.5, "2": 2 / 3, "3": 0.5})
    assert score["stderr_items"] == pytest.approx(1 / 6)  # items at 2/3 and 1/3: sd sqrt(1/18), over sqrt(2)
    assert (score["n"], score["pass_at_1"], score["avg_at_n"], score["maj_at_n"], score["pass_at_n"]) == (
        3,
        1.0,
        pytest.approx(0.5),
        0.5,
        1.0,
    )
    assert score["stderr"] == pytest.approx(0.5 / 3**0.5)  # runs at 0.5, 1 and 0: sd 0.5


def test_without_sampled_runs_or_with_one_item_the_new_keys_are_empty():
    greedy_only = _score_of({"p1": [], "p2": []})
    assert (greedy_only["pass_at_k"], greedy_only["maj_at_k"], greedy_only["stderr_items"]) == ("{}", "{}", None)
    one_item = _score_of({"p1": [("4", T), ("3", F)]})
    assert json.loads(one_item["pass_at_k"]) == {"1": 0.5, "2": 1.0} and one_item["stderr_items"] is None
