"""Stage 1: problems from each source, validated, normalized, deduplicated and decontaminated."""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from redstar_assets.config.sections import Profile
from redstar_assets.config.sources import TraceSource
from redstar_assets.lineage.metadata import lineage_metadata, preview
from redstar_assets.problems.curate import curate_problems
from redstar_assets.problems.images import figure_hashes
from redstar_assets.problems.inbox import source_spec
from redstar_assets.problems.normalize import normalize_problems
from redstar_assets.problems.partitions import per_source_asset
from redstar_assets.problems.sources import QUARANTINE_SCHEMA, RAW_SCHEMA, imported_trace_chunks, load_source
from redstar_assets.resources import RedstarHome

# Bumped when the stage's logic changes, so the UI marks what an older version made as stale.
RAW_PROBLEMS_VERSION = "sources-v4"
PROBLEMS_VERSION = "normalize-v3+curate-v3"  # two parts: normalization's and curation's logic


def build_problem_assets(profile: Profile, condition) -> list[dg.AssetsDefinition]:
    @per_source_asset("problems", RAW_PROBLEMS_VERSION, condition)
    def raw_problems(context: dg.AssetExecutionContext, redstar: RedstarHome) -> dg.MaterializeResult:
        """Problems as ingested from one source (a built-in generator, a local JSONL/Parquet/CSV file,
        a Hugging Face dataset, or a file dropped in the inbox), mapped to the common fields. Rows that
        fail validation go to a quarantine table naming the file, line, field and reason, so one bad
        row never costs the good ones."""
        store = redstar.store()
        spec = source_spec(profile, context.partition_key, store.root)
        if isinstance(spec, TraceSource):  # a released trace dataset may be millions of 8 KB rows: streamed
            writer, bad, sample = store.writer("raw_problems", context.partition_key), [], None
            for good, quarantined in imported_trace_chunks(spec):
                writer.write(good)
                bad.append(quarantined)
                sample = good.head(5) if sample is None else sample
            rows = sample if sample is not None else pl.DataFrame(schema=RAW_SCHEMA)
            version, quarantine = writer.close(), pl.concat(bad)
            count = writer.rows
        else:
            rows, quarantine = load_source(spec)
            version, count = store.write(rows, "raw_problems", context.partition_key), rows.height
        store.write(quarantine.cast(QUARANTINE_SCHEMA), "raw_problems", context.partition_key, name="quarantine")
        if quarantine.height:
            context.log.warning(f"{quarantine.height} row(s) of source {context.partition_key!r} quarantined")
        return dg.MaterializeResult(
            metadata={
                "rows": count,
                "quarantined": quarantine.height,
                "quarantine_sample": preview(quarantine.select("file", "line", "field", "reason")),
                "sample": preview(rows.select("problem", "answer", "level")),
                "path": dg.MetadataValue.path(str(store.path("raw_problems", context.partition_key))),
                **lineage_metadata(spec.written(), {}),
            },
            data_version=dg.DataVersion(version),
        )

    @per_source_asset(
        "problems",
        PROBLEMS_VERSION,
        condition,
        deps=[raw_problems],
        check_specs=[dg.AssetCheckSpec("decontamination_clean", asset="problems", blocking=True)],
    )
    def problems(context: dg.AssetExecutionContext, redstar: RedstarHome) -> Iterator:
        """Normalized problems with a content-hash id (domain + normalized text): exact duplicates and
        near duplicates (MinHash LSH) removed keeping the first, and problems overlapping a registered
        benchmark removed (13-gram or fuzzy match), each removal recorded with what it matched. The unit
        every trace, subset and held-out check refers to."""
        store = redstar.store()
        raw = store.read("raw_problems", context.partition_key, columns=list(RAW_SCHEMA))  # not a trace's text
        frame, duplicates = normalize_problems(raw)
        frame, removed, index = curate_problems(frame, profile.curation, profile.registry)
        version = store.write(frame, "problems", context.partition_key)
        store.write(removed, "problems", context.partition_key, name="removed")
        reasons = removed.group_by("reason").len()
        levels = frame.group_by("level").len().sort("level")
        yield dg.MaterializeResult(
            metadata={
                "rows": frame.height,
                "duplicates_removed": duplicates,
                "removed": dg.MetadataValue.json({r["reason"]: r["len"] for r in reasons.to_dicts()}),
                "removed_sample": preview(removed.select("reason", "kept_or_matched", "how", "problem")),
                "levels": dg.MetadataValue.json({str(r["level"]): r["len"] for r in levels.to_dicts()}),
                "sample": preview(frame.select("problem_id", "problem", "answer")),
                **lineage_metadata(
                    {"normalizer": "nfc-whitespace-v1", "curation": profile.curation.model_dump(exclude_unset=True)},
                    {"raw_problems": store.version("raw_problems", context.partition_key)},
                ),
            },
            data_version=dg.DataVersion(version),
        )
        # Recomputed on what was kept, not trusted from the filter: no kept problem may match a benchmark.
        leaks = []
        if index is not None:
            pairs = zip(frame["problem"], figure_hashes(frame["image"]), strict=True)
            leaks = [t for t, figure in pairs if index.match(t, figure)]
        yield dg.AssetCheckResult(
            check_name="decontamination_clean",
            passed=not leaks,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "benchmarks": dg.MetadataValue.json(profile.curation.decontaminate.benchmarks),
                "removed_as_contaminated": removed.filter(pl.col("reason") == "contaminated").height,
                "still_matching": len(leaks),
            },
        )

    return [raw_problems, problems]
