"""Lineage queries: the `lineage` table, `redstar query` over it and the stage tables (answers checked
against values read independently from the score, subset and difficulty files), provenance of use
("trained on", not "read"), `--downstream` and `--stale`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from redstar_assets.lineage.sql import QueryError, run_query

# The README's ready queries (section "Lineage queries"), word for word.
SCALE_CURVE = """
SELECT base_model, strategy, benchmark, scale, pass_at_1, stderr
FROM lineage
WHERE latest AND stage = 'sft'
ORDER BY base_model, strategy, benchmark, scale
"""
SUBSET_DIFFERENCE = """
SELECT d.bucket, count(*) AS problems
FROM subset_ids big JOIN difficulty d USING (problem_id, source)
WHERE big.subset = 'cot-random-40'
  AND big.problem_id NOT IN (SELECT problem_id FROM subset_ids WHERE subset = 'cot-random-20')
GROUP BY d.bucket ORDER BY d.bucket
"""
HELDOUT_BY_LEVEL = """
SELECT o.experiment, o.stage, o.benchmark, h.level, avg(CASE WHEN o.status = 'correct' THEN 1 ELSE 0 END) AS accuracy,
       count(*) AS items
FROM eval_outputs o JOIN heldout h USING (experiment, benchmark, problem_id)
WHERE o.run = 'greedy'
GROUP BY ALL ORDER BY ALL
"""


def _scores(data: Path, experiment: str) -> pl.DataFrame:
    return pl.read_parquet(data / "benchmark_scores" / experiment / "data.parquet")


def _manifest(data: Path, subset: str) -> dict:
    return json.loads((data / "sft_subsets" / subset / "manifest.json").read_text())


def test_the_scale_curve_query_matches_the_score_and_subset_files(tiny_run):
    columns, rows = run_query(tiny_run.data, SCALE_CURVE)
    got = {(r[1], r[2], r[3]): r[4] for r in rows}
    expected = {}
    for exp in tiny_run.profile.experiments_with("sft"):
        exp = tiny_run.profile.experiment(exp)
        recipe = _manifest(tiny_run.data, exp.subset)["recipe"]
        for s in _scores(tiny_run.data, exp.name).filter(pl.col("stage") == "sft").iter_rows(named=True):
            expected[(recipe["strategy"], s["benchmark"], recipe["scale"])] = s["pass_at_1"]
    assert columns[:4] == ["base_model", "strategy", "benchmark", "scale"]
    assert len(expected) == 6 and got == expected  # random at 20 and 40, hard_first at 20, on two benchmarks
    assert {r[0] for r in rows} == {"tiny-qwen2"}


def test_the_subset_difference_by_bucket_matches_the_subset_and_difficulty_files(tiny_run):
    _, rows = run_query(tiny_run.data, SUBSET_DIFFERENCE)
    ids = {
        name: pl.read_parquet(tiny_run.data / "sft_subsets" / name / "ids.parquet")
        for name in ("cot-random-40", "cot-random-20")
    }
    difficulty = pl.read_parquet(tiny_run.data / "difficulty_scores" / "arith-add" / "data.parquet")
    extra = ids["cot-random-40"].filter(~pl.col("problem_id").is_in(ids["cot-random-20"]["problem_id"].implode()))
    expected = extra.join(difficulty, on="problem_id").group_by("bucket").len().sort("bucket")
    assert rows and rows == [tuple(r) for r in expected.iter_rows()]
    assert set(ids["cot-random-40"]["source"]) == {"arith-add"}  # every selected row names its source


def test_heldout_accuracy_by_level_matches_the_evaluation_outputs(tiny_run):
    _, rows = run_query(tiny_run.data, HELDOUT_BY_LEVEL)
    outputs = pl.read_parquet(tiny_run.data / "benchmark_scores" / "cot-random-40" / "eval" / "outputs.parquet")
    items = pl.read_parquet(tiny_run.data / "benchmark_scores" / "cot-random-40" / "benchmark-arith-heldout.parquet")
    greedy = outputs.filter((pl.col("run") == "greedy") & (pl.col("benchmark") == "arith-heldout"))
    expected = (
        greedy.join(items.select("problem_id", "level"), on="problem_id")
        .group_by("stage", "level")
        .agg(pl.col("status").eq("correct").mean().alias("accuracy"), pl.len().alias("items"))
    )
    got = {(r[1], r[3]): (r[4], r[5]) for r in rows if r[0] == "cot-random-40" and r[2] == "arith-heldout"}
    assert got and got == {
        (r["stage"], r["level"]): (r["accuracy"], r["items"]) for r in expected.iter_rows(named=True)
    }


def test_the_lineage_table_names_the_whole_chain_of_each_score(tiny_run):
    table = pl.read_parquet(tiny_run.data / "lineage" / "_" / "data.parquet")
    rl = table.filter((pl.col("experiment") == "cot-random-40") & (pl.col("stage") == "rl")).row(0, named=True)
    manifest = _manifest(tiny_run.data, "cot-random-40")
    assert rl["subset_hash"] == manifest["subset_hash"] and rl["rl_method"] == "dpo" and rl["latest"]
    assert rl["trained_on"] == [
        {"source": "arith-add", "rows": 40, "data_version": rl["trained_on"][0]["data_version"]}
    ]
    verified = json.loads((tiny_run.data / "verified_traces" / "arith-add" / "data.json").read_text())["hash"]
    assert rl["trained_on"][0]["data_version"] == verified
    scores = _scores(tiny_run.data, "cot-random-40").filter(pl.col("stage") == "rl")
    assert rl["checkpoint_hash"] == scores["model_version"][0]
    assert rl["teacher_backend"] == "procedural" and rl["teacher_model"] == "procedural-arith-v1"
    assert rl["code_versions"]["benchmark_scores"].startswith("scores-") and rl["git_commit"]
    base = table.filter(pl.col("experiment") == "untrained")
    assert base["subset_hash"].is_null().all() and base["trained_on"].list.len().fill_null(0).max() == 0


def test_downstream_of_a_source_is_what_trained_on_it_and_rl_records_its_sources(tiny_run):
    from redstar_assets.lineage.records import latest_materialization, meta
    from redstar_assets.lineage.walk import downstream

    profile = tiny_run.profile
    trained = {
        *(("sft_subsets", r) for r in profile.subset_recipes),
        *(("sft_checkpoints", e) for e in profile.experiments_with("sft")),
        *(("rl_checkpoints", e) for e in profile.experiments_with("rl")),
        *(("benchmark_scores", e) for e in profile.experiments_with("sft")),
    }
    found = {(d.asset, d.partition) for d in downstream(tiny_run.instance, "problems", "arith-add")}
    assert found == trained and ("benchmark_scores", "untrained") not in found
    for exp, name in (("cot-random-40", "pairs"), ("cot-random-20", "rl_problems")):  # DPO pairs, GRPO problems
        record = latest_materialization(tiny_run.instance, "rl_checkpoints", exp)
        rows = pl.read_parquet(tiny_run.data / "rl_checkpoints" / exp / f"{name}.parquet").height
        assert rows and meta(record, "trained_on_rows") == {"arith-add": rows}, exp
        assert set(meta(record, "trained_on")) == {"sft_checkpoints", "verified_traces"}


def _cli(*args, data: Path, dagster_home: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "REDSTAR_HOME": str(data)}
    if dagster_home is not None:
        env["DAGSTER_HOME"] = str(dagster_home)
    return subprocess.run(
        [sys.executable, "-m", "redstar_assets.cli.main", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_query_cli_formats_refuses_writes_and_explains_bad_sql(tiny_run, tmp_path):
    data = tiny_run.data
    table = _cli(
        "query", "SELECT experiment, stage, pass_at_1 FROM lineage WHERE latest ORDER BY 1, 2 LIMIT 3", data=data
    )
    assert table.returncode == 0 and table.stdout.splitlines()[0].split() == ["experiment", "stage", "pass_at_1"]
    assert table.stdout.rstrip().endswith("(3 rows)")
    as_json = json.loads(_cli("query", "SELECT count(*) AS n FROM lineage", "--json", data=data).stdout)
    assert as_json == [{"n": pl.read_parquet(data / "lineage" / "_" / "data.parquet").height}]
    csv = _cli("query", "SELECT DISTINCT stage FROM lineage ORDER BY 1", "--csv", data=data).stdout.split()
    assert csv == ["stage", "base", "rl", "sft"]
    light = subprocess.run(
        [sys.executable, "-c", "import sys; from redstar_assets.cli.main import main; main(['query', 'SELECT 1']); "
         "print(sorted(m for m in ('dagster', 'torch', 'pandas') if m in sys.modules))"],
        env={**os.environ, "REDSTAR_HOME": str(data)}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert light.stdout.splitlines()[-1] == "[]", light.stdout + light.stderr  # starts fast: no Dagster, no torch
    png = tmp_path / "curve.png"
    plotted = _cli("query", SCALE_CURVE, "--plot", "x=scale y=pass_at_1 by=strategy", "--out", str(png), data=data)
    assert plotted.returncode == 0 and png.read_bytes()[:4] == b"\x89PNG"

    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    for sql in (
        f"COPY lineage TO '{data}/lineage/_/data.parquet'",
        f"COPY (SELECT 1) TO '{tmp_path}/out.csv'",
        f"ATTACH '{data}/x.duckdb'",
        f"ATTACH '{tiny_run.instance.root_directory}/x.duckdb'",
        "SELECT * FROM read_csv('/etc/passwd')",
    ):
        if "COPY lineage" in sql or "x.duckdb" in sql and str(data) in sql:  # through the command, and in process
            refused = _cli("query", sql, data=data)
            assert refused.returncode == 2 and "Permission Error" in refused.stderr, (sql, refused.stderr)
        with pytest.raises(QueryError, match="file system operations are disabled"):
            run_query(data, sql)
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before and not (tmp_path / "out.csv").exists()
    for bad, message in (
        ("SELEC 1", "Parser Error"),
        ("SELECT * FROM nosuch", "nosuch"),
        ("SELECT nosuch FROM lineage", "nosuch"),
    ):
        result = _cli("query", bad, data=data)
        assert result.returncode == 2 and message in result.stderr and "views:" in result.stderr
        assert "subset_ids" in result.stderr and "columns:" in result.stderr


# A second source that one experiment alone trains on (its subset recipe names it); the other keeps to
# the first source. (The untrained baseline and RL stages are covered on demo-tiny above: two more
# model processes here would cost 40 s.)
TWO_SOURCES = """
extends: demo-tiny
name: two-sources
replace: [sources, subset_recipes, experiments]
sources:
  - {name: arith-add, kind: arithmetic, count: 30, digits: [1, 2], ops: ["+"], seed: 1}
  - {name: arith-sub, kind: arithmetic, count: 30, digits: [1, 2], ops: ["-"], seed: 2}
