"""Stage 5: every experiment scored on held-out benchmarks, and the ablation report over all of them."""

import json
from dataclasses import dataclass, field

import dagster as dg
import polars as pl

from redstar_assets.config.sections import Profile
from redstar_assets.deploy.placement import model_placement
from redstar_assets.evaluation.comparisons import VERDICT_NOTE, comparison_table, verdict_view
from redstar_assets.evaluation.fingerprint import (
    SCORES_VERSION,
    eval_inputs,
    eval_key,
    split_stage,
    stage_model_ids,
    stage_models,
)
from redstar_assets.evaluation.heldout import build_benchmark
from redstar_assets.evaluation.report import (
    ablation_table,
    arm_summary,
    benchmark_matrix,
    plot_scaling,
    plot_strategies,
)
from redstar_assets.evaluation.rl_report import plot_rl_curves, training_rewards
from redstar_assets.evaluation.stamps import with_commit_column
from redstar_assets.launcher import ModelLauncher, reported
from redstar_assets.lineage.metadata import code_commit, lineage_metadata, markdown_table, preview
from redstar_assets.lineage.provenance import trained_on_metadata
from redstar_assets.lineage.table import lineage_rows
from redstar_assets.problems.inbox import written_sources
from redstar_assets.resources import RedstarHome
from redstar_training.files.run_config import config_hash

DISJOINT_CHECK = "heldout_disjoint_from_training"
# Bumped when how a score or the report is computed or stored changes, so older ones show as stale.
REPORT_VERSION = "report-v4"
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


SCORE_FIELDS = ("stage", "benchmark", "arm", "training_seed", "pass_at_1", "avg_at_n", "n", "stderr",
                "stderr_items", "maj_at_n", "pass_at_n", "pass_at_k", "maj_at_k", "num_problems", "model_version",
                "environment")  # fmt: skip


def score_metadata(scores: pl.DataFrame) -> dict:
    """The scores as typed metadata, not only a markdown table: `score_rows` (every metric of every
    (stage, benchmark), which the `lineage` asset reads back from the event log) and one float per
    pass@1, which the UI plots across materializations."""
    rows = scores.select([c for c in SCORE_FIELDS if c in scores.columns]).to_dicts()
    floats = {
        f"pass@1/{r['stage']}/{r['benchmark']}": dg.MetadataValue.float(float(r["pass_at_1"]))
        for r in rows
        if r.get("pass_at_1") is not None
    }
    return {"score_rows": dg.MetadataValue.json(rows), **floats}


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


@dataclass
class HeldoutFiles:
    """An experiment's held-out benchmarks as written for the evaluation run."""

    files: list[dict] = field(default_factory=list)  # run specs with their file
    versions: dict[str, str] = field(default_factory=dict)  # data version per benchmark
    sizes: dict[str, int] = field(default_factory=dict)
    overlaps: dict[str, int] = field(default_factory=dict)  # items removed as training problems
    left_out: dict[str, list] = field(default_factory=dict)  # unusable rows, with their reasons


def write_heldout(context, store, experiment: str, benchmarks, pool: set[str]) -> HeldoutFiles:
    """Each benchmark without the pool's problems, written beside the scores."""
    held = HeldoutFiles()
    for spec in benchmarks:
        bench = build_benchmark(spec, pool)
        held.overlaps[spec.name], held.sizes[spec.name] = bench.overlap_removed, bench.items.height
        if bench.left_out:
            held.left_out[spec.name] = bench.left_out
            first = bench.left_out[0]["reason"]
            context.log.warning(f"{spec.name}: {len(bench.left_out)} unusable rows left out; first: {first}")
        name = f"benchmark-{spec.name}"
        held.versions[spec.name] = store.write(bench.items, "benchmark_scores", experiment, name=name)
        file = str(store.path("benchmark_scores", experiment, name))
        held.files.append({**spec.run_spec(), "file": file, "left_out": len(bench.left_out)})
    return held


def evaluate_or_reuse(context, redstar, launcher, pipes, exp, models, inputs, held: HeldoutFiles):
    """(scores, the evaluation's result), or (the last scores, None) when the checkpoints,
    benchmarks, sampling and verifier are those of the last evaluation."""
    store, experiment = redstar.store(), exp.name
    out_dir = store.folder("benchmark_scores", experiment)
    stamp = out_dir / "eval" / "eval_key"
    key = eval_key(inputs, held.versions, launcher.evaluation.threads)
    if stamp.exists() and stamp.read_text() == key and store.exists("benchmark_scores", experiment):
        context.log.info("same checkpoints, benchmarks, sampling and verifier as the last evaluation: reusing it")
        return store.read("benchmark_scores", experiment), None
    stamp.unlink(missing_ok=True)
    run_config = {
        **inputs["settings"],  # the profile's evaluation block, which the key covers
        "models": [{**m, "version": str(inputs["models"][m["stage"]])} for m in models],
        "benchmarks": held.files,
        "output_dir": str(out_dir / "eval"),
        "cache_file": redstar.eval_sample_cache_path(),
        "code_verdict_cache": redstar.code_verdict_cache_path(),
    }
    result = reported(
        launcher.run(context, pipes, "evaluation", "redstar_training.generation.evaluate", run_config, out_dir)
    )
    # The checkpoint a row scores is part of what the row is: a retrained model with the same
    # numbers is still a new score, so the report and lineage follow it.
    scores = pl.DataFrame(result["scores"], infer_schema_length=None).with_columns(
        pl.lit(experiment).alias("experiment"),
        pl.lit(exp.arm).alias("arm"),
        pl.lit(exp.seed, dtype=pl.Int64).alias("training_seed"),
        pl.col("stage").replace_strict({k: str(v) for k, v in inputs["models"].items()}).alias("model_version"),
    )
    return with_commit_column(scores, code_commit()), result


