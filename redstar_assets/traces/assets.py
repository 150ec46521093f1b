"""Stage 2: long chain-of-thought traces from the teacher, and the shared verifier's verdict on each."""

from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from redstar_assets.config.sections import Profile
from redstar_assets.config.sources import TraceSource
from redstar_assets.config.teacher import TeacherRun
from redstar_assets.deploy.placement import model_placement
from redstar_assets.launcher import ModelLauncher, reported
from redstar_assets.lineage.metadata import lineage_metadata, preview
from redstar_assets.problems.inbox import source_spec
from redstar_assets.problems.partitions import per_source_asset
from redstar_assets.resources import RedstarHome
from redstar_assets.traces.imported import IMPORT_VERSION, imported_trace_batches
from redstar_assets.traces.quality import FLAGS, QUALITY_VERSION
from redstar_assets.traces.teacher import distill_config, distilled_trace_chunks
from redstar_assets.traces.verification import flag_counts, read_batches, verify_traces
from redstar_training.generation.distill import endpoint_table, merge_stats
from redstar_training.verify import VERIFIER_VERSION, MathVerifier
from redstar_training.verify.cache import CodeVerdictCache

DISTILL_VERSION = "distill-v1"
VERIFIED_VERSION = "verified-v3"  # bumped when a verified trace's columns or verdicts change


def launch_distill(context: dg.AssetExecutionContext, launcher: ModelLauncher, pipes: dg.PipesSubprocessClient):
    """How a model-loading teacher or scorer runs: `redstar_training.generation.distill` through the launcher."""

    def launch(run_config: dict, workdir: Path) -> dict:
        return reported(
            launcher.run(context, pipes, "teacher", "redstar_training.generation.distill", run_config, workdir)
        )

    return launch


def partition_trace_chunks(
    context: dg.AssetExecutionContext,
    redstar: RedstarHome,
    launcher: ModelLauncher,
    pipes: dg.PipesSubprocessClient,
    spec: TeacherRun,
    workdir: Path,
):
    """The partition's problems distilled with `spec` as an asset step runs it (the teacher for
    `teacher_traces`, the scorer for `difficulty_scores`): the shared sample cache, the run's log, the
    model launcher, and `workdir` for the run's config and output."""
    problems = redstar.store().read("problems", context.partition_key)
    launch = launch_distill(context, launcher, pipes)
    return distilled_trace_chunks(problems, spec, redstar.sample_cache_path(), context.log.info, launch, workdir)


def teacher_code_version(spec: TeacherRun) -> str:
    """The distillation code and the prompt templates it sends (a new prompt version means new samples)."""
    from redstar_training.generation.distill import prompt_version

    cfg = distill_config(spec)
    prompts = sorted({prompt_version(cfg, "math"), prompt_version(cfg, "code")})
    return "+".join([DISTILL_VERSION, *prompts, IMPORT_VERSION])


def _sample_markdown(rows: list[dict]) -> str:
    """A few traces as the UI shows them: the problem in bold, the start of the trace below."""
    return "\n\n".join(f"**{r['problem'][:200]}**\n```\n{r['text'][:800]}\n```" for r in rows)


def _imported(store, partition: str, source: TraceSource) -> dg.MaterializeResult:
    """A `traces` source's partition: its own traces, passed through; no teacher is called."""
    writer = store.writer("teacher_traces", partition)
    finished: Counter[str] = Counter()
    examples: list[dict] = []
    problems: set[str] = set()
    batches = read_batches(store.path("raw_problems", partition))
    for frame in imported_trace_batches(batches, store.read("problems", partition), source):
        writer.write(frame)  # a batch at a time: a million imported traces never sit in memory together
        finished.update(dict(frame.group_by("finish_reason").len().iter_rows()))
        problems.update(frame["problem_id"])
        examples += frame.head(3 - len(examples)).to_dicts()
    version = writer.close()
    return dg.MaterializeResult(
        metadata={
            "rows": writer.rows,
            "problems": len(problems),
            "imported": True,
            "requests_made": 0,
            "teacher": source.teacher_label(),
            "finish_reasons": dg.MetadataValue.json(dict(finished)),
            "sample_traces": dg.MetadataValue.md(_sample_markdown(examples)),
            **lineage_metadata(
                {"backend": "imported", "model": source.teacher_label(), "imported_from": source.origin()},
                {
                    "raw_problems": store.version("raw_problems", partition),
                    "problems": store.version("problems", partition),
                },
            ),
        },
        data_version=dg.DataVersion(version),
    )


