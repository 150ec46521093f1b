from dataclasses import asdict

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
    asset,
)

from redstar_assets.curation.difficulty import difficulty_scores as score_difficulty
from redstar_assets.curation.difficulty import with_learned_difficulty
from redstar_assets.curation.partitions import recipe_partitions
from redstar_assets.curation.subsets import select_traces, subset_hash, subset_messages
from redstar_assets.lineage import lineage_metadata, preview
from redstar_assets.problems.partitions import source_partitions
from redstar_assets.profile import active_profile
from redstar_assets.resources import RedstarHome
from redstar_assets.traces.assets import verified_traces


@asset(partitions_def=source_partitions, group_name="curation", deps=[verified_traces])
def difficulty_scores(context: AssetExecutionContext, redstar: RedstarHome) -> MaterializeResult:
    """Per problem: the teacher's pass rate over its N samples (and a scoring model's over k, when the
    profile names one), mean trace length, a learned-difficulty estimate of the level (when the profile
    names its training set) and a difficulty bucket (easy / medium / hard by the profile's
    thresholds), which hard-first, band and stratified subsets use."""
    spec = active_profile().difficulty
    store = redstar.store()
    verified = store.read("verified_traces", context.partition_key)
    scorer = _scorer_verdicts(store.read("problems", context.partition_key), spec, redstar, context)
    frame = score_difficulty(verified, spec, scorer)
    learned_meta = {}
    if spec.get("learned"):
        model, learned_meta = learned_model(spec["learned"], redstar.home)
        frame = with_learned_difficulty(frame, store.read("problems", context.partition_key), model)
    version = store.write(frame, "difficulty_scores", context.partition_key)
    buckets = {r["bucket"]: r["len"] for r in frame.group_by("bucket").len().to_dicts()}
    by_level = frame.group_by("level").agg(pl.col("teacher_pass_rate").mean().round(3)).sort("level")
    return MaterializeResult(
        metadata={
            "problems": frame.height,
            "buckets": MetadataValue.json(buckets),
            "pass_rate_by_level": MetadataValue.json(
                {str(r["level"]): r["teacher_pass_rate"] for r in by_level.to_dicts()}
            ),
            "learned_difficulty": MetadataValue.json(learned_meta),
            **lineage_metadata(spec, {"verified_traces": store.version("verified_traces", context.partition_key)}),
        },
        data_version=DataVersion(version),
    )


def _scorer_verdicts(problems: pl.DataFrame, spec: dict, redstar: RedstarHome, context) -> pl.DataFrame | None:
    """k samples per problem from the profile's scoring model, verified: the pass rate's raw material."""
    if not spec.get("scorer"):
        return None
    from redstar_assets.traces.teacher import generate_traces
    from redstar_assets.traces.verification import verify_traces

    scorer = dict(spec["scorer"])
    scorer["samples_per_problem"] = int(scorer.pop("samples", scorer.get("samples_per_problem", 4)))
    traces, _ = generate_traces(problems, scorer, redstar.sample_cache_path(), log=context.log.info)
    return verify_traces(traces)


def learned_model(spec: dict, home: str):
    """The difficulty estimator for `learned.train_on` (a registry benchmark or a JSONL/Parquet file
    with problem and level), trained once and kept under the data root by a hash of its inputs."""
    import hashlib
    import json
    from pathlib import Path

    from redstar_assets.curation import learned_difficulty
    from redstar_assets.problems.registry import load_benchmark

    source = spec["train_on"]
    if Path(source).suffix in (".jsonl", ".parquet"):
        frame = pl.read_parquet(source) if source.endswith(".parquet") else pl.read_ndjson(source)
    else:
        frame = load_benchmark(source)
    frame = frame.filter(pl.col("level").is_not_null())
    texts, levels = frame["problem"].to_list(), frame["level"].to_list()
    key = hashlib.sha256(json.dumps([spec, texts, levels]).encode()).hexdigest()[:16]
    path = Path(home) / "cache" / f"difficulty-model-{key}.pkl"
    if path.exists():
        model = learned_difficulty.load(path)
    else:
        model = learned_difficulty.fit(texts, levels, float(spec.get("alpha", 3.0)))
        learned_difficulty.save(model, path)
    return model, {"train_on": source, "train_rows": len(texts), "model": str(path)}


@asset(
    partitions_def=recipe_partitions,
    group_name="curation",
    deps=[
        AssetDep(verified_traces, partition_mapping=AllPartitionMapping()),
        AssetDep(difficulty_scores, partition_mapping=AllPartitionMapping()),
    ],
    check_specs=[
        AssetCheckSpec(
            "subset_not_empty",
            asset="sft_subsets",
            blocking=True,
            description="A subset with no rows would train nothing.",
        )
    ],
)
def sft_subsets(context: AssetExecutionContext, redstar: RedstarHome):
    """The traces one subset recipe selects (scale in training samples, difficulty strategy,
    verified-only, target format long_cot or answer_only, seed), as sorted trace ids plus the chat
    `messages` a student trains on, with a content hash over ids, recipe and target format."""
    recipe = active_profile().subset_recipes[context.partition_key]
    store = redstar.store()
    sources = store.partitions("difficulty_scores")
    verified = store.read_all("verified_traces", sources)
    difficulty = store.read_all("difficulty_scores", sources)
    picked = select_traces(verified, difficulty, recipe)
    messages = subset_messages(picked, recipe)
    content_hash = subset_hash(picked["trace_id"].to_list(), recipe)
    store.write(picked.select("trace_id", "problem_id"), "sft_subsets", recipe.name, name="ids")
    store.write(messages, "sft_subsets", recipe.name)
    store.write_json(
        {"subset_hash": content_hash, "recipe": asdict(recipe), "rows": messages.height}, "sft_subsets", recipe.name
    )
    buckets = picked.join(difficulty.select("problem_id", "bucket"), on="problem_id").group_by("bucket").len()
    yield MaterializeResult(
        metadata={
            "rows": messages.height,
            "problems": picked["problem_id"].n_unique(),
            "subset_hash": content_hash,
            "recipe": MetadataValue.json(asdict(recipe)),
            "buckets": MetadataValue.json({r["bucket"]: r["len"] for r in buckets.to_dicts()}),
            "sample": preview(picked.select("problem", "text"), rows=2, width=400),
            "messages_path": MetadataValue.path(str(store.path("sft_subsets", recipe.name))),
            **lineage_metadata(
                asdict(recipe),
                {
                    "verified_traces": store.versions("verified_traces", sources),
                    "difficulty_scores": store.versions("difficulty_scores", sources),
                },
            ),
        },
        data_version=DataVersion(content_hash),
    )
    yield AssetCheckResult(
        check_name="subset_not_empty",
        passed=messages.height > 0,
        severity=AssetCheckSeverity.ERROR,
        metadata={"rows": messages.height},
    )
