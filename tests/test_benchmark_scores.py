"""`benchmark_scores` on registry entries: code benchmarks in the sandbox, list answers with their
tolerance, unusable rows left out and named, the held-out check on code subsets and GRPO files, and
generation through the backends (a served checkpoint, a killed evaluation that resumes)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import yaml
from support.scripted_model import build_scripted_model

ROOT = Path(__file__).resolve().parents[1]

OLYMPIAD_ROWS = [  # OlympiadBench's own field names; the registry maps them
    {"id": 1, "question": "Give 3 + 4 to within 0.01.", "final_answer": ["7.004"], "error": "1e-2", "subfield": "A"},
    {"id": 2, "question": "Name both roots of (x-7)(x-8).", "final_answer": ["7", "8"], "error": None, "subfield": "A"},
    {"id": 3, "question": "Compute 3.5 + 3.6.", "final_answer": ["7.1"], "error": None, "subfield": "A"},
    {"id": 4, "question": "A row with no answer.", "final_answer": "", "error": None, "subfield": "A"},
]


@pytest.fixture(scope="module")
def scripted(tmp_path_factory) -> Path:
    """A real checkpoint that answers `\\boxed{7}` to any prompt."""
    return build_scripted_model(tmp_path_factory.mktemp("models") / "scripted")


@pytest.fixture
def registry_run(tmp_path, monkeypatch, scripted, shared_data, sandbox):
    """A profile evaluating three HumanEval items and an OlympiadBench-style file, both by registry
    name, with the scripted checkpoint as base model; returns a function that materializes one
    experiment's `benchmark_scores` on an ephemeral instance."""
    from dagster import AssetKey, DagsterInstance

    from redstar_assets.config.profile import load_profile
    from redstar_assets.factory import build_definitions

    benchmarks = tmp_path / "benchmarks"
    benchmarks.mkdir()
    humaneval = (shared_data / "benchmarks" / "humaneval.jsonl").read_text().splitlines(keepends=True)
    (benchmarks / "humaneval.jsonl").write_text("".join(humaneval[:5]))
    (benchmarks / "olympiadbench.jsonl").write_text("".join(json.dumps(r) + "\n" for r in OLYMPIAD_ROWS))
    data = tmp_path / "data"
    monkeypatch.setenv("REDSTAR_HOME", str(data))
    monkeypatch.setenv("REDSTAR_BENCHMARKS", str(benchmarks))
    profile_file = tmp_path / "scores.yaml"
    profile_file.write_text(
        yaml.safe_dump(
            {
                "extends": "demo-tiny",
                "name": "scores-registry",
                "base_models": {"scripted": {"kind": "local", "path": str(scripted)}},
                "evaluation": {
                    "benchmarks": [
                        {"name": "humaneval", "count": 3, "sampling": {"n": 1}, "max_tokens": 40},
                        {"name": "olympiadbench", "sampling": {"n": 0}, "max_tokens": 40},
                    ],
                    "backend": {"kind": "transformers", "batch_size": 4},
                },
                "experiments": [
                    {"name": "untrained", "base_model": "scripted", "stages": ["base"]},
                    {
                        "name": "leaky",
                        "base_model": "scripted",
                        "subset": "cot-random-20",
                        "training": "sft-tiny",
                        "rl": "grpo-tiny",
                        "stages": ["sft", "rl"],
                    },
                ],
            }  # fmt: skip
        )
    )
    profile = load_profile(str(profile_file))
    defs = build_definitions(profile, str(data))
    instance = DagsterInstance.ephemeral()
    job = defs.resolve_implicit_global_asset_job_def()

    def materialize(experiment: str):
        result = job.execute_in_process(
            instance=instance,
            partition_key=experiment,
            asset_selection=[AssetKey("benchmark_scores")],
            raise_on_error=False,
        )
        (materialization,) = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
        (check,) = result.get_asset_check_evaluations()
        return materialization.metadata, check

    return data, materialize