def _last_stage_mapping(profile: Profile, stage: str) -> dg.StaticPartitionMapping:
    """Scores wait for an experiment's last trained stage only (rl after sft), so an SFT change that
    also retrains RL scores once, after RL."""
    return dg.StaticPartitionMapping(
        {e.name: e.name for e in profile.experiments if profile.last_checkpoint_stage(e) == stage}
    )


def build_evaluation_assets(
    profile: Profile,
    condition,
    report_condition,
    problems: dg.AssetsDefinition,
    sft: dg.AssetsDefinition,
    rl: dg.AssetsDefinition,
) -> list[dg.AssetsDefinition]:
    @dg.asset(
        partitions_def=dg.StaticPartitionsDefinition([e.name for e in profile.experiments]),
        group_name="evaluation",
        **model_placement(profile, "evaluation"),
        deps=[
            dg.AssetDep(sft, partition_mapping=_last_stage_mapping(profile, "sft")),
            dg.AssetDep(rl, partition_mapping=_last_stage_mapping(profile, "rl")),
            dg.AssetDep(problems, partition_mapping=dg.AllPartitionMapping()),
        ],
        code_version=SCORES_VERSION,
        automation_condition=condition,
        check_specs=[
            dg.AssetCheckSpec(
                DISJOINT_CHECK,
                asset="benchmark_scores",
                blocking=True,
                description="No evaluated problem is a training problem (by content hash).",
            )
        ],
    )
    def benchmark_scores(
        context: dg.AssetExecutionContext,
        redstar: RedstarHome,
        launcher: ModelLauncher,
        pipes_subprocess_client: dg.PipesSubprocessClient,
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
        benchmarks = profile.benchmarks_for(exp)
        held = write_heldout(context, store, exp.name, benchmarks, set(pool))
        evaluated = set(pl.concat([pl.read_parquet(b["file"]) for b in held.files])["problem_id"].to_list())
        trained_on = trained_problem_ids(store, exp)
        still_overlapping = len(evaluated & trained_on)
        models = stage_models(store, profile, exp)
        inputs = eval_inputs(stage_model_ids(context.instance, profile, exp, models), profile, exp)
        client = pipes_subprocess_client
        scores, result = evaluate_or_reuse(context, redstar, launcher, client, exp, models, inputs, held)
        reused = result is None
        out_dir = store.folder("benchmark_scores", exp.name)
        version = store.write(scores, "benchmark_scores", exp.name)
        keep_version(store, exp.name, scores, version)
        if not reused:
            (out_dir / "eval" / "eval_key").write_text(eval_key(inputs, held.versions, launcher.evaluation.threads))
        trained = {
            f"{stage}_checkpoints": {profile.stage_partition(exp, stage): v}
            for stage, v in inputs["models"].items()
            if stage != "base" and split_stage(stage)[1] is None  # curve points are the rl run's own
        }
        yield dg.MaterializeResult(
            metadata={
                "scores": dg.MetadataValue.md(
                    markdown_table(
                        scores.drop(
                            "model_path", "seeds", "model_version", "environment", "pass_at_k", "maj_at_k", strict=False
                        )
                    )
                ),
                "benchmark_sizes": dg.MetadataValue.json(held.sizes),
                "benchmarks": dg.MetadataValue.json(
                    {
                        b.name: {
                            "sampling": b.sampling,
                            "max_tokens": b.max_tokens,
                            "overrides": b.overrides,
                            "protocol": b.entry.protocol,
                        }
                        for b in benchmarks
                    }
                ),  # fmt: skip
                "left_out": dg.MetadataValue.json({k: v[:20] for k, v in held.left_out.items()}),
                "overlap_removed": dg.MetadataValue.json(held.overlaps),
                "overlap_after_removal": still_overlapping,
                "reused": reused,
                **({} if result is None else {k: result[k] for k in ("samples", "requested", "from_cache")}),
                "eval_inputs": config_hash(inputs),
                "checkpoints": dg.MetadataValue.json({m["stage"]: m["path"] for m in models}),
                "outputs_path": dg.MetadataValue.path(str(out_dir / "eval" / "outputs.parquet")),
                **score_metadata(scores),
                **lineage_metadata(
                    {
                        **profile.evaluation.settings(),
                        "benchmarks": [b.name for b in benchmarks],
                        "base_model": exp.base_model,
                    },
                    {
                        **trained,
                        "base_model": inputs["models"].get("base"),
                        "problems": store.versions("problems", sources),
                    },
                ),
                **trained_on_metadata(trained),
            },
            data_version=dg.DataVersion(version),
        )
        yield dg.AssetCheckResult(
            check_name=DISJOINT_CHECK,
            passed=still_overlapping == 0,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "overlap": still_overlapping,
                "trained_problems_checked": len(trained_on),
                "removed_before_eval": json.dumps(held.overlaps),
            },
        )

    def over_all_scores(code_version: str):
        """An unpartitioned asset over every experiment's scores, rebuilt when any of them changes."""
        return dg.asset(
            group_name="evaluation",
            deps=[dg.AssetDep(benchmark_scores, partition_mapping=dg.AllPartitionMapping())],
            code_version=code_version,
            automation_condition=report_condition,
        )

    @over_all_scores(REPORT_VERSION)
    def ablation_report(context: dg.AssetExecutionContext, redstar: RedstarHome) -> dg.MaterializeResult:
        """The ablation's answer to "how do data scale, difficulty, mix and RL move the scores?": each
        arm's scores as the mean over its training seeds with standard errors across seeds and across
        items, the comparisons of arms that differ in one factor with a paired per-item test, interval
        and verdict (`redstar query` views `arms` and `comparisons`), and plots with error bars across
        seeds. Assembled from the experiments' lineage in the instance."""
        store = redstar.store()
        folder = store.folder("ablation_report")
        table = ablation_table(context.instance, store, profile)
        version = store.write(table, "ablation_report")
        arms = arm_summary(table)
        store.write(arms, "ablation_report", name="arms")
        compared = comparison_table(store, profile)
        store.write(compared, "ablation_report", name="comparisons")
        png = plot_scaling(arms, folder / "scaling.png")
        strategies = plot_strategies(arms, folder / "strategies.png")
        md = markdown_table(arms.drop("base_model")) if arms.height else "_no scores yet_"
        several = table.height and table["benchmark"].n_unique() > 1
        matrix = markdown_table(benchmark_matrix(arms, [b.name for b in profile.benchmarks])) if several else None
        verdicts = markdown_table(verdict_view(compared)) if compared.height else None
        text = md + (f"\n\nBy benchmark (pass@1 / avg@n (se across seeds)):\n\n{matrix}" if matrix else "")
        text += f"\n\nComparisons (a against b, {VERDICT_NOTE}):\n\n{verdicts}" if verdicts else ""
        curves = plot_rl_curves(table, profile, folder / "rl_curves.png", training_rewards(store, profile))
        (folder / "report.md").write_text(text + "\n")
        return dg.MaterializeResult(
            metadata={
                "table": dg.MetadataValue.md(md),
                **({"by_benchmark": dg.MetadataValue.md(matrix)} if matrix else {}),
                **({"comparisons": dg.MetadataValue.md(verdicts)} if verdicts else {}),
                "verdicts": dg.MetadataValue.json(
                    {v: compared.filter(pl.col("verdict") == v).height for v in compared["verdict"].unique().sort()}
                ),
                "plot": dg.MetadataValue.md(png.markdown),
                "plot_path": dg.MetadataValue.path(str(png.path)),
                "strategy_plot": dg.MetadataValue.md(strategies.markdown),
                **({"rl_curves": dg.MetadataValue.md(curves.markdown)} if curves else {}),
                "rows": table.height,
                "experiments": table["experiment"].n_unique() if table.height else 0,
                "arms": arms["arm"].n_unique() if arms.height else 0,
                **lineage_metadata(
                    {"profile": profile.name},
                    {"benchmark_scores": store.versions("benchmark_scores", [e.name for e in profile.experiments])},
                ),
            },
            data_version=dg.DataVersion(version),
        )

    @over_all_scores(LINEAGE_VERSION)
    def lineage(context: dg.AssetExecutionContext, redstar: RedstarHome) -> dg.MaterializeResult:
        """Every score with its whole lineage as one queryable table: one row per (experiment, stage,
        benchmark) for each materialization of benchmark_scores (the newest marked `latest`), with the
        checkpoint, training and RL recipes, subset recipe and hash, the sources trained on with their
        data versions, teacher, difficulty and quality specs, code versions, commit, runs and times,
        read from the instance's event log. `redstar query "SQL"` reads it as the view `lineage`."""
        store = redstar.store()
        table = lineage_rows(context.instance, store)
        version = store.write(table, "lineage")
        latest = table.filter(pl.col("latest"))
        return dg.MaterializeResult(
            metadata={
                "rows": table.height,
                "latest_rows": latest.height,
                "score_materializations": table.select("experiment", "scores_run_id").n_unique(),
                "path": dg.MetadataValue.path(str(store.path("lineage"))),
                "sample": preview(
                    latest.select("experiment", "stage", "benchmark", "pass_at_1", "scale", "strategy", "subset_hash"),
                    rows=10,
                ),
            },
            data_version=dg.DataVersion(version),
        )

    return [benchmark_scores, ablation_report, lineage]
