"""The tutorial (docs/tutorial.md) played at test scale, as a new user's study: a CSV of their own
problems, a teacher behind `transformers serve` standing in for `vllm serve`, a ladder of two subsets,
a tiny student, their own held-out file under its own name, and the commands the page gives, from an
empty folder. The user's first tries go wrong the ways they did for the researcher who tried it: a
level column in words, a missing file, a dead endpoint; each is named before anything runs."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.scripted_model import build_scripted_model
from support.servers import free_port, transformers_serve

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

STUDY = """\
name: my-study
description: My word problems, distilled from my teacher, on a ladder of two subset sizes.
sources:
  - name: my-problems
    kind: file
    path: {problems}
    mapping: {{problem: question, answer: final, level: difficulty}}
curation: {{near_duplicates: false}}
teacher:
  backend: openai
  base_url: {teacher}
  model: {model}
  samples_per_problem: 2
  prompt_template: math-long-cot
  sampling: {{temperature: 0.7, max_tokens: 40}}
difficulty: {{easy: 0.75, medium: 0.25}}
subset_recipes:
  cot-4: {{scale: 4, strategy: random, cap: true}}
  cot-8: {{scale: 8, strategy: random, cap: true}}
base_models:
  tiny-student: {{kind: tiny_qwen2, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1,
                 num_attention_heads: 2, num_key_value_heads: 1}}
training_recipes:
  sft: {{num_train_epochs: 1, per_device_train_batch_size: 4, learning_rate: 5.0e-3, bf16: false}}
evaluation:
  registry: {{my-heldout: {{path: heldout.jsonl, mapping: {{problem: q, answer: a}}}}}}
  benchmarks: [my-heldout]
  max_new_tokens: 16
  backend: {{kind: transformers, batch_size: 8}}
launch: {{threads: 2, parallel: 1}}
automation: {{training: manual, evaluation: manual}}
experiments:
  - {{name: cot-4, base_model: tiny-student, subset: cot-4, training: sft, stages: [sft]}}
  - {{name: cot-8, base_model: tiny-student, subset: cot-8, training: sft, stages: [sft]}}
"""


def _problems(path: Path, levels: list[str]) -> None:
    """Word problems whose answer is 7 (what the scripted teacher answers, or 8), a level per row."""
    rows = [f'"Compute {a} + {7 - a}.",7,{levels[a % len(levels)]}' for a in range(8)]
    rows += [f'"Add {a} and {7 - a}.",7,{levels[a % len(levels)]}' for a in range(8)]
    path.write_text("question,final,difficulty\n" + "\n".join(rows) + "\n")


def _redstar(study: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """`redstar ...` typed in the study folder, with the tutorial's two variables set."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDSTAR_PROFILE", "REDSTAR_CONFIGS")}
    env |= {"REDSTAR_HOME": str(study / "data"), "DAGSTER_HOME": str(study / "dagster_home")}
    return subprocess.run([BIN / "redstar", *args], cwd=study, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_the_tutorial_from_an_empty_folder_to_a_scaling_curve(tmp_path):
    study = tmp_path / "my-study"
    (study / "dagster_home").mkdir(parents=True)
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", study / "dagster_home" / "dagster.yaml")
    (study / "heldout.jsonl").write_text(
        "".join(json.dumps({"q": f"Compute {a} + 3.", "a": str(a + 3)}) + "\n" for a in range(3))
    )
    problems = study / "problems.csv"
    profile = study / "my-study.yaml"
    dead = f"http://127.0.0.1:{free_port()}/v1"
    model = build_scripted_model(tmp_path / "teacher")
    profile.write_text(STUDY.format(problems=study / "missing.csv", teacher=dead, model=model))

    # 8. --dry-run: the missing file, then a level column in words, each named with file, row and field
    missing = _redstar(study, "run", "--profile", str(profile), "--dry-run")
    assert (
        missing.returncode == 2 and f"sources.my-problems: no file matches '{study / 'missing.csv'}'" in missing.stderr
    )
    profile.write_text(STUDY.format(problems=problems, teacher=dead, model=model))
    _problems(problems, ["easy", "hard"])
    words = _redstar(study, "run", "--profile", str(profile), "--dry-run")
    assert words.returncode == 2, words.stderr
    assert f"{problems}:2 field 'difficulty': level 'easy' is not an integer" in words.stderr
    _problems(problems, ["1", "2", "3"])

    # 3. the teacher: a dead endpoint is named; the served one says what it serves
    down = _redstar(study, "check-endpoints", "--profile", str(profile))
    assert down.returncode == 1 and down.stdout.startswith(f"teacher {dead}: not answering")
    with transformers_serve(model, tmp_path / "serve.log") as url:
        profile.write_text(STUDY.format(problems=problems, teacher=url, model=model))
        up = _redstar(study, "check-endpoints", "--profile", str(profile))
        assert up.returncode == 0 and up.stdout.strip() == f"teacher {url}: serves {[str(model)]}", up.stdout
        valid = _redstar(study, "run", "--profile", str(profile), "--dry-run")
        assert valid.returncode == 0 and f"profile my-study ({profile}): valid" in valid.stdout, valid.stderr
        assert "my-heldout" in valid.stdout

        # 9. the run from the command line
        run = _redstar(study, "run", "--profile", str(profile))
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    # 11. the ablation, a query and a score's lineage, under the user's own benchmark name
    ablation = _redstar(study, "ablation")
    assert ablation.returncode == 0 and "my-heldout" in ablation.stdout and "gsm8k" not in ablation.stdout
    assert ablation.stderr.startswith(f"redstar: reading data root {study / 'data'}")
    query = _redstar(
        study, "query", "--json",
        "SELECT experiment, benchmark, scale, pass_at_1, teacher_backend, teacher_model FROM lineage "
        "WHERE latest AND stage = 'sft' ORDER BY scale",
    )  # fmt: skip
    rows = json.loads(query.stdout)
    assert [(r["experiment"], r["benchmark"]) for r in rows] == [("cot-4", "my-heldout"), ("cot-8", "my-heldout")]
    assert all(r["teacher_backend"] == "openai" and r["teacher_model"] == str(model) for r in rows)
    assert (study / "data" / "ablation_report" / "_" / "scaling.png").exists()
    chain = _redstar(study, "lineage", "benchmark_scores:cot-8")
    assert chain.returncode == 0 and "teacher_traces[my-problems]" in chain.stdout and str(model) in chain.stdout
