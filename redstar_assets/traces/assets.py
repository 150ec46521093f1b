"""Stage 2: long chain-of-thought traces from the teacher, and the shared verifier's verdict on each."""

from pathlib import Path

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    PipesSubprocessClient,
    asset,
)

from redstar_assets.launcher import ModelLauncher, reported
from redstar_assets.lineage import lineage_metadata, preview
from redstar_assets.problems.partitions import source_partitions
from redstar_assets.profile import Profile
from redstar_assets.resources import RedstarHome
from redstar_assets.traces.quality import QUALITY_VERSION, QualitySpec
from redstar_assets.traces.teacher import distill_config, generate_traces, needs_own_process
from redstar_assets.traces.verification import flag_counts, verify_traces
from redstar_training.verify import VERIFIER_VERSION, MathVerifier

DISTILL_VERSION = "distill-v1"


def launch_distill(context: AssetExecutionContext, launcher: ModelLauncher, pipes: PipesSubprocessClient):
    """How a model-loading teacher or scorer runs: `redstar_training.distill` through the launcher."""

    def launch(run_config: dict, workdir: Path) -> dict:
        return reported(launcher.run(context, pipes, "teacher", "redstar_training.distill", run_config, workdir))

    return launch


def teacher_code_version(spec: dict) -> str:
    """The distillation code and the prompt templates it sends (a new prompt version means new samples)."""
    from redstar_training.distill import prompt_version

    cfg = distill_config(spec)
    prompts = sorted({prompt_version(cfg, "math"), prompt_version(cfg, "code")})
    return "+".join([DISTILL_VERSION, *prompts])


def build_trace_assets(profile: Profile, condition, upstream: AssetsDefinition) -> list[AssetsDefinition]:
    spec = profile.teacher

    @asset(
        partitions_def=source_partitions,
        group_name="traces",
        deps=[upstream],
        code_version=teacher_code_version(spec),
        automation_condition=condition,
        pool="gpu" if needs_own_process(spec) else None,
    )
    def teacher_traces(
        context: AssetExecutionContext,
        redstar: RedstarHome,
        launcher: ModelLauncher,
        pipes_subprocess_client: PipesSubprocessClient,
    ) -> MaterializeResult:
        """N sampled long chain-of-thought completions per problem from the profile's teacher (procedural,
        an OpenAI-compatible server, local transformers or vLLM), each with teacher id, prompt version,
        sampling parameters, token counts, latency and finish reason. Every sample is committed to a
        content-addressed cache as it finishes: a re-run pays for no sample twice, a killed run resumes."""
        store = redstar.store()
        partition = context.partition_key
        frame, stats = generate_traces(
            store.read("problems", partition),
            spec,
            redstar.sample_cache_path(),
            log=context.log.info,
            launch=launch_distill(context, launcher, pipes_subprocess_client),
            workdir=store.folder("teacher_traces", partition) / "distill",
        )
        version = store.write(frame, "teacher_traces", partition)
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
                **lineage_metadata(spec, {"problems": store.version("problems", partition)}),
            },
            data_version=DataVersion(version),
        )

    quality = QualitySpec.from_profile(profile.quality)

    @asset(
        partitions_def=source_partitions,
        group_name="traces",
        deps=[teacher_traces],
        code_version=f"{VERIFIER_VERSION}+{QUALITY_VERSION}",
        automation_condition=condition,
    )
    def verified_traces(context: AssetExecutionContext, redstar: RedstarHome) -> MaterializeResult:
        """Every teacher trace with its extracted final answer and the shared verifier's verdict
        (correct, wrong, no_answer, timeout, error) and reason, plus quality flags: rejection sampling
        keeps the correct ones, and DPO pairs them with the wrong ones."""
        store = redstar.store()
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

    return [teacher_traces, verified_traces]