subset_recipes:
  cot-add-10: {scale: 10, sources: [arith-add]}
  cot-sub-10: {scale: 10, sources: [arith-sub]}
evaluation:
  benchmarks: [{name: arith-heldout, count: 4}]
experiments:
  - {name: cot-add-10, base_model: tiny-qwen2, subset: cot-add-10, training: sft-tiny, stages: [sft]}
  - {name: cot-sub-10, base_model: tiny-qwen2, subset: cot-sub-10, training: sft-tiny, stages: [sft]}
"""


@pytest.mark.slow
def test_downstream_follows_trained_on_and_stale_follows_code_versions(tmp_path, monkeypatch):
    from dagster import AssetKey
    from support.fresh_run import run_profile

    import redstar_assets.evaluation.assets as evaluation_assets
    from redstar_assets.cli.run.execute import execute
    from redstar_assets.cli.run.plan import Step
    from redstar_assets.config.profile import load_profile
    from redstar_assets.factory import build_definitions
    from redstar_assets.lineage.walk import downstream

    path = tmp_path / "two-sources.yaml"
    path.write_text(TWO_SOURCES)
    instance, data = run_profile(str(path), tmp_path, monkeypatch)
    sub = {"sft_subsets", "sft_checkpoints", "benchmark_scores"}
    for target in ("problems:arith-sub", "raw_problems:arith-sub", "verified_traces:arith-sub"):
        asset, _, partition = target.partition(":")
        assert {(d.asset, d.partition) for d in downstream(instance, asset, partition)} == {
            (a, "cot-sub-10") for a in sub
        }, target
    assert {(d.asset, d.partition) for d in downstream(instance, "sft_subsets", "cot-add-10")} == {
        ("sft_checkpoints", "cot-add-10"),
        ("benchmark_scores", "cot-add-10"),
    }
    assert json.loads((data / "sft_subsets" / "cot-sub-10" / "manifest.json").read_text())["trained_on_rows"] == {
        "arith-sub": 10
    }
    ids = pl.read_parquet(data / "sft_subsets" / "cot-sub-10" / "ids.parquet")
    sub_problems = pl.read_parquet(data / "problems" / "arith-sub" / "data.parquet")["problem_id"]
    assert ids["problem_id"].is_in(sub_problems.implode()).all() and set(ids["source"]) == {"arith-sub"}

    cli = _cli(
        "lineage", "--downstream", "problems:arith-sub", "--stale", "--json", "--profile", str(path),
        data=data, dagster_home=tmp_path / "dagster_home",
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert {(d["asset"], d["partition"], d["is_stale"]) for d in json.loads(cli.stdout)} == {
        (a, "cot-sub-10", False) for a in sub
    }

    # The scores' code changes: --stale names them (and only them) before the re-run ...
    monkeypatch.setattr(evaluation_assets, "SCORES_VERSION", "scores-bumped")
    profile = load_profile(str(path))
    defs = build_definitions(profile, str(data))
    current = {s.key.to_user_string(): s.code_version for s in defs.resolve_all_asset_specs()}
    stale = {(d.asset, d.partition): d.stale for d in downstream(instance, "problems", "arith-sub", current)}
    assert [k for k, why in stale.items() if why] == [("benchmark_scores", "cot-sub-10")]
    assert "code version scores-v6 -> scores-bumped" in stale[("benchmark_scores", "cot-sub-10")]
    # ... and after it the table holds both materializations, the newest marked
    steps = [Step((AssetKey("benchmark_scores"),), "cot-sub-10"), Step((AssetKey("lineage"),), None)]
    assert execute(defs, instance, steps, {}) is None
    table = pl.read_parquet(data / "lineage" / "_" / "data.parquet").filter(pl.col("experiment") == "cot-sub-10")
    assert table.height == 2 and table["scores_run_id"].n_unique() == 2  # one row for each materialization
    newest = table.filter(pl.col("latest"))
    assert newest.height == 1 and set(newest["code_versions"].struct.field("benchmark_scores")) == {"scores-bumped"}
    assert set(table.filter(~pl.col("latest"))["code_versions"].struct.field("benchmark_scores")) == {"scores-v6"}
    assert newest["scored_at"].min() > table.filter(~pl.col("latest"))["scored_at"].max()
    assert not any(d.stale for d in downstream(instance, "problems", "arith-sub", current))
    other = pl.read_parquet(data / "lineage" / "_" / "data.parquet").filter(pl.col("experiment") == "cot-add-10")
    assert other.height == 1 and other["latest"].all() and other["trained_on"][0][0]["source"] == "arith-add"


def test_the_upstream_tree_labels_a_source_read_but_not_trained_on():
    """A subset that read two sources' traces and took rows from one: the tree says so of the other."""
    import dagster as dg

    from redstar_assets.lineage.walk import render, walk

    instance = dg.DagsterInstance.ephemeral()
    for partition in ("used", "unused"):
        instance.report_runless_asset_event(
            dg.AssetMaterialization("verified_traces", partition=partition, metadata={"config": {}})
        )
    versions = {"used": "v-used", "unused": "v-unused"}
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            "sft_subsets",
            partition="s",
            metadata={
                "input_data_versions": dg.MetadataValue.json({"verified_traces": versions}),
                "trained_on": dg.MetadataValue.json({"verified_traces": {"used": "v-used"}}),
            },
        )
    )
    node = walk(instance, "sft_subsets", "s")
    assert {(u.partition, u.not_trained_on) for u in node.upstream} == {("used", False), ("unused", True)}
    lines = render(node)
    assert any("verified_traces[unused]  (read, not trained on" in line for line in lines)
    assert not any("verified_traces[used]  (read" in line for line in lines)


