"""The whole graph materialized in-process on an ephemeral instance at test scale: every stage does
its real job (tiny model, a few steps), checks pass, and lineage is recorded where users look."""

import json

import polars as pl
import pytest
from dagster import AssetKey

from redstar_assets.cli.run.execute import execute
from redstar_assets.cli.run.plan import Step
from redstar_assets.lineage.records import latest_materialization


@pytest.fixture(scope="module")
def materialized(tiny_run):
    return tiny_run.instance, tiny_run.data, tiny_run.failed, tiny_run.results


def tiny_profile():
    from redstar_assets.config.profile import load_profile

    return load_profile("demo-tiny")


def _metadata(instance, asset, partition=None):
    record = latest_materialization(instance, asset, partition)
    assert record is not None, f"{asset} [{partition}] was not materialized"
    return record.asset_materialization.metadata


def test_every_step_succeeds(materialized):
    instance, _, failed, _ = materialized
    assert failed is None, [e.message for e in failed.all_events if e.is_failure]


def test_every_asset_declares_a_code_version_and_records_the_commit(materialized, tiny_run):
    """What makes the UI's "stale" and `redstar lineage` answer "what code made this"."""
    import subprocess

    instance, _, _, _ = materialized
    graph = tiny_run.defs.resolve_asset_graph()
    versions = {k.to_user_string(): graph.get(k).code_version for k in graph.get_all_asset_keys()}
    assert all(versions.values()), versions
    assert "+verify-v" in versions["verified_traces"] and "arith-v1" in versions["teacher_traces"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert _metadata(instance, "raw_problems", "arith-add")["code_commit"].value.startswith(head)
    from redstar_assets.lineage.walk import render, walk

    assert f"code {head[:12]}" in "\n".join(render(walk(instance, "benchmark_scores", "cot-random-40")))


def test_lineage_metadata_on_every_asset(materialized):
    instance, _, _, results = materialized
    profile = tiny_profile()
    partitions = {
        "sft_subsets": sorted(profile.subset_recipes)[0],
        "sft_checkpoints": profile.experiments_with("sft")[0],
        "rl_checkpoints": profile.experiments_with("rl")[0],
        "benchmark_scores": "untrained",
        "ablation_report": None,
    }
    for asset in ("raw_problems", "problems", "teacher_traces", "verified_traces", "difficulty_scores", *partitions):
        meta = _metadata(instance, asset, partitions.get(asset, "arith-add"))
        assert "config_hash" in meta and "input_data_versions" in meta, asset


def test_checks_ran_and_passed(materialized):
    instance, _, _, results = materialized
    evaluations = [e for r in results for e in r.get_asset_check_evaluations()]
    seen = {(e.asset_key.to_user_string(), e.check_name) for e in evaluations}
    assert seen == {
        ("problems", "decontamination_clean"),
        ("sft_subsets", "subset_not_empty"),
        ("sft_checkpoints", "checkpoint_loads_and_generates"),
        ("rl_checkpoints", "checkpoint_loads_and_generates"),
        ("benchmark_scores", "heldout_disjoint_from_training"),
    }
    assert all(e.passed for e in evaluations)
    checked = [e.metadata["trained_problems_checked"].value for e in evaluations if e.check_name.startswith("heldout")]
    assert 0 in checked and max(checked) > 0  # the untrained baseline has no training problems; the others do


def test_checkpoint_model_card_names_subset_and_recipe(materialized):
    instance, data, _, _ = materialized
    exp = tiny_profile().experiments_with("sft")[0]
    lineage = json.loads((data / "sft_checkpoints" / exp / "model" / "redstar_lineage.json").read_text())
    subset = json.loads((data / "sft_subsets" / lineage["subset"] / "manifest.json").read_text())
    assert lineage["subset_hash"] == subset["subset_hash"] and lineage["training_recipe"] == "sft-tiny"
    assert (data / "sft_checkpoints" / exp / "model" / "model.safetensors").exists()
    assert subset["subset_hash"] in (data / "sft_checkpoints" / exp / "model" / "README.md").read_text()
    meta = _metadata(instance, "sft_checkpoints", exp)
    assert (data / "sft_checkpoints" / exp / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert meta["loss_plot"].value.startswith("![loss curve](data:image/png;base64,")
    assert meta["train_seconds"].value > 0 and meta["tokens_per_second"].value > 0 and meta["peak_rss_mb"].value > 0


def test_scores_and_report_cover_every_experiment_and_stage(materialized):
    instance, data, _, _ = materialized
    profile = tiny_profile()
    report = pl.read_parquet(data / "ablation_report" / "_" / "data.parquet")
    expected = {(e.name, s, b.name) for e in profile.experiments for s in e.stages for b in profile.benchmarks}
    assert set(report.select("experiment", "stage", "benchmark").rows()) == expected
    assert report["n"].min() == 2 and report["stderr"].null_count() == 0  # arith sets register 2 samples
    assert (data / "ablation_report" / "_" / "scaling.png").read_bytes()[:4] == b"\x89PNG"
    assert (data / "ablation_report" / "_" / "strategies.png").read_bytes()[:4] == b"\x89PNG"
    scores = pl.concat(
        [pl.read_parquet(data / "benchmark_scores" / e.name / "data.parquet") for e in profile.experiments]
    )
    assert scores.filter(pl.col("pass_at_n") < pl.col("avg_at_n")).height == 0  # pass@n >= the mean of n runs
    assert scores["maj_at_n"].null_count() == 0
    assert all(set(json.loads(b)) <= {"1", "2", "3", "4", "None"} for b in scores["greedy_by_level"])
    # the axes come from lineage: a trained row carries the subset hash its checkpoint was trained on
    trained = report.filter(pl.col("experiment") == "cot-random-40").row(0, named=True)
    manifest = json.loads((data / "sft_subsets" / "cot-random-40" / "manifest.json").read_text())
    assert (trained["subset_hash"], trained["scale"], trained["mix"]) == (manifest["subset_hash"], 40, "all")
    assert set(report.filter(pl.col("stage") == "base")["strategy"]) == {"none"}
    outputs = pl.read_parquet(data / "benchmark_scores" / "untrained" / "eval" / "outputs.parquet")
    assert outputs.height == sum(b.count * (1 + b.sampling["n"]) for b in profile.benchmarks) == 12 * 3 + 6 * 3
    meta = _metadata(instance, "benchmark_scores", "untrained")
    assert meta["overlap_after_removal"].value == 0


def test_rerun_with_unchanged_data_reuses_the_checkpoint(materialized, tiny_run):
    """Generation and training are the expensive steps: re-materializing an experiment whose config
    and subset did not change must reuse the checkpoint, not train again."""
    instance, data, _, _ = materialized
    exp = tiny_profile().experiments_with("sft")[0]
    before = (data / "sft_checkpoints" / exp / "model" / "model.safetensors").stat().st_mtime
    steps = [Step((AssetKey("sft_checkpoints"),), exp), Step((AssetKey("benchmark_scores"),), exp)]
    assert execute(tiny_run.defs, instance, steps, {}) is None
    assert _metadata(instance, "sft_checkpoints", exp)["reused"].value is True
    assert (data / "sft_checkpoints" / exp / "model" / "model.safetensors").stat().st_mtime == before
    assert _metadata(instance, "benchmark_scores", exp)["reused"].value is True


def test_lineage_from_a_score_names_subset_hash_teacher_and_recipe(materialized):
    """Walked through the instance's metadata, not file names: score -> RL and SFT checkpoints -> subset
    (its content hash and recipe) -> verified and teacher traces (the teacher) -> problems -> source."""
    from redstar_assets.lineage.walk import render, walk

    instance, data, _, _ = materialized
    node = walk(instance, "benchmark_scores", "cot-random-40")
    flat, stack = [], [node]
    while stack:
        n = stack.pop()
        flat.append(n)
        stack.extend(n.upstream)
    names = {(n.asset, n.partition) for n in flat}
    assert {
        ("rl_checkpoints", "cot-random-40"),
        ("sft_checkpoints", "cot-random-40"),
        ("sft_subsets", "cot-random-40"),
        ("teacher_traces", "arith-add"),
        ("problems", "arith-add"),
        ("raw_problems", "arith-add"),
    } <= names
    subset = next(n for n in flat if n.asset == "sft_subsets")
    recorded = json.loads((data / "sft_subsets" / "cot-random-40" / "manifest.json").read_text())["subset_hash"]
    assert subset.data_version == recorded and subset.config["scale"] == 40
    sft = next(n for n in flat if n.asset == "sft_checkpoints" and not n.repeated)
    assert sft.inputs["sft_subsets"] == {"cot-random-40": recorded}
    teacher = next(n for n in flat if n.asset == "teacher_traces" and not n.repeated)
    assert teacher.config["backend"] == "procedural"
    text = "\n".join(render(node))
    assert f"subset_hash={recorded}" in text and "backend=procedural" in text and "strategy=random" in text


def test_grpo_experiment_trains_from_its_sft_checkpoint_with_verifier_rewards(materialized):
    instance, data, _, _ = materialized
    meta = _metadata(instance, "rl_checkpoints", "cot-random-20")
    assert meta["steps"].value == 2 and meta["groups"].value > 0
    lineage = json.loads((data / "rl_checkpoints" / "cot-random-20" / "model" / "redstar_lineage.json").read_text())
    assert lineage["rl_method"] == "grpo" and lineage["sft_checkpoint_hash"]
