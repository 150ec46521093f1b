"""Judging traces with the shared verifier and flagging quality problems."""

from __future__ import annotations

import polars as pl

from redstar_assets.config.sections import QualitySpec
from redstar_assets.traces.quality import FLAGS, with_quality_flags
from redstar_training.verify import VERIFIER_VERSION, MathTask, MathVerifier, Verdict, default_verifier
from redstar_training.verify.cache import CodeVerdictCache
from redstar_training.verify.extract import answer_format_of

UNVERIFIED = "unverified"  # an imported trace with no reference answer: subset only with verified_only false


def verify_traces(
    traces: pl.DataFrame,
    verifier: MathVerifier | None = None,
    quality: QualitySpec | None = None,
    code_cache: CodeVerdictCache | None = None,
    mode: str = "strict",
) -> pl.DataFrame:
    """Adds extracted answer, status, reason and quality flags to every trace (one batch through the
    shared verifier's worker pool, extracting as `mode` says); `quality_ok` is true when no flag is
    raised. A trace with nothing to check against (an imported trace whose problem has no reference
    answer, or a code problem without tests) is `unverified`: kept, but never counted as a pass or
    a failure."""
    quality = quality or QualitySpec()
    not_generated = ("error", "skipped")
    wanted = ("trace_id", "domain", "answer", "tests", "text", "finish_reason", "error")
    cols = {c: traces[c].to_list() if c in traces.columns else [None] * traces.height for c in wanted}
    rows = [dict(zip(cols, values, strict=True)) for values in zip(*cols.values(), strict=True)]
    teacher_ok = [t for t in rows if t["finish_reason"] not in not_generated]
    checkable = [t for t in teacher_ok if (t["tests"] if t["domain"] == "code" else t["answer"])]
    code = [t for t in checkable if t["domain"] == "code"]
    math = [t for t in checkable if t["domain"] != "code"]
    tasks = [
        MathTask(
            t["answer"],
            t["text"],
            answer_format=answer_format_of(t["answer"]),
            mode=mode,
            finish_reason=t["finish_reason"],
        )
        for t in math
    ]
    judged = dict(zip((t["trace_id"] for t in math), (verifier or default_verifier()).verify(tasks), strict=True))
    judged |= verify_code_traces(code, code_cache)
    unchecked = Verdict(UNVERIFIED, "no reference answer or tests to check against", None)
    extracted: list[str | None] = []
    status: list[str] = []
    reason: list[str] = []
    for t in rows:
        if t["finish_reason"] in not_generated:
            extracted.append(None)
            status.append("error")
            reason.append(f"teacher {t['finish_reason']}: {t['error']}")
        else:
            v = judged.get(t["trace_id"], unchecked)
            extracted.append(v.extracted)
            status.append(v.status)
            reason.append(v.reason)
    verdicts = pl.DataFrame(
        {"trace_id": cols["trace_id"], "extracted": extracted, "status": status, "reason": reason},
        schema={"trace_id": pl.String, "extracted": pl.String, "status": pl.String, "reason": pl.String},
    )
    judged_frame = traces.with_columns(verdicts.drop("trace_id"))  # verdicts are in the traces' row order
    flagged = with_quality_flags(judged_frame, quality)
    return flagged.with_columns(
        pl.col("quality_flags").list.contains("truncated").alias("truncated"),
        ~pl.col("quality_flags").list.contains("no_think").alias("has_think"),
        pl.lit(VERIFIER_VERSION).alias("verifier_version"),
        pl.col("text").str.len_chars().alias("chars"),  # what difficulty reads instead of the text
    )


def read_batches(path, rows: int = 5_000):
    """A Parquet table as frames of `rows` rows each, read one after the other: a lazy scan sliced,
    so only the row groups of each slice are read and memory stays flat over a 1M-row file, where
    pyarrow's `iter_batches` grows with the rows read (docs/results.md)."""
    import pyarrow.parquet as pq

    total = pq.ParquetFile(path).metadata.num_rows
    lazy = pl.scan_parquet(path)
    for offset in range(0, max(total, 1), rows):
        yield lazy.slice(offset, rows).collect()


def read_chosen(path, trace_ids: pl.Series, columns: list[str], rows: int = 5_000):
    """The rows of a trace file whose trace id is in `trace_ids`, in the file's order, a slice of
    `rows` rows at a time (slices holding none are not read). Which rows are wanted is worked out
    once, on the id column; each slice is then filtered on its own few ids, so Polars decodes the
    text of the wanted rows only (a filter on all the ids would hash them again for every slice)."""
    ids = pl.scan_parquet(path).select("trace_id").collect().to_series()
    keep = ids.is_in(trace_ids.implode())
    lazy = pl.scan_parquet(path)
    for offset in range(0, len(ids), rows):
        wanted = ids.slice(offset, rows).filter(keep.slice(offset, rows))
        if len(wanted):
            yield lazy.slice(offset, rows).filter(pl.col("trace_id").is_in(wanted.implode())).select(columns).collect()


def flag_counts(verified: pl.DataFrame) -> dict[str, int]:
    """How many traces each quality filter flags (a trace can have several)."""
    exploded = verified.select(pl.col("quality_flags").explode(empty_as_null=True)).drop_nulls()
    counts = {r["quality_flags"]: r["len"] for r in exploded.group_by("quality_flags").len().to_dicts()}
    return {f: counts.get(f, 0) for f in FLAGS}


def verify_code_traces(traces: list[dict], cache: CodeVerdictCache | None = None) -> dict[str, Verdict]:
    """Code traces: the last fenced block of the answer, run against the problem's tests in the sandbox
    (all of a program's tests in one sandbox start; a program judged before comes from `cache`)."""
    from redstar_training.verify.code import task_from_tests, verify_code_batch
    from redstar_training.verify.extract import extract_code

    verdicts, runnable, program_of = {}, [], {}
    for t in traces:
        program = program_of[t["trace_id"]] = extract_code(t["text"])
        if program is None:
            verdicts[t["trace_id"]] = Verdict("no_answer", "no fenced code block in the answer", None)
            continue
        try:
            runnable.append((t["trace_id"], task_from_tests(program, t.get("tests") or "")))
        except (ValueError, KeyError, TypeError) as exc:
            verdicts[t["trace_id"]] = Verdict("error", f"problem tests unusable: {exc}", program[:200])
    results = verify_code_batch([task for _, task in runnable], cache=cache)
    for (trace_id, _), r in zip(runnable, results, strict=True):
        verdicts[trace_id] = Verdict(r.status, r.reason, program_of[trace_id])  # whole: answer_only trains on it
    return verdicts
