"""Training seeds as an axis: an experiment's `seeds` become one run each (`arm@s<seed>`), an RL arm's
seeds start from the start's same seed or one shared run as the profile says, bad seeds fail at
load naming the experiment, and the report plans the comparisons the arms allow."""

from pathlib import Path

import pytest

from redstar_assets.config.errors import ProfileError
from redstar_assets.config.profile import load_profile
from redstar_assets.evaluation.comparisons import planned_comparisons
from redstar_assets.training.assets import seeded
from redstar_assets.training.partitions import sft_to_rl


def _profile(tmp_path: Path, experiments: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text("extends: demo-tiny\nname: p\nreplace: [experiments]\nexperiments:\n" + experiments)
    return path


START = (
    "  - {name: start, base_model: tiny-qwen2, subset: cot-random-20, training: sft-tiny, stages: [sft],"
    " seeds: [3, 5]}\n"
)


def test_seeds_expand_into_one_run_each_with_the_seed_over_the_recipes():
    profile = load_profile("demo-tiny")
    runs = [e for e in profile.experiments if e.arm == "cot-hard-20"]
    assert [(e.name, e.seed) for e in runs] == [("cot-hard-20@s0", 0), ("cot-hard-20@s1", 1)]
    assert seeded(runs[1]) == {"seed": 1}
    unseeded = profile.experiment("cot-random-20")
    assert (unseeded.arm, unseeded.seed, seeded(unseeded)) == ("cot-random-20", None, {})
    run_config = profile.training_recipes["sft-tiny"].run_config(**seeded(runs[1]))
    assert run_config["seed"] == 1


def test_an_rl_arm_starts_from_the_same_seed_or_one_shared_run(tmp_path):
    same = load_profile(
        str(_profile(tmp_path, START + "  - {name: arm, sft_from: start, rl: dpo-tiny, stages: [rl], seeds: [5, 3]}\n"))
    )
    assert [(e.name, e.sft_from) for e in same.experiments if e.arm == "arm"] == [
        ("arm@s5", "start@s5"),
        ("arm@s3", "start@s3"),
    ]
    assert sft_to_rl(same).downstream_partition_keys_by_upstream_partition_key == {
        "start@s3": ["arm@s3"],
        "start@s5": ["arm@s5"],
    }
    shared = load_profile(
        str(
            _profile(
                tmp_path,
                START
                + "  - {name: arm, sft_from: start, rl: dpo-tiny, stages: [rl], seeds: [0, 1], sft_start: shared}\n",
            )
        )
    )
    assert {e.sft_from for e in shared.experiments if e.arm == "arm"} == {"start@s3"}
    plans = planned_comparisons(shared)
    assert [(p.kind, p.a.label, p.b.label) for p in plans] == [("RL vs its start", "arm (rl)", "start (sft)")]


@pytest.mark.parametrize(
    ("seeds", "message"),
    [
        (
            "[0, 0]",
            r"experiment 'hard': seeds must be a non-empty list of distinct non-negative integers, got \[0, 0\]",
        ),
        ("[-1]", r"experiment 'hard': seeds must be .* got \[-1\]"),
        ("[1.5]", r"experiment 'hard': seeds must be .* got \[1.5\]"),
        ("[]", r"experiment 'hard': seeds must be .* got \[\]"),
        ("3", r"experiment 'hard': seeds must be .* got 3"),
        ("['a']", r"experiment 'hard': seeds must be .* got \['a'\]"),
    ],
)
def test_bad_seeds_fail_at_load_naming_the_experiment(tmp_path, seeds, message):
    text = (
        "  - {name: hard, base_model: tiny-qwen2, subset: cot-hard-20, training: sft-tiny, stages: [sft], "
        f"seeds: {seeds}}}\n"
    )
    with pytest.raises(ProfileError, match=message):
        load_profile(str(_profile(tmp_path, text)))


def test_a_seed_the_start_does_not_train_and_seeds_on_a_baseline_are_refused(tmp_path):
    arm = "  - {name: arm, sft_from: start, rl: dpo-tiny, stages: [rl], seeds: [4]}\n"
    with pytest.raises(ProfileError, match=r"experiments.arm: seed 4 starts from 'start''s seed 4 .* \[3, 5\]"):
        load_profile(str(_profile(tmp_path, START + arm)))
    base = "  - {name: untrained, base_model: tiny-qwen2, stages: [base], seeds: [0, 1]}\n"
    with pytest.raises(ProfileError, match=r"experiments.untrained.seeds: a base-only experiment trains nothing"):
        load_profile(str(_profile(tmp_path, base)))
    with pytest.raises(ProfileError, match=r"'@' is kept for seeds"):
        load_profile(str(_profile(tmp_path, "  - {name: a@s0, base_model: tiny-qwen2, stages: [base]}\n")))


def test_the_demo_plans_its_claims_and_every_trained_arm_has_two_seeds():
    demo = load_profile("demo")
    trained = {e.arm: [] for e in demo.experiments if e.stages != ("base",)}
    for e in demo.experiments:
        if e.arm in trained:
            trained[e.arm].append(e.seed)
    assert trained and all(len(seeds) >= 2 for seeds in trained.values())
    kinds = {(p.kind, p.a.arm, p.b.arm) for p in planned_comparisons(demo)}
    assert {
        ("scale step", "cot-random-750", "cot-random-500"),
        ("scale step", "cot-random-1k", "cot-random-750"),
        ("hard-first vs random", "cot-hard-750", "cot-random-750"),
        ("long-CoT vs answer-only", "cot-random-1k", "answer-random-1k"),
        ("long-CoT vs untrained", "cot-random-1k", "untrained"),
    } == kinds
    full = load_profile("demo-full")
    assert all(
        len([e for e in full.experiments if e.arm == a]) >= 5 for a in {e.arm for e in full.experiments} - {"untrained"}
    )
    assert {("mix vs one domain", "mix-1k", "code-1k"), ("mix vs one domain", "mix-1k", "cot-random-1k")} <= {
        (p.kind, p.a.arm, p.b.arm) for p in planned_comparisons(full)
    }
