"""A profile error must fail before anything runs and name the file, the entry and the key: every key
the teacher, trainers, evaluation and launcher will read is checked against the class that reads it,
and no key the pipeline sets itself may be overridden silently."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from redstar_assets.config.errors import ProfileError
from redstar_assets.config.profile import load_profile
from redstar_assets.launcher import launcher_resource

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _profile(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text("extends: demo-tiny\nname: p\n" + text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "training_recipes: {sft-tiny: {learning_rat: 0.1}}\n",
            r"training_recipes\.sft-tiny: unknown key 'learning_rat' for SFTConfig \(did you mean 'learning_rate'\?\)",
        ),
        ("training_recipes: {sft-tiny: {threads: 8}}\n", r"training_recipes\.sft-tiny: key 'threads' is set by"),
        ("training_recipes: {sft-tiny: {train_file: x.parquet}}\n", r"key 'train_file' is set by the pipeline"),
        ("training_recipes: {sft-tiny: {learning_rate: 1e-5}}\n", r"sft-tiny\.learning_rate: expected float.*1\.0e-5"),
        (
            "rl_recipes: {dpo-tiny: {bta: 0.2}}\n",
            r"rl_recipes\.dpo-tiny: unknown key 'bta' for DPOConfig \(did you mean 'beta'\?\)",
        ),
        ("rl_recipes: {grpo-tiny: {max_pairs: 3}}\n", r"rl_recipes\.grpo-tiny: unknown key 'max_pairs'"),
        ("rl_recipes: {grpo-tiny: {max_problems: [1]}}\n", r"grpo-tiny\.max_problems: expected a positive integer"),
        ("rl_recipes: {dpo-tiny: {num_train_epochs: -1.0}}\n", r"dpo-tiny\.num_train_epochs: must not be negative"),
        ("rl_recipes: {dpo-tiny: {method: ppo}}\n", r"rl_recipes\.dpo-tiny\.method 'ppo' is not one of"),
        ("evaluation: {max_new_token: 4}\n", r"evaluation: unknown key 'max_new_token' \(did you mean 'max_new_"),
        (
            "evaluation: {benchmarks: [math500, aime2042]}\n",
            r"evaluation\.benchmarks\[1\]: unknown benchmark 'aime2042'; registered: \[.*'aime2024'",
        ),
        (
            "evaluation: {benchmarks: [{name: math500, answer_format: number}]}\n",
            r"'math500': \['answer_format'\] cannot be overridden by a profile; only \['count', 'sampling'",
        ),
        ("evaluation: {benchmarks: [{name: math500, sampling: {k: 2}}]}\n", r"'math500'\.sampling: unknown key"),
        ("evaluation: {backend: {kind: sglang}}\n", r"evaluation\.backend\.kind 'sglang' is not one of"),
        (
            "evaluation: {backend: {kind: transformers, serve: {preset: vllm}}}\n",
            r"evaluation\.backend: unknown key 'serve'",
        ),
        ("benchmarks: [{name: x, kind: arithmetic}]\n", r"top-level 'benchmarks' blocks are gone"),
        (
            "launch: {launcher: slurm}\n",
            r"launch\.launcher 'slurm' is not one of 'python', 'accelerate' or 'torchrun'",
        ),
        ("launch: {training: {launcher: mpirun}}\n", r"launch\.training\.launcher 'mpirun' is not one of"),
        ("launch: {training: {procs: 8}}\n", r"launch\.training: unknown key 'procs' \(did you mean 'processes'\?\)"),
        ("launch: {training: {config_file: nope.yaml}}\n", r"launch\.training\.config_file: 'nope.yaml': no file"),
        ("launch: {parallel: 0}\n", r"launch\.parallel must be a positive integer, got 0"),
        ("launch: {parallel: two}\n", r"launch\.parallel must be an integer, got 'two'"),
        ("launch: {training: {parallel: 2}}\n", r"launch\.training: unknown key 'parallel'"),
        ("automation: {training: sometimes}\n", r"automation\.training: 'sometimes' is not eager, manual"),
        (
            "automation: {training: {cron: 'every night'}}\n",
            r"automation\.training\.cron: 'every night' is not a cron string",
        ),
        ("automation: {schedules: {nightly_evaluation: '99 * * * *'}}\n", r"schedules\.nightly_evaluation: '99"),
        ("experimens: []\n", r"profile: unknown key 'experimens' \(did you mean 'experiments'\?\)"),
        ("subset_recipes: {cot-random-20: {scal: 3}}\n", r"subset_recipes\.cot-random-20: unknown key 'scal'"),
        (
            "subset_recipes: {cot-random-20: {scale: 3, sources: [arith-ad]}}\n",
            r"cot-random-20\.sources must name declared sources \['arith-add'\] .*; got \['arith-ad'\]",
        ),
        ("teacher: {slip_per_colum: 0.1}\n", r"teacher: .*slip_per_colum"),
        (
            "sources: [{name: t, kind: traces, path: t.jsonl, mapping: {trace: out}, trace_split: '(?P<x>.*)'}]\n",
            r"sources\[0\] \(t\): split .* needs a named group \(\?P<reasoning>",
        ),
        (
            "sources: [{name: t, kind: traces, path: t.jsonl, mapping: {problem: q}}]\n",
            r"sources\[0\] \(t\): a traces source reads `path` or `dataset` \(one of them\) and maps `reasoning`",
        ),
        (
            "sources: [{name: t, kind: arithmetic, count: 3, verify_mode: loose}]\n",
            r"sources\[0\] \(t\)\.verify_mode 'loose'",
        ),
    ],
)
def test_a_wrong_key_names_the_file_the_entry_and_the_key(tmp_path, text, message):
    path = _profile(tmp_path, text)
    with pytest.raises(ProfileError, match=message) as err:
        load_profile(str(path))
    assert str(path) in str(err.value)


def test_experiment_keys_are_checked_too(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "extends: demo-tiny\nname: p\nreplace: [experiments]\n"
        "experiments:\n  - {name: a, base_model: tiny-qwen2, stages: [base], subest: x}\n"
    )
    with pytest.raises(ProfileError, match=r"experiments\[0\] \(a\): unknown key 'subest' \(did you mean 'subset'\?\)"):
        load_profile(str(path))


def test_an_experiment_may_be_scored_on_some_of_the_benchmarks(tmp_path):
    head = "extends: code-math-tiny\nname: p\nreplace: [experiments]\nexperiments:\n"
    path = tmp_path / "p.yaml"
    path.write_text(head + "  - {name: a, base_model: tiny-qwen2, stages: [base], benchmarks: [arith-code-heldout]}\n")
    profile = load_profile(str(path))
    assert [b.name for b in profile.benchmarks_for(profile.experiment("a"))] == ["arith-code-heldout"]
    path.write_text(head + "  - {name: a, base_model: tiny-qwen2, stages: [base], benchmarks: [arith-code]}\n")
    with pytest.raises(ProfileError, match=r"experiments\.a\.benchmarks \['arith-code'\] must name at least one of"):
        load_profile(str(path))


def test_the_paper_profiles_zero3_setting_reaches_the_trainers_command_line():
    """The `launch:` block is what runs: redstar-math trains under accelerate with the ZeRO-3 config on 8
    processes, and the SFT entry point's command line says so, in the definitions and in --dry-run."""
    profile = load_profile("redstar-math")
    launcher = launcher_resource(profile.launch.stages())
    command = launcher.command("training", "redstar_training.trainers.sft", "run.yaml")
    zero3 = str(ROOT / "configs" / "accelerate" / "zero3.yaml")
    assert command[1:] == [
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        zero3,
        "--num_processes",
        "8",
        "-m",
        "redstar_training.trainers.sft",
        "--config",
        "run.yaml",
    ]
    assert launcher.training.threads == 8 and launcher.evaluation.launcher == "python"
    plan = subprocess.run(
        [BIN / "redstar", "run", "--profile", "redstar-math", "--dry-run", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    launch = json.loads(plan.stdout)["launch"]
    assert launch["redstar_training.trainers.sft"][1:] == command[1:-1] + ["<run_config.yaml>"]
    assert launch["redstar_training.trainers.dpo"][2:5] == ["accelerate.commands.launch", "--config_file", zero3]
    auto = json.loads(plan.stdout)["automation"]["policies"]
    assert auto["training"] == "manual" and auto["data"] == "eager"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "training_recipes: {sft-full: {learning_rat: 1.0e-5}}\n",
            "training_recipes.sft-full: unknown key 'learning_rat'",
        ),
        ("launch: {training: {launcher: slurm}}\n", "launch.training.launcher 'slurm' is not one of"),
    ],
)
def test_dry_run_of_the_paper_profile_fails_on_a_typo_before_anything_runs(tmp_path, text, message):
    path = tmp_path / "my-math.yaml"
    path.write_text("extends: redstar-math\nname: my-math\n" + text)
    out = subprocess.run(
        [BIN / "redstar", "run", "--profile", str(path), "--dry-run"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 2 and message in out.stderr and str(path) in out.stderr


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "profiles").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_profile_loads_and_builds_its_definitions(path, tmp_path):
    """A profile a user is pointed to in the README must at least validate and give a code location."""
    from redstar_assets.factory import build_definitions

    profile = load_profile(path.stem)
    defs = build_definitions(profile, str(tmp_path))
    assert {"sft_subsets", "benchmark_scores"} <= {k.path[-1] for k in defs.resolve_all_asset_keys()}


def test_a_users_config_folder_comes_before_the_shipped_one(tmp_path, monkeypatch):
    """REDSTAR_CONFIGS adds the user's folders in front: a profile there loads by name, `extends:` a
    shipped one, and one named like a shipped profile takes its place while extending it."""
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "mine.yaml").write_text("extends: demo-tiny\ndescription: my study\n")
    (tmp_path / "profiles" / "demo-tiny.yaml").write_text("extends: demo-tiny\ndescription: my demo-tiny\n")
    monkeypatch.setenv("REDSTAR_CONFIGS", str(tmp_path))
    mine = load_profile("mine")
    assert mine.description == "my study" and mine.path == tmp_path / "profiles" / "mine.yaml"
    assert [e.name for e in mine.experiments] == [e.name for e in load_profile("demo-tiny").experiments]
    assert load_profile("demo-tiny").description == "my demo-tiny"
    with pytest.raises(ProfileError, match=f"unknown profile 'nope': not in {tmp_path}/profiles, "):
        load_profile("nope")


