"""Stage 5: every experiment scored on held-out benchmarks, and the ablation report over all of them."""

import json

import polars as pl
from dagster import (
    AllPartitionMapping,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetsDefinition,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    PipesSubprocessClient,
    StaticPartitionMapping,
    StaticPartitionsDefinition,
    asset,
)

from redstar_assets.evaluation.fingerprint import eval_inputs, eval_key, stage_model_ids, stage_models
from redstar_assets.evaluation.heldout import build_benchmark
from redstar_assets.evaluation.report import (
    ablation_table,
    benchmark_matrix,
    plot_scaling,
    plot_strategies,
)
from redstar_assets.launcher import ModelLauncher, reported
from redstar_assets.lineage import lineage_metadata, markdown_table, preview
from redstar_assets.lineage_table import lineage_rows
from redstar_assets.placement import model_op_tags
from redstar_assets.problems.inbox import written_sources
from redstar_assets.profile import Profile
from redstar_assets.provenance import trained_on_metadata
from redstar_assets.resources import RedstarHome
from redstar_training.runconfig import config_hash

DISJOINT_CHECK = "heldout_disjoint_from_training"
# v4: typed score metadata, scores kept per data version; v3: registry benchmarks, per-benchmark
# sampling, generation through the backends
SCORES_VERSION = "scores-v4"
REPORT_VERSION = "report-v2"
LINEAGE_VERSION = "lineage-v1"


def trained_problem_ids(store, exp) -> set[str]:
    """Ids of the problems this experiment actually trained on, read from the training files themselves
    (the subset's ids, the DPO pairs, the GRPO problems), for any domain, independently of how the
    benchmark was filtered."""
    files = [("sft_subsets", exp.subset, "ids")] if exp.subset else []
    if "rl" in exp.stages:
        files += [("rl_checkpoints", exp.name, "pairs"), ("rl_checkpoints", exp.name, "rl_problems")]
    ids: set[str] = set()
    for stage_asset, partition, name in files:
        if store.exists(stage_asset, partition, name):
            path = store.path(stage_asset, partition, name)
            ids.update(pl.read_parquet(path, columns=["problem_id"])["problem_id"])
    return ids


SCORE_FIELDS = ("stage", "benchmark", "pass_at_1_greedy", "avg_at_n", "n", "stderr", "maj_at_n", "pass_at_n",
                "num_problems", "model_version")  # fmt: skip


def score_metadata(scores: pl.DataFrame) -> dict:
    """The scores as typed metadata, not only a markdown table: `score_rows` (every metric of every
    (stage, benchmark), which the `lineage` asset reads back from the event log) and one float per
    pass@1, which the UI plots across materializations."""
    rows = scores.select([c for c in SCORE_FIELDS if c in scores.columns]).to_dicts()
    floats = {
        f"pass@1/{r['stage']}/{r['benchmark']}": MetadataValue.float(float(r["pass_at_1_greedy"]))
        for r in rows
        if r.get("pass_at_1_greedy") is not None
    }
    return {"score_rows": MetadataValue.json(rows), **floats}


def keep_version(store, experiment: str, scores: pl.DataFrame, version: str) -> None:
    """A copy of the scores (and a hard link to the outputs) per data version, under `history/`, so an
    earlier materialization's numbers stay readable after the next one replaces `data.parquet`."""
    import os

    history = store.folder("benchmark_scores", experiment) / "history"
    history.mkdir(parents=True, exist_ok=True)
    if not (history / f"scores-{version}.parquet").exists():
        store.write(scores, "benchmark_scores", experiment, name=f"history/scores-{version}")
    outputs = store.folder("benchmark_scores", experiment) / "eval" / "outputs.parquet"
    kept = history / f"outputs-{version}.parquet"
    if outputs.exists() and not kept.exists():
        try:
            os.link(outputs, kept)
        except OSError:  # a file system without hard links: a copy
            import shutil

            shutil.copyfile(outputs, kept)


def _last_stage_mapping(profile: Profile, stage: str) -> StaticPartitionMapping:
    """Scores wait for an experiment's last trained stage only (rl after sft), so an SFT change that
    also retrains RL scores once, after RL."""
    return StaticPartitionMapping(
        {e.name: e.name for e in profile.experiments if profile.last_checkpoint_stage(e) == stage}
    )


