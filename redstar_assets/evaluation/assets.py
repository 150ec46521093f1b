import json
from pathlib import Path

import polars as pl
from dagster import (
    AllPartitionMapping,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    PipesSubprocessClient,
    asset,
)

from redstar_assets.evaluation.heldout import build_benchmark
from redstar_assets.evaluation.partitions import experiment_partitions, rl_to_scores, sft_to_scores
from redstar_assets.evaluation.report import ablation_table, markdown_table, plot_scaling, plot_strategies
from redstar_assets.lineage import lineage_metadata
from redstar_assets.problems.assets import problems
from redstar_assets.problems.normalize import problem_id
from redstar_assets.profile import active_profile, spec_hash
from redstar_assets.resources import RedstarHome, TrainingLauncher
from redstar_assets.training.base_models import base_model_ref
from redstar_assets.training.launch import run_entry_point
from redstar_training.checkpoints import folder_hash
from redstar_training.verify import VERIFIER_VERSION

DISJOINT_CHECK = "heldout_disjoint_from_training"


def trained_problem_ids(store, exp) -> set[str]:
    """Ids of the problems this experiment actually trained on, recomputed from the training files'
    prompt text (subset messages, DPO pairs), independently of how the benchmark was filtered."""
    prompts: list[str] = []
    if exp.subset and store.exists("sft_subsets", exp.subset):
        prompts += [m[0]["content"] for m in store.read("sft_subsets", exp.subset)["messages"].to_list()]
    if "rl" in exp.stages and store.exists("rl_checkpoints", exp.name, "pairs"):
        prompts += store.read("rl_checkpoints", exp.name, "pairs")["prompt"].to_list()
    return {problem_id("math", text) for text in prompts}


def eval_key(store, experiment: str, run_config: dict) -> str:
    """What an evaluation's result depends on: checkpoint contents (a tiny base model by its spec-hashed
    path, since it is built deterministically), benchmark contents, sampling, threads and verifier."""
    models = {
        m["stage"]: m["path"] if m["stage"] == "base" else folder_hash(Path(m["path"])) for m in run_config["models"]
    }
    benchmarks = {
        b["name"]: store.version("benchmark_scores", experiment, f"benchmark-{b['name']}")
        for b in run_config["benchmarks"]
    }
    settings = {k: v for k, v in run_config.items() if k not in {"models", "benchmarks", "output_dir"}}
    return spec_hash({"models": models, "benchmarks": benchmarks, "settings": settings, "verifier": VERIFIER_VERSION})


def _stage_models(store, profile, exp) -> list[dict]:
    models = []
    for stage in exp.stages:
        if stage == "base":
            path, tiny = base_model_ref(store, exp.base_model, profile.base_models[exp.base_model])
            models.append({"stage": "base", "path": path, "tiny_spec": tiny})
        else:
            asset_name = "sft_checkpoints" if stage == "sft" else "rl_checkpoints"
            models.append({"stage": stage, "path": str(store.folder(asset_name, exp.name) / "model")})
    return models