def test_every_score_row_of_a_run_carries_its_environment_stamp_and_seed(tiny_run):
    """Through the assets: each score row's stamp names the libraries, backend, dtype, device, sampling,
    verifier, prompt hash and commit; the lineage table has the arm and training seed; the report's
    comparisons are a view."""
    table = pl.read_parquet(tiny_run.data / "lineage" / "_" / "data.parquet").filter(pl.col("latest"))
    assert table.height and table["environment"].null_count() == 0
    for row in table.iter_rows(named=True):
        stamp = json.loads(row["environment"])
        assert {"torch", "transformers", "trl"} <= set(stamp["libraries"]) and stamp["backend"] == "transformers"
        assert stamp["code_commit"] == row["git_commit"] and stamp["verifier_version"].startswith("verify-")
        assert stamp["dtype"] and stamp["device"] and len(stamp["prompt_template_hash"]) == 16
        assert stamp["seeds"] == json.loads(_scores(tiny_run.data, row["experiment"])["seeds"][0])
    seeded = (
        table.filter(pl.col("arm") == "cot-hard-20").select("experiment", "training_seed").unique().sort("experiment")
    )
    assert seeded.rows() == [("cot-hard-20@s0", 0), ("cot-hard-20@s1", 1)]
    columns, rows = run_query(
        tiny_run.data, "SELECT a, b, seeds_a, verdict FROM comparisons WHERE comparison = 'hard-first vs random'"
    )
    assert {r[:3] for r in rows} == {("cot-hard-20 (sft)", "cot-random-20 (sft)", 2)}
    assert all(r[3] in ("better", "worse", "no difference") for r in rows)