def build_evaluation_assets(
    profile: Profile,
    condition,
    report_condition,
    problems: AssetsDefinition,
    sft: AssetsDefinition,
    rl: AssetsDefinition,
) -> list[AssetsDefinition]:
    @asset(
        partitions_def=StaticPartitionsDefinition([e.name for e in profile.experiments]),
        group_name="evaluation",
        pool="gpu",
        op_tags=model_op_tags(profile, "evaluation"),
        deps=[
            AssetDep(sft, partition_mapping=_last_stage_mapping(profile, "sft")),
            AssetDep(rl, partition_mapping=_last_stage_mapping(profile, "rl")),
            AssetDep(problems, partition_mapping=AllPartitionMapping()),
        ],
        code_version=SCORES_VERSION,
        automation_condition=condition,
        check_specs=[
            AssetCheckSpec(
                DISJOINT_CHECK,
                asset="benchmark_scores",
                blocking=True,
                description="No evaluated problem is a training problem (by content hash).",
            )
        ],
    )
    def benchmark_scores(
        context: AssetExecutionContext,
        redstar: RedstarHome,
        launcher: ModelLauncher,
        pipes_subprocess_client: PipesSubprocessClient,
    ):
        """One row per (experiment, stage, benchmark): greedy pass@1 and sampled avg@n with n, seeds and
        standard error, on held-out problems disjoint from every problem in the pool. Every generated
        output is kept with its verdict for audit (outputs.parquet beside the scores). When the
        checkpoints, benchmarks, sampling and verifier are those of the last evaluation, its scores are
        reused instead of generating again."""
        exp = profile.experiment(context.partition_key)
        store = redstar.store()
        sources = written_sources(profile, store, "problems")
        pool = store.read_all("problems", sources)["problem_id"].to_list() if sources else []
        bench_files, overlaps, sizes, heldout, left_out = [], {}, {}, {}, {}
        benchmarks = profile.benchmarks_for(exp)
        for spec in benchmarks:
            held = build_benchmark(spec, set(pool))
            overlaps[spec.name], sizes[spec.name] = held.overlap_removed, held.items.height
            if held.left_out:
                left_out[spec.name] = held.left_out
                first = held.left_out[0]["reason"]
                context.log.warning(f"{spec.name}: {len(held.left_out)} unusable rows left out; first: {first}")
            name = f"benchmark-{spec.name}"
            heldout[spec.name] = store.write(held.items, "benchmark_scores", exp.name, name=name)
            bench_files.append(
                {
                    **spec.run_spec(),
                    "file": str(store.path("benchmark_scores", exp.name, name)),
                    "left_out": len(held.left_out),
                }
            )
        evaluated = set(pl.concat([pl.read_parquet(b["file"]) for b in bench_files])["problem_id"].to_list())
        trained_on = trained_problem_ids(store, exp)
        still_overlapping = len(evaluated & trained_on)
        out_dir = store.folder("benchmark_scores", exp.name)
        models = stage_models(store, profile, exp)
        inputs = eval_inputs(stage_model_ids(context.instance, profile, exp, models), profile, exp)
        key = eval_key(inputs, heldout, launcher.evaluation.threads)
        stamp = out_dir / "eval" / "eval_key"
        reused = stamp.exists() and stamp.read_text() == key and store.exists("benchmark_scores", exp.name)
        if reused:
            context.log.info("same checkpoints, benchmarks, sampling and verifier as the last evaluation: reusing it")
            scores = store.read("benchmark_scores", exp.name)
        else:
            stamp.unlink(missing_ok=True)
            run_config = {
                **profile.evaluation,
                "models": [{**m, "version": str(inputs["models"][m["stage"]])} for m in models],
                "benchmarks": bench_files,
                "output_dir": str(out_dir / "eval"),
                "cache_file": redstar.eval_sample_cache_path(),
                "code_verdict_cache": redstar.code_verdict_cache_path(),
            }
            result = reported(
                launcher.run(
                    context, pipes_subprocess_client, "evaluation", "redstar_training.evaluate", run_config, out_dir
                )
            )
            # The checkpoint a row scores is part of what the row is: a retrained model with the same
            # numbers is still a new score, so the report and lineage follow it.
            scores = pl.DataFrame(result["scores"], infer_schema_length=None).with_columns(
                pl.lit(exp.name).alias("experiment"),
                pl.col("stage").replace_strict({k: str(v) for k, v in inputs["models"].items()}).alias("model_version"),
            )
        version = store.write(scores, "benchmark_scores", exp.name)
        keep_version(store, exp.name, scores, version)
        if not reused:
            stamp.write_text(key)
        trained = {f"{stage}_checkpoints": {exp.name: v} for stage, v in inputs["models"].items() if stage != "base"}
        yield MaterializeResult(
            metadata={
                "scores": MetadataValue.md(markdown_table(scores.drop("model_path", "seeds", "model_version"))),
                "benchmark_sizes": MetadataValue.json(sizes),
                "benchmarks": MetadataValue.json(
                    {
                        b.name: {"sampling": b.sampling, "max_tokens": b.max_tokens, "overrides": b.overrides}
                        for b in benchmarks
                    }
                ),  # fmt: skip
                "left_out": MetadataValue.json({k: v[:20] for k, v in left_out.items()}),
                "overlap_removed": MetadataValue.json(overlaps),
                "overlap_after_removal": still_overlapping,
                "reused": reused,
                **({} if reused else {k: result[k] for k in ("samples", "requested", "from_cache")}),
                "eval_inputs": config_hash(inputs),
                "checkpoints": MetadataValue.json({m["stage"]: m["path"] for m in models}),
                "outputs_path": MetadataValue.path(str(out_dir / "eval" / "outputs.parquet")),
                **score_metadata(scores),
                **lineage_metadata(
                    {**profile.evaluation, "benchmarks": [b.name for b in benchmarks], "base_model": exp.base_model},
                    {
                        **trained,
                        "base_model": inputs["models"].get("base"),
                        "problems": store.versions("problems", sources),
                    },
                ),
                **trained_on_metadata(trained),
            },
            data_version=DataVersion(version),
        )
        yield AssetCheckResult(
            check_name=DISJOINT_CHECK,
            passed=still_overlapping == 0,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "overlap": still_overlapping,
                "trained_problems_checked": len(trained_on),
                "removed_before_eval": json.dumps(overlaps),
            },
        )

    def over_all_scores(code_version: str):
        """An unpartitioned asset over every experiment's scores, rebuilt when any of them changes."""
        return asset(
            group_name="evaluation",
            deps=[AssetDep(benchmark_scores, partition_mapping=AllPartitionMapping())],
            code_version=code_version,
            automation_condition=report_condition,
        )

    @over_all_scores(REPORT_VERSION)
    def ablation_report(context: AssetExecutionContext, redstar: RedstarHome) -> MaterializeResult:
        """One table over all experiments (subset scale, difficulty strategy, domain mix, target format,
        base model, stage, benchmark, pass@1, avg@n, n, stderr) assembled from the experiments' lineage in
        the instance, with plots of score against subset scale and of the strategies side by side. The
        answer to "how do data scale, difficulty and mix move the scores?"."""
        store = redstar.store()
        table = ablation_table(context.instance, store, profile)
        version = store.write(table, "ablation_report")
        png = plot_scaling(table, store.folder("ablation_report") / "scaling.png")
        strategies = plot_strategies(table, store.folder("ablation_report") / "strategies.png")
        md = markdown_table(
            table.select(
                "experiment",
                "stage",
                "base_model",
                "scale",
                "strategy",
                "mix",
                "target_format",
                "benchmark",
                "pass_at_1",
                "avg_at_n",
                "n",
                "stderr",
            )
        )
        several = table["benchmark"].n_unique() > 1
        matrix = markdown_table(benchmark_matrix(table, [b.name for b in profile.benchmarks])) if several else None
        text = md + (f"\n\nBy benchmark (pass@1 / avg@n (stderr)):\n\n{matrix}" if matrix else "")
        (store.folder("ablation_report") / "report.md").write_text(text + "\n")
        return MaterializeResult(
            metadata={
                "table": MetadataValue.md(md),
                **({"by_benchmark": MetadataValue.md(matrix)} if matrix else {}),
                "plot": MetadataValue.md(png.markdown),
                "plot_path": MetadataValue.path(str(png.path)),
                "strategy_plot": MetadataValue.md(strategies.markdown),
                "rows": table.height,
                "experiments": table["experiment"].n_unique(),
                **lineage_metadata(
                    {"profile": profile.name},
                    {"benchmark_scores": store.versions("benchmark_scores", [e.name for e in profile.experiments])},
                ),
            },
            data_version=DataVersion(version),
        )

    @over_all_scores(LINEAGE_VERSION)
    def lineage(context: AssetExecutionContext, redstar: RedstarHome) -> MaterializeResult:
        """Every score with its whole lineage as one queryable table: one row per (experiment, stage,
        benchmark) for each materialization of benchmark_scores (the newest marked `latest`), with the
        checkpoint, training and RL recipes, subset recipe and hash, the sources trained on with their
        data versions, teacher, difficulty and quality specs, code versions, commit, runs and times,
        read from the instance's event log. `redstar query "SQL"` reads it as the view `lineage`."""
        store = redstar.store()
        table = lineage_rows(context.instance, store)
        version = store.write(table, "lineage")
        latest = table.filter(pl.col("latest"))
        return MaterializeResult(
            metadata={
                "rows": table.height,
                "latest_rows": latest.height,
                "score_materializations": table.select("experiment", "scores_run_id").n_unique(),
                "path": MetadataValue.path(str(store.path("lineage"))),
                "sample": preview(
                    latest.select("experiment", "stage", "benchmark", "pass_at_1", "scale", "strategy", "subset_hash"),
                    rows=10,
                ),
            },
            data_version=DataVersion(version),
        )

    return [benchmark_scores, ablation_report, lineage]
