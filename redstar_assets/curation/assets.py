"""Stage 3: difficulty per problem from the verified traces, and the subsets students train on."""

import dagster as dg
import polars as pl

from redstar_assets.config.sections import LearnedDifficulty, Profile
from redstar_assets.curation.difficulty import score_difficulty, with_learned_difficulty
from redstar_assets.curation.partitions import recipe_partitions
from redstar_assets.curation.subset_writer import write_subset
from redstar_assets.curation.subsets import select_traces, subset_hash
from redstar_assets.deploy.placement import model_placement
from redstar_assets.launcher import ModelLauncher
from redstar_assets.lineage.metadata import lineage_metadata, preview
from redstar_assets.lineage.provenance import (
    TRAINED_FROM,
    rows_by_source,
    scan_by_source,
    source_versions,
    trained_on_metadata,
)
from redstar_assets.problems.inbox import written_sources
from redstar_assets.problems.partitions import per_source_asset
from redstar_assets.resources import RedstarHome
from redstar_assets.traces.assets import partition_trace_chunks

DIFFICULTY_VERSION = "difficulty-v2"
SUBSETS_VERSION = "subsets-v3"  # bumped when selection or a subset's columns change
# What selecting a subset reads of each verified trace (its text stays on disk)
SELECTION_COLUMNS = ["trace_id", "problem_id", "sample_index", "domain", "status", "finish_reason", "quality_ok"]


def build_curation_assets(
    profile: Profile, data_condition, subset_condition, verified: dg.AssetsDefinition
) -> list[dg.AssetsDefinition]:
    spec = profile.difficulty
    scorer = spec.scorer

    @per_source_asset(
        "curation",
        DIFFICULTY_VERSION,
        data_condition,
        deps=[verified],
        **model_placement(profile, "teacher", scorer is not None and not scorer.in_process),
    )
    def difficulty_scores(
        context: dg.AssetExecutionContext,
        redstar: RedstarHome,
        launcher: ModelLauncher,
        pipes_subprocess_client: dg.PipesSubprocessClient,
    ) -> dg.MaterializeResult:
        """Per problem: the teacher's pass rate over its N samples (and a scoring model's over k, when the
        profile names one), mean trace length, a learned-difficulty estimate of the level (when the profile
        names its training set) and a difficulty bucket (easy / medium / hard by the profile's
        thresholds), which hard-first, band and stratified subsets use."""
        store = redstar.store()
        partition = context.partition_key
        # the columns difficulty needs: each trace's length, never its text (`chars` is written by
        # verified_traces; a file without it is measured from the text, streamed)
        scan = pl.scan_parquet(store.path("verified_traces", partition))
        chars = "chars" if "chars" in scan.collect_schema() else pl.col("text").str.len_chars().alias("chars")
        verified_frame = scan.select("problem_id", "status", "completion_tokens", "level", chars).collect(
            engine="streaming"
        )
        scorer_verdicts = None
        if scorer:
            from redstar_assets.traces.teacher import collect_chunks
            from redstar_assets.traces.verification import verify_traces

            workdir = store.folder("difficulty_scores", partition) / "scorer"
            client = pipes_subprocess_client
            traces, _ = collect_chunks(partition_trace_chunks(context, redstar, launcher, client, scorer, workdir))
            scorer_verdicts = verify_traces(traces)
        frame = score_difficulty(verified_frame, spec, scorer_verdicts)
        learned_meta = {}
        if spec.learned is not None:
            model, learned_meta = learned_model(spec.learned, redstar.home, profile.registry)
            frame = with_learned_difficulty(frame, store.read("problems", partition), model)
        version = store.write(frame, "difficulty_scores", partition)
        buckets = {r["bucket"]: r["len"] for r in frame.group_by("bucket").len().to_dicts()}
        by_level = frame.group_by("level").agg(pl.col("teacher_pass_rate").mean().round(3)).sort("level")
        return dg.MaterializeResult(
            metadata={
                "problems": frame.height,
                "buckets": dg.MetadataValue.json(buckets),
                "pass_rate_by_level": dg.MetadataValue.json(
                    {str(r["level"]): r["teacher_pass_rate"] for r in by_level.to_dicts()}
                ),
                "learned_difficulty": dg.MetadataValue.json(learned_meta),
                **lineage_metadata(
                    spec.model_dump(exclude_unset=True),
                    {"verified_traces": store.version("verified_traces", partition)},
                ),
            },
            data_version=dg.DataVersion(version),
        )

    @dg.asset(
        partitions_def=recipe_partitions(profile),
        group_name="curation",
        deps=[
            dg.AssetDep(verified, partition_mapping=dg.AllPartitionMapping()),
            dg.AssetDep(difficulty_scores, partition_mapping=dg.AllPartitionMapping()),
        ],
        code_version=SUBSETS_VERSION,
        automation_condition=subset_condition,
        check_specs=[
            dg.AssetCheckSpec(
                "subset_not_empty",
                asset="sft_subsets",
                blocking=True,
                description="A subset with no rows would train nothing.",
            )
        ],
    )
    def sft_subsets(context: dg.AssetExecutionContext, redstar: RedstarHome):
        """The traces one subset recipe selects (scale in training samples, difficulty strategy,
        verified-only, target format long_cot or answer_only, seed), as sorted trace ids plus the chat
        `messages` a student trains on, with a content hash over ids, recipe and target format: the
        data version, so a recipe whose selection did not change triggers nothing downstream."""
        recipe = profile.subset_recipes[context.partition_key]
        return materialize_subset(redstar, recipe, profile)

    return [difficulty_scores, sft_subsets]