def test_a_profile_names_its_own_benchmark_file_under_its_own_name(tmp_path, monkeypatch):
    """`evaluation.registry` adds the profile's own held-out file to the registry, read from the
    profile's folder; a user's configuration folder may add a benchmarks.yaml of its own too."""
    from redstar_assets.problems.benchmark_files import read_benchmark

    (tmp_path / "held.jsonl").write_text('{"q": "What is 2+2?", "a": "4"}\n{"q": "What is 3+3?", "a": "6"}\n')
    path = tmp_path / "p.yaml"
    path.write_text(
        "extends: demo-tiny\n"
        "evaluation:\n"
        "  registry: {my-heldout: {path: held.jsonl, mapping: {problem: q, answer: a}}}\n"
        "  benchmarks: [my-heldout]\n"
    )
    profile = load_profile(str(path))
    (bench,) = profile.benchmarks
    assert bench.name == "my-heldout" and bench.entry.path == str(tmp_path / "held.jsonl")
    read = read_benchmark("my-heldout", registry=profile.registry)
    assert read.items["answer"].to_list() == ["4", "6"] and read.left_out == []
    path.write_text("extends: demo-tiny\nevaluation: {registry: {bad: {path: held.jsonl, verifier: nope}}}\n")
    with pytest.raises(ProfileError, match=r"p\.yaml: evaluation\.registry: benchmark 'bad': verifier 'nope'"):
        load_profile(str(path))
    (tmp_path / "benchmarks.yaml").write_text(
        "benchmarks:\n  team-set: {path: " + str(tmp_path / "held.jsonl") + ", mapping: {problem: q, answer: a}}\n"
    )
    monkeypatch.setenv("REDSTAR_CONFIGS", str(tmp_path))
    path.write_text("extends: demo-tiny\nevaluation: {benchmarks: [team-set]}\n")
    assert [b.name for b in load_profile(str(path)).benchmarks] == ["team-set"]