def test_code_and_list_benchmarks_are_scored_as_registered(registry_run):
    data, materialize = registry_run
    metadata, check = materialize("untrained")
    assert check.passed
    from redstar_assets.storage import Store

    scores = {r["benchmark"]: r for r in Store(data).read("benchmark_scores", "untrained").to_dicts()}
    outputs = pl.read_parquet(data / "benchmark_scores" / "untrained" / "eval" / "outputs.parquet")

    # OlympiadBench: the list answer within its 1e-2 tolerance is correct, a two-element list and a
    # value off by 0.1 are not; the row with no answer is left out, named, and not counted
    olympiad = outputs.filter(pl.col("benchmark") == "olympiadbench", pl.col("run") == "greedy")
    assert olympiad["status"].to_list() == ["correct", "wrong", "wrong"]
    assert scores["olympiadbench"]["num_problems"] == 3 and scores["olympiadbench"]["items_left_out"] == 1
    assert scores["olympiadbench"]["pass_at_1"] == pytest.approx(1 / 3)
    assert scores["olympiadbench"]["n"] == 0 and scores["olympiadbench"]["avg_at_n"] is None
    (left_out,) = metadata["left_out"].value["olympiadbench"]
    assert (
        left_out["row"] == 4
        and "olympiadbench.jsonl:4: field 'final_answer': missing or empty answer" in left_out["reason"]
    )

    # HumanEval: each output became a program (prompt + completion) that ran its tests in the sandbox
    code = outputs.filter(pl.col("benchmark") == "humaneval")
    assert code.height == 3 * 2 and set(code["run"]) == {"greedy", "seed1234"}
    assert code["extracted"].is_null().all()  # judged as programs, not by a math answer
    # prompt + "<think>..." does not even parse: wrong before any sandbox start, and the reason says so
    assert set(code["status"]) == {"wrong"}
    assert all(r.startswith("not a Python program: SyntaxError") for r in code["reason"]), code["reason"].to_list()
    assert scores["humaneval"]["num_problems"] == 3 and scores["humaneval"]["n"] == 1
    shown = metadata["benchmarks"].value
    assert shown["humaneval"]["overrides"] == {"count": 3, "sampling": {"n": 1}, "max_tokens": 40}
    assert shown["humaneval"]["sampling"] == {"n": 1, "temperature": 0.6, "top_p": 0.95}

    again, _ = materialize("untrained")  # same checkpoint, items and sampling: nothing is generated
    assert again["reused"].value is True


def test_the_heldout_check_fails_on_a_benchmark_problem_in_a_code_subset_or_a_grpo_file(registry_run, scripted):
    """Planted past `problems`' overlap removal, straight into the training files: the check reads
    their `problem_id`s, whatever the domain."""
    from redstar_assets.config.evaluation_suite import eval_benchmarks
    from redstar_assets.evaluation.heldout import build_benchmark
    from redstar_assets.storage import Store

    data, materialize = registry_run
    store = Store(data)
    for stage in ("sft_checkpoints", "rl_checkpoints"):  # the trained checkpoints the scores would read
        shutil.copytree(scripted, store.folder(stage, "leaky") / "model")
    (spec,) = eval_benchmarks([{"name": "humaneval", "count": 3}], "test")
    planted = build_benchmark(spec, set()).items
    subset_ids = pl.DataFrame({"trace_id": ["t1"], "problem_id": [planted["problem_id"][0]], "domain": ["code"]})
    store.write(subset_ids, "sft_subsets", "cot-random-20", name="ids")
    _, check = materialize("leaky")
    assert not check.passed and check.metadata["overlap"].value == 1

    os.remove(store.path("sft_subsets", "cot-random-20", "ids"))
    grpo = pl.DataFrame({"problem_id": [planted["problem_id"][2]], "problem": [planted["problem"][2]], "answer": [""]})
    store.write(grpo, "rl_checkpoints", "leaky", name="rl_problems")
    metadata, check = materialize("leaky")
    assert metadata["reused"].value is True  # no generation the second time; the check still runs
    assert not check.passed and check.metadata["overlap"].value == 1


