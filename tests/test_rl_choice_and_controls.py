"""RL set up to learn, as pure functions: problems cut by the student's own pass rate (never-solved
and always-solved groups carry no advantage), on-policy DPO pairs from its own samples, each method
family's control (shuffled rewards, swapped pairs), the recipe keys checked at load, and the report
planning each method against its control."""

from pathlib import Path

import polars as pl
import pytest

from redstar_assets.config.errors import ProfileError
from redstar_assets.config.profile import load_profile
from redstar_assets.evaluation.comparisons import planned_comparisons
from redstar_assets.training.student_problems import (
    TooFewProblems,
    candidate_problems,
    cut_by_pass_rate,
    on_policy_pairs,
    pass_rates,
)
from redstar_training.trainers.dpo import swapped
from redstar_training.trainers.rewards import ShuffledRewards


def _outputs(verdicts: dict[str, list[str]]) -> pl.DataFrame:
    """Evaluation output rows: a greedy pass (always correct, to show it is left out) and one row per
    sampled verdict, in the evaluation entry point's columns."""
    rows = []
    for pid, statuses in verdicts.items():
        rows.append({"problem_id": pid, "run": "greedy", "seed": None, "output": "g", "status": "correct"})
        for i, status in enumerate(statuses):
            rows.append(
                {"problem_id": pid, "run": f"seed{10 + i}", "seed": 10 + i, "output": f"{pid}-{i}", "status": status}
            )
        # fmt: skip
    return pl.DataFrame(rows, schema_overrides={"seed": pl.Int64})


def test_candidates_come_from_outside_the_sft_subset_first_and_need_a_reference_answer():
    verified = pl.LazyFrame(
        {
            "problem_id": ["a", "a", "b", "c", "d", "e"],
            "problem": ["pa", "pa", "pb", "pc", "pd", "pe"],
            "answer": ["1", "1", "2", None, "4", "5"],
        }
    )
    chosen = candidate_problems(verified, pl.Series(["a", "b"]), 3)
    assert chosen["problem_id"].to_list() == ["d", "e", "a"]  # c has no answer; the subset fills last
    assert chosen["in_sft_subset"].to_list() == [False, False, True]


def test_pass_rates_leave_out_the_greedy_pass_and_the_cut_keeps_problems_solved_sometimes():
    outputs = _outputs(
        {
            "never": ["wrong", "wrong", "no_answer", "wrong"],
            "always": ["correct"] * 4,
            "half": ["correct", "wrong", "correct", "wrong"],
            "once": ["wrong", "wrong", "correct", "wrong"],
        }
    )
    rates = pass_rates(outputs)
    assert dict(zip(rates["problem_id"], rates["pass_rate"], strict=True)) == {
        "always": 1.0,
        "half": 0.5,
        "never": 0.0,
        "once": 0.25,
    }
    assert set(rates["samples"]) == {4}
    candidates = pl.DataFrame(
        {
            "problem_id": ["always", "half", "never", "once"],
            "problem": ["p"] * 4,
            "answer": ["1"] * 4,
            "in_sft_subset": [False, True, False, False],
        }
    )
    kept = cut_by_pass_rate(candidates, rates, 2, "arm")
    assert kept["problem_id"].to_list() == ["once", "half"]  # outside the subset first
    with pytest.raises(
        TooFewProblems, match=r"kept 2 of 4 candidate problems \(1 never solved, 1 always solved\).*asks for 3"
    ):
        cut_by_pass_rate(candidates, rates, 3, "arm")  # fmt: skip


def test_on_policy_pairs_are_the_students_first_correct_and_first_incorrect_sample():
    outputs = _outputs(
        {"p1": ["wrong", "correct", "no_answer", "correct"], "p2": ["correct", "correct", "correct", "wrong"]}
    )
    kept = pl.DataFrame({"problem_id": ["p1", "p2"], "problem": ["1+1", "2+2"]})
    pairs = on_policy_pairs(outputs, kept)
    assert pairs.select("chosen", "chosen_id", "rejected", "rejected_id").rows() == [
        ("p1-1", "p1:seed11", "p1-0", "p1:seed10"),
        ("p2-0", "p2:seed10", "p2-3", "p2:seed13"),
    ]
    assert pairs["prompt"].to_list() == ["1+1", "2+2"]