def _figures(store, sources: list[str]) -> pl.DataFrame | None:
    """(problem_id, image) of the image problems of `sources`, or None when none has a figure."""
    frames = [
        store.read("problems", s, columns=["problem_id", "image"]) for s in sources if store.exists("problems", s)
    ]
    frames = [f.filter(pl.col("image").is_not_null()) for f in frames if "image" in f.columns]
    frames = [f for f in frames if f.height]
    return pl.concat(frames) if frames else None


def recipe_sources(recipe, written: list[str]) -> list[str]:
    """The written sources a recipe draws from: all of them, or those its `sources:` names (which
    must have been curated: a recipe restricted to a source not yet written fails, naming it)."""
    if recipe.sources is None:
        return written
    missing = [s for s in recipe.sources if s not in written]
    if missing:
        raise ValueError(
            f"subset recipe {recipe.name!r} draws from sources {list(recipe.sources)}, but {missing} "
            f"have no difficulty scores yet (written: {written}); materialize them first"
        )
    return [s for s in written if s in recipe.sources]


def materialize_subset(redstar: RedstarHome, recipe, profile: Profile):
    """Selects, writes and describes one recipe's subset; yields its materialization and check."""
    store = redstar.store()
    sources = recipe_sources(recipe, written_sources(profile, store, "difficulty_scores"))
    trace_files = [store.path("verified_traces", s) for s in sources]
    # the selection sees one small row per trace, with the source it came from; the text is streamed
    verified = scan_by_source(store, sources, SELECTION_COLUMNS).collect()
    difficulty = store.read_all("difficulty_scores", sources)
    picked = select_traces(verified, difficulty, recipe)
    content_hash = subset_hash(picked["trace_id"].to_list(), recipe)
    used = rows_by_source(picked)
    store.write(picked.select("trace_id", "problem_id", "domain", "source"), "sft_subsets", recipe.name, name="ids")
    messages_path = store.path("sft_subsets", recipe.name)
    writer = store.writer("sft_subsets", recipe.name)
    rows = write_subset(
        trace_files, picked["trace_id"].to_list(), writer, recipe.target_format, images=_figures(store, sources)
    )
    writer.close(version=content_hash)
    store.write_json(
        {"subset_hash": content_hash, "recipe": recipe.model_dump(), "rows": rows, "trained_on_rows": used},
        "sft_subsets",
        recipe.name,
    )
    sample = pl.scan_parquet(messages_path).head(2).collect()
    sample = sample.select(
        pl.col("messages").list.get(0).struct.field("content").alias("problem"),
        pl.col("messages").list.get(1).struct.field("content").alias("text"),
    )
    buckets = picked.join(difficulty.select("problem_id", "bucket"), on="problem_id").group_by("bucket").len()
    yield dg.MaterializeResult(
        metadata={
            "rows": rows,
            "problems": picked["problem_id"].n_unique(),
            "subset_hash": content_hash,
            "recipe": dg.MetadataValue.json(recipe.model_dump()),
            "buckets": dg.MetadataValue.json({r["bucket"]: r["len"] for r in buckets.to_dicts()}),
            "sample": preview(sample, rows=2, width=400),
            "messages_path": dg.MetadataValue.path(str(store.path("sft_subsets", recipe.name))),
            **lineage_metadata(
                recipe.model_dump(),
                {
                    "verified_traces": store.versions("verified_traces", sources),
                    "difficulty_scores": store.versions("difficulty_scores", sources),
                },
            ),
            **trained_on_metadata({TRAINED_FROM: source_versions(store, used)}, used),
        },
        data_version=dg.DataVersion(content_hash),
    )
    yield dg.AssetCheckResult(
        check_name="subset_not_empty",
        passed=rows > 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"rows": rows},
    )


def learned_model(spec: LearnedDifficulty, home: str, registry: dict | None = None):
    """The difficulty estimator for `learned.train_on` (a registry benchmark or a JSONL/Parquet file
    with problem and level), trained once and kept under the data root by a hash of its inputs."""
    import hashlib
    import json
    from pathlib import Path

    from redstar_assets.curation import learned_difficulty
    from redstar_assets.problems.benchmark_files import load_benchmark

    source = spec.train_on
    if Path(source).suffix in (".jsonl", ".parquet"):
        frame = pl.read_parquet(source) if source.endswith(".parquet") else pl.read_ndjson(source)
    else:
        frame = load_benchmark(source, registry=registry)
    frame = frame.filter(pl.col("level").is_not_null())
    texts, levels = frame["problem"].to_list(), frame["level"].to_list()
    written = spec.model_dump(exclude_unset=True)  # the key of a model trained before stays the same
    key = hashlib.sha256(json.dumps([written, texts, levels]).encode()).hexdigest()[:16]
    path = Path(home) / "cache" / f"difficulty-model-{key}.pkl"
    if path.exists():
        model = learned_difficulty.load(path)
    else:
        model = learned_difficulty.fit(texts, levels, float(spec.alpha))
        learned_difficulty.save(model, path)
    return model, {"train_on": source, "train_rows": len(texts), "model": str(path)}