def _eval_config(tmp_path: Path, models: list[dict], bench_file: Path, backend: dict, n: int, name: str) -> Path:
    cfg = {
        "models": models,
        "benchmarks": [{"name": "arith-heldout", "file": str(bench_file), "n": n, "temperature": 0.7}],
        "output_dir": str(tmp_path / name),
        "cache_file": str(tmp_path / f"{name}.sqlite"),
        "max_new_tokens": 48,
        "backend": backend,
        "threads": 1,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _evaluate(config: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "redstar_training.generation.evaluate", "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return json.loads(re.search(r"^done: (\{.*\})$", out.stdout, re.M)[1])


def _checkpoint(tiny_run) -> tuple[dict, Path]:
    exp = "cot-random-40"
    bench = tiny_run.data / "benchmark_scores" / exp / "benchmark-arith-heldout.parquet"
    return {"stage": "sft", "path": str(tiny_run.data / "sft_checkpoints" / exp / "model")}, bench


def test_a_checkpoint_served_by_transformers_serve_gets_the_in_process_verdicts(tiny_run, scripted, tmp_path):
    """The demo-tiny SFT checkpoint (and the scripted one, which gets `Compute 3 + 4.` right) through
    a real `transformers serve` that the evaluation starts for each (openai backend), against
    in-process generation at batch size 1, both greedy: the same texts and the same verdicts."""
    from redstar_assets.problems.normalize import problem_id

    sft, bench = _checkpoint(tiny_run)
    items = pl.read_parquet(bench)
    extra = items.head(1).with_columns(
        pl.lit("Compute 3 + 4.").alias("problem"), pl.lit("7").alias("answer"),
        pl.lit(problem_id("math", "Compute 3 + 4.")).alias("problem_id"),
    )  # fmt: skip
    pl.concat([items, extra]).write_parquet(tmp_path / "bench.parquet")
    models = [sft, {"stage": "scripted", "path": str(scripted)}]
    local = _eval_config(
        tmp_path, models, tmp_path / "bench.parquet", {"kind": "transformers", "batch_size": 1}, 0, "local"
    )
    serve = {"preset": "transformers", "args": ["--device", "cpu"], "timeout_s": 180}
    backend = {"kind": "openai", "concurrency": 2, "serve": serve}
    served = _eval_config(tmp_path, models, tmp_path / "bench.parquet", backend, 0, "served")
    total = 2 * (items.height + 1)
    assert _evaluate(local)["requested"] == _evaluate(served)["requested"] == total
    a = pl.read_parquet(tmp_path / "local" / "outputs.parquet")
    b = pl.read_parquet(tmp_path / "served" / "outputs.parquet")
    assert a.select("stage", "problem_id").rows() == b.select("stage", "problem_id").rows()
    assert a["status"].to_list() == b["status"].to_list() and a["status"].to_list().count("correct") == 1
    # the same text; the server hands the thinking back apart and the backend puts it in front again
    assert [re.sub(r"\s+", "", t) for t in a["output"]] == [re.sub(r"\s+", "", t) for t in b["output"]]
    assert (tmp_path / "served" / "serve-scripted.log").exists()
    assert _evaluate(served)["requested"] == 0  # all cached: no server is started again


def test_a_killed_evaluation_resumes_with_only_the_missing_samples(tiny_run, tmp_path):
    model, bench = _checkpoint(tiny_run)
    config = _eval_config(tmp_path, [model], bench, {"kind": "transformers", "batch_size": 1}, 3, "resume")
    total = 12 * (1 + 3)
    proc = subprocess.Popen(
        [sys.executable, "-m", "redstar_training.generation.evaluate", "--config", str(config)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    cache = tmp_path / "resume.sqlite"

    def cached() -> int:
        try:
            with sqlite3.connect(cache, timeout=30) as db:
                return db.execute("SELECT count(*) FROM samples").fetchone()[0]
        except sqlite3.OperationalError:
            return 0  # not created yet

    deadline = time.monotonic() + 300
    while cached() < 10:
        assert proc.poll() is None and time.monotonic() < deadline, "evaluation ended before it could be killed"
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = cached()
    assert 10 <= done < total
    summary = _evaluate(config)
    assert summary["requested"] == total - done and summary["from_cache"] == done and cached() == total
    assert pl.read_parquet(tmp_path / "resume" / "outputs.parquet").height == total


@pytest.mark.parametrize(
    "script, message",
    [
        ("print('loading weights', flush=True); import time; time.sleep(60)", r"did not answer .*/health within 2s"),
        ("print('CUDA out of memory', flush=True); raise SystemExit(3)", r"exited with code 3 before answering"),
    ],
)
def test_a_server_that_does_not_come_up_is_an_error_with_its_log_tail(tmp_path, script, message):
    from redstar_training.generation.serve import ServerDidNotStart, ServeSpec, served

    spec = ServeSpec(command=[sys.executable, "-c", script], timeout_s=2)
    started = time.monotonic()
    with pytest.raises(ServerDidNotStart, match=message) as err, served("m", spec, tmp_path / "serve.log"):
        pass
    assert re.search(r"last lines of .*serve\.log:\n(loading weights|CUDA out of memory)", str(err.value))
    assert time.monotonic() - started < 30