def test_shuffled_rewards_permute_every_reward_function_alike_within_a_batch():
    shuffler = ShuffledRewards(seed=0)
    accuracy = shuffler.wrap(lambda completions, **kw: [float(c == "right") for c in completions])
    length = shuffler.wrap(lambda completions, **kw: [float(len(c)) for c in completions])
    batch = ["right", "no", "right", "wrong", "nope", "x", "right", "wrong!"]
    got_accuracy, got_length = accuracy(batch), length(batch)
    order = shuffler.order(batch)
    assert sorted(order) == list(range(len(batch))) and order != list(range(len(batch)))
    assert got_accuracy == [float(batch[j] == "right") for j in order]
    assert got_length == [float(len(batch[j])) for j in order]  # the same permutation for both
    assert sum(got_accuracy) == 3  # the batch's mean reward is what it was
    other = ["a", "b", "c", "d", "e", "f", "g", "h"]
    accuracy(other)
    assert shuffler.order(other) != order  # a new batch draws a new permutation


def test_swapped_pairs_swap_about_half_and_follow_the_seed():
    rows = [{"problem_id": str(i), "chosen": f"c{i}", "rejected": f"r{i}"} for i in range(400)]
    out = swapped(rows, seed=3)
    flipped = sum(r["chosen"].startswith("r") for r in out)
    assert 160 < flipped < 240
    assert all({r["chosen"], r["rejected"]} == {f"c{r['problem_id']}", f"r{r['problem_id']}"} for r in out)
    assert out == swapped(rows, seed=3) and out != swapped(rows, seed=4)


def _profile(tmp_path: Path, recipes: str, experiments: str) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(
        "extends: demo-rl-tiny\nname: p\nreplace: [rl_recipes, experiments]\nrl_recipes:\n"
        + recipes
        + "experiments:\n  - {name: sft-start, base_model: tiny-qwen2, subset: cot-random-20, training: sft-tiny,"
        " stages: [sft]}\n" + experiments
    )
    return str(path)


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        (
            "{method: dpo, control: shuffled_rewards}",
            "method 'dpo' has no such control; its control is 'swapped_pairs'",
        ),
        (
            "{method: grpo, control: swapped_pairs}",
            "method 'grpo' has no such control; its control is 'shuffled_rewards'",
        ),
        ("{method: grpo, samples: students}", "samples 'students' is not one of"),
        ("{method: grpo, pass_rate_samples: 8}", "pass_rate_samples applies to samples: student only"),
        ("{method: grpo, samples: student, pass_rate_samples: 1}", "needs 2 or more"),
        ("{method: dpo, samples: student, candidates: 0}", "candidates: expected a positive integer"),
    ],
)
def test_bad_rl_choice_keys_fail_at_load_naming_the_recipe_and_method(tmp_path, recipe, message):
    path = _profile(tmp_path, f"  r: {recipe}\n", "  - {name: arm, sft_from: sft-start, rl: r, stages: [rl]}\n")
    with pytest.raises(ProfileError, match=f"r(\\.control|\\.samples|\\.pass_rate_samples|\\.candidates)?.*{message}"):
        load_profile(path)


def test_the_report_plans_each_method_against_its_start_and_its_control(tmp_path):
    profile = load_profile("demo-rl-tiny")
    planned = {(p.kind, p.a.arm, p.b.arm) for p in planned_comparisons(profile)}
    assert ("RL vs its control", "rl-grpo", "rl-grpo-control") in planned
    assert ("RL vs its start", "rl-grpo-control", "sft-start") in planned
    assert not any(k == "RL vs its control" and a != "rl-grpo" for k, a, _ in planned)  # the recipe must match
    assert profile.rl_recipes["grpo-tiny-control"].run_config()["control"] == "shuffled_rewards"
    assert "control" not in profile.rl_recipes["grpo-tiny"].run_config()