@asset(
    partitions_def=experiment_partitions,
    group_name="evaluation",
    pool="gpu",
    deps=[
        AssetDep("sft_checkpoints", partition_mapping=sft_to_scores),
        AssetDep("rl_checkpoints", partition_mapping=rl_to_scores),
        AssetDep(problems, partition_mapping=AllPartitionMapping()),
    ],
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
    launcher: TrainingLauncher,
    pipes_subprocess_client: PipesSubprocessClient,
):
    """One row per (experiment, stage, benchmark): greedy pass@1 and sampled avg@n with n, seeds and
    standard error, on held-out problems disjoint from every training problem. Every generated output
    is kept with its verdict for audit (outputs.parquet beside the scores)."""
    profile = active_profile()
    exp = profile.experiment(context.partition_key)
    store = redstar.store()
    training_ids = set(store.read_all("problems")["problem_id"].to_list()) if store.partitions("problems") else set()
    bench_files, overlaps, sizes = [], {}, {}
    for spec in profile.benchmarks:
        frame, overlaps[spec["name"]] = build_benchmark(spec, training_ids)
        sizes[spec["name"]] = frame.height
        store.write(frame, "benchmark_scores", exp.name, name=f"benchmark-{spec['name']}")
        bench_files.append(
            {"name": spec["name"], "file": str(store.path("benchmark_scores", exp.name, f"benchmark-{spec['name']}"))}
        )
    evaluated = set(pl.concat([pl.read_parquet(b["file"]) for b in bench_files])["problem_id"].to_list())
    trained_on = trained_problem_ids(store, exp)
    still_overlapping = len(evaluated & trained_on)
    out_dir = store.folder("benchmark_scores", exp.name)
    run_config = {
        **profile.evaluation,
        "models": _stage_models(store, profile, exp),
        "benchmarks": bench_files,
        "output_dir": str(out_dir / "eval"),
        "threads": launcher.threads,
    }
    key = eval_key(store, exp.name, run_config)
    stamp = out_dir / "eval" / "eval_key"
    reused = stamp.exists() and stamp.read_text() == key and (out_dir / "eval" / "scores.parquet").exists()
    if reused:
        context.log.info("same checkpoints, benchmarks, sampling and verifier as the last evaluation: reusing it")
    else:
        stamp.unlink(missing_ok=True)
        run_entry_point(context, pipes_subprocess_client, launcher, "redstar_training.evaluate", run_config, out_dir)
        stamp.write_text(key)
    scores = pl.read_parquet(out_dir / "eval" / "scores.parquet").with_columns(pl.lit(exp.name).alias("experiment"))
    version = store.write(scores, "benchmark_scores", exp.name)
    checkpoints = {m["stage"]: m["path"] for m in run_config["models"]}
    checkpoint_versions = {m["stage"]: folder_hash(Path(m["path"])) for m in run_config["models"]}
    yield MaterializeResult(
        metadata={
            "scores": MetadataValue.md(markdown_table(scores.drop("model_path", "seeds"))),
            "benchmark_sizes": MetadataValue.json(sizes),
            "overlap_removed": MetadataValue.json(overlaps),
            "overlap_after_removal": still_overlapping,
            "reused": reused,
            "checkpoints": MetadataValue.json(checkpoints),
            "outputs_path": MetadataValue.path(str(out_dir / "eval" / "outputs.parquet")),
            **lineage_metadata(
                {k: v for k, v in run_config.items() if k != "models"},
                {
                    **{
                        f"{stage}_checkpoints": {exp.name: v}
                        for stage, v in checkpoint_versions.items()
                        if stage != "base"
                    },
                    "base_model": checkpoint_versions.get("base"),
                    "problems": store.versions("problems"),
                },
            ),
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


@asset(group_name="evaluation", deps=[AssetDep(benchmark_scores, partition_mapping=AllPartitionMapping())])
def ablation_report(context: AssetExecutionContext, redstar: RedstarHome) -> MaterializeResult:
    """One table over all experiments (subset scale, difficulty strategy, domain mix, target format,
    base model, stage, benchmark, pass@1, avg@n, n, stderr) assembled from the experiments' lineage in
    the instance, with plots of score against subset scale and of the strategies side by side. The
    answer to "how do data scale, difficulty and mix move the scores?"."""
    profile = active_profile()
    store = redstar.store()
    table = ablation_table(context.instance, store, profile)
    store.write(table, "ablation_report")
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
    (store.folder("ablation_report") / "report.md").write_text(md + "\n")
    return MaterializeResult(
        metadata={
            "table": MetadataValue.md(md),
            "plot": MetadataValue.md(png.markdown),
            "plot_path": MetadataValue.path(str(png.path)),
            "strategy_plot": MetadataValue.md(strategies.markdown),
            "rows": table.height,
            "experiments": table["experiment"].n_unique(),
            **lineage_metadata({"profile": profile.name}, {"benchmark_scores": store.versions("benchmark_scores")}),
        },
        data_version=DataVersion(store.version("ablation_report") or ""),
    )
