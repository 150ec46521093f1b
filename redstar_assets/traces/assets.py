import polars as pl
from dagster import AssetExecutionContext, DataVersion, MaterializeResult, MetadataValue, asset

from redstar_assets.lineage import lineage_metadata, preview
from redstar_assets.problems.assets import problems
from redstar_assets.problems.partitions import source_partitions
from redstar_assets.profile import active_profile
from redstar_assets.resources import RedstarHome
from redstar_assets.traces.quality import QualitySpec
from redstar_assets.traces.teacher import generate_traces
from redstar_assets.traces.verification import flag_counts, verify_traces
from redstar_training.verify import MathVerifier


@asset(partitions_def=source_partitions, group_name="traces", deps=[problems])
def teacher_traces(context: AssetExecutionContext, redstar: RedstarHome) -> MaterializeResult:
    """N sampled long chain-of-thought completions per problem from the profile's teacher (procedural,
    an OpenAI-compatible server, local transformers or vLLM), each with teacher id, prompt version,
    sampling parameters, token counts, latency and finish reason. Every sample is committed to a
    content-addressed cache as it finishes: a re-run pays for no sample twice, a killed run resumes."""
    spec = active_profile().teacher
    store = redstar.store()
    frame, stats = generate_traces(
        store.read("problems", context.partition_key), spec, redstar.sample_cache_path(), log=context.log.info
    )
    version = store.write(frame, "teacher_traces", context.partition_key)
    tokens_out = int(frame["completion_tokens"].sum() or 0)
    samples = frame.filter(pl.col("finish_reason").is_in(["stop", "length"])).head(3)
    examples = "\n\n".join(f"**{r['problem'][:200]}**\n```\n{r['text'][:800]}\n```" for r in samples.to_dicts())
    return MaterializeResult(
        metadata={
            "rows": frame.height,
            "problems": frame["problem_id"].n_unique(),
            "requests_made": stats.get("requests_made", 0),
            "cache_hits": stats.get("cache_hits", 0),
            "samples_requested": stats.get("samples_requested", 0),
            "prompt_tokens": int(frame["prompt_tokens"].sum() or 0),
            "completion_tokens": tokens_out,
            "tokens_per_s": stats.get("tokens_per_s", 0.0),
            "errors_by_kind": MetadataValue.json(
                {"retried": stats.get("retries_by_kind", {}), "failed": stats.get("failed_by_kind", {})}
            ),
            "finish_reasons": MetadataValue.json(stats.get("finish_reasons", {})),
            "skipped": MetadataValue.json(stats.get("skipped", {})),
            "sample_traces": MetadataValue.md(examples),
            **lineage_metadata(spec, {"problems": store.version("problems", context.partition_key)}),
        },
        data_version=DataVersion(version),
    )


@asset(partitions_def=source_partitions, group_name="traces", deps=[teacher_traces])
def verified_traces(context: AssetExecutionContext, redstar: RedstarHome) -> MaterializeResult:
    """Every teacher trace with its extracted final answer and the shared verifier's verdict
    (correct, wrong, no_answer, timeout, error) and reason, plus quality flags: rejection sampling
    keeps the correct ones, and DPO pairs them with the wrong ones."""
    store = redstar.store()
    quality = QualitySpec.from_profile(active_profile().quality)
    with MathVerifier(cache=redstar.verdict_cache_path()) as verifier:
        frame = verify_traces(store.read("teacher_traces", context.partition_key), verifier, quality)
    version = store.write(frame, "verified_traces", context.partition_key)
    counts = {r["status"]: r["len"] for r in frame.group_by("status").len().to_dicts()}
    return MaterializeResult(
        metadata={
            "rows": frame.height,
            "statuses": MetadataValue.json(counts),
            "correct_rate": round(counts.get("correct", 0) / max(1, frame.height), 4),
            "verifier_paths": MetadataValue.json(verifier.counts),
            "quality_flags": MetadataValue.json(flag_counts(frame)),
            "quality_ok": int(frame["quality_ok"].sum()),
            "wrong_sample": preview(frame.filter(pl.col("status") != "correct").select("problem", "reason")),
            **lineage_metadata(
                {"verifier": frame["verifier_version"][0] if frame.height else None, "quality": quality.__dict__},
                {"teacher_traces": store.version("teacher_traces", context.partition_key)},
            ),
        },
        data_version=DataVersion(version),
    )
