"""The RL reward and the evaluation agree: `accuracy_reward` (without the format reward) is 1 exactly
where the evaluation's judging says `correct`, in each benchmark's registry mode and answer format,
on the same real long-CoT outputs (Sky-T1 on AMC 2023, AIME 2024 and MATH-500)."""

import json

import pytest

from redstar_assets.config.benchmark_registry import registered
from redstar_assets.problems.benchmark_files import load_benchmark
from redstar_assets.problems.normalize import normalize_text
from redstar_training.trainers.rewards import accuracy_reward
from redstar_training.verify import default_verifier
from redstar_training.verify.items import judge_outputs

TRACES = {
    "amc2023": ["skythought_sky-t1-math-14b_amc23.jsonl"],
    "aime2024": ["skythought_sky-t1-math-32b_aime24.jsonl"],
    "math500": ["skythought_sky-t1-math-27b_math500_part1.jsonl"],
}


@pytest.mark.parametrize("name", sorted(TRACES))
def test_accuracy_reward_agrees_with_the_evaluations_verdicts(shared_data, name):
    items = {normalize_text(r["problem"]): r for r in load_benchmark(name, shared_data / "benchmarks").to_dicts()}
    pairs = []
    for file in TRACES[name]:
        for line in (shared_data / "traces" / file).open():
            trace = json.loads(line)
            item = items.get(normalize_text(trace["question"]))
            if item is not None:
                pairs.append((item, trace["code"][0]))
    assert len(pairs) >= 30, f"only {len(pairs)} traces matched {name}'s items"
    mode = registered(name).mode
    outputs = [output for _, output in pairs]
    verdicts = judge_outputs([i for i, _ in pairs], outputs, ["stop"] * len(pairs), mode, default_verifier())
    rewards = accuracy_reward(
        outputs,
        answer=[i["answer"] for i, _ in pairs],
        answer_format=[i.get("answer_format") for i, _ in pairs],
        tolerance=[i.get("tolerance") for i, _ in pairs],
        verify_mode=[mode] * len(pairs),
    )
    assert rewards == [1.0 if status == "correct" else 0.0 for status, _, _ in verdicts]
    assert 0 < sum(rewards) < len(rewards)  # both verdicts occur: the agreement is not vacuous