def build_trace_assets(profile: Profile, condition, upstream: dg.AssetsDefinition) -> list[dg.AssetsDefinition]:
    spec = profile.teacher

    @per_source_asset(
        "traces",
        teacher_code_version(spec),
        condition,
        deps=[upstream],
        **model_placement(profile, "teacher", not spec.in_process),
    )
    def teacher_traces(
        context: dg.AssetExecutionContext,
        redstar: RedstarHome,
        launcher: ModelLauncher,
        pipes_subprocess_client: dg.PipesSubprocessClient,
    ) -> dg.MaterializeResult:
        """N sampled long chain-of-thought completions per problem from the profile's teacher (procedural,
        an OpenAI-compatible server, local transformers or vLLM), each with teacher id, prompt version,
        sampling parameters, token counts, latency and finish reason. Every sample is committed to a
        content-addressed cache as it finishes: a re-run pays for no sample twice, a killed run resumes."""
        store = redstar.store()
        partition = context.partition_key
        source = source_spec(profile, partition, store.root)
        if isinstance(source, TraceSource):
            return _imported(store, partition, source)
        writer, problems = store.writer("teacher_traces", partition), 0
        stats: dict[str, Any] = {}
        examples: list[dict] = []
        teachers: set[str] = set()  # the teacher ids and prompt versions the traces name
        prompts: set[str] = set()
        workdir = store.folder("teacher_traces", partition) / "distill"
        chunks = partition_trace_chunks(context, redstar, launcher, pipes_subprocess_client, spec, workdir)
        # a chunk of problems at a time: the traces are written as they come, never held together
        for frame, chunk_stats in chunks:
            writer.write(frame)
            stats = merge_stats(stats, chunk_stats)
            teachers.update(frame["teacher"].drop_nulls().unique())
            prompts.update(frame["prompt_version"].drop_nulls().unique())
            problems += frame["problem_id"].n_unique()
            if len(examples) < 3:
                ok = frame.filter(pl.col("finish_reason").is_in(["stop", "length"])).head(3 - len(examples))
                examples += ok.to_dicts()
        version = writer.close()
        return dg.MaterializeResult(
            metadata={
                "rows": writer.rows,
                "problems": problems,
                "teacher": ", ".join(sorted(teachers)),
                "prompt_version": ", ".join(sorted(prompts)),
                "requests_made": stats.get("requests_made", 0),
                "cache_hits": stats.get("cache_hits", 0),
                "samples_requested": stats.get("samples_requested", 0),
                "prompt_tokens": int(stats.get("prompt_tokens", 0)),
                "completion_tokens": int(stats.get("completion_tokens", 0)),
                "tokens_per_s": stats.get("tokens_per_s", 0.0),
                "errors_by_kind": dg.MetadataValue.json(
                    {"retried": stats.get("retries_by_kind", {}), "failed": stats.get("failed_by_kind", {})}
                ),
                "finish_reasons": dg.MetadataValue.json(stats.get("finish_reasons", {})),
                "skipped": dg.MetadataValue.json(stats.get("skipped", {})),
                **(
                    {"endpoints": dg.MetadataValue.json(endpoint_table(stats))}
                    if "endpoint_completions" in stats
                    else {}
                ),
                "sample_traces": dg.MetadataValue.md(_sample_markdown(examples)),
                **lineage_metadata(
                    {"backend": spec.kind, **spec.written()}, {"problems": store.version("problems", partition)}
                ),
            },
            data_version=dg.DataVersion(version),
        )

    quality = profile.quality

    @per_source_asset(
        "traces",
        f"{VERIFIED_VERSION}+{VERIFIER_VERSION}+{QUALITY_VERSION}",
        condition,
        deps=[teacher_traces],
    )
    def verified_traces(context: dg.AssetExecutionContext, redstar: RedstarHome) -> dg.MaterializeResult:
        """Every teacher trace with its extracted final answer and the shared verifier's verdict
        (correct, wrong, no_answer, timeout, error) and reason, plus quality flags: rejection sampling
        keeps the correct ones, and DPO pairs them with the wrong ones."""
        store = redstar.store()
        writer = store.writer("verified_traces", context.partition_key)
        counts: Counter[str] = Counter()
        code_counts: Counter[str] = Counter()
        flags: Counter[str] = Counter()
        quality_ok, wrong = 0, None
        code_verdicts = closing(CodeVerdictCache(redstar.code_verdict_cache_path()))
        mode = source_spec(profile, context.partition_key, store.root).verify_mode
        with MathVerifier(cache=redstar.verdict_cache_path()) as verifier, code_verdicts as code_cache:
            for batch in read_batches(store.path("teacher_traces", context.partition_key)):
                # a batch at a time: the text is never all in memory
                frame = verify_traces(batch, verifier, quality, code_cache, mode)
                writer.write(frame)
                counts.update(dict(frame.group_by("status").len().iter_rows()))
                code = frame.filter(pl.col("domain") == "code")
                code_counts.update(dict(code.group_by("status").len().iter_rows()))
                flags.update(flag_counts(frame))
                quality_ok += int(frame["quality_ok"].sum())
                if wrong is None and (frame["status"] != "correct").any():
                    wrong = frame.filter(pl.col("status") != "correct").select("problem", "reason").head(5)
            code_cache_hits = code_cache.hits
        version = writer.close()
        rows = writer.rows
        return dg.MaterializeResult(
            metadata={
                "rows": rows,
                "statuses": dg.MetadataValue.json(dict(counts)),
                "correct_rate": round(counts.get("correct", 0) / max(1, rows), 4),
                "verifier_paths": dg.MetadataValue.json(verifier.counts),
                # code traces, run against their problems' tests in the sandbox (cached by program and tests)
                "code_statuses": dg.MetadataValue.json(dict(code_counts)),
                "code_cache_hits": code_cache_hits,
                "quality_flags": dg.MetadataValue.json({f: flags.get(f, 0) for f in FLAGS}),
                "quality_ok": quality_ok,
                "wrong_sample": preview(wrong if wrong is not None else pl.DataFrame({"problem": [], "reason": []})),
                **lineage_metadata(
                    {"verifier": VERIFIER_VERSION, "quality": quality.model_dump()},
                    {"teacher_traces": store.version("teacher_traces", context.partition_key)},
                ),
            },
            data_version=dg.DataVersion(version),
        )

    return [teacher_traces, verified_traces]
