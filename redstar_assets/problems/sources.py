"""Problem sources: the built-in generators, local JSONL/Parquet files, Hugging Face datasets and
imported traces, each read through a field mapping into the same columns (RAW_SCHEMA). Rows that
fail validation go to a quarantine table with the file, line, field and reason; the good rows go on."""

from __future__ import annotations

import csv
import glob
import json
import random
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from redstar_assets.config.field_mapping import MAX_FIELD_CHARS, field_value
from redstar_assets.config.sources import (
    ArithmeticCodeSource,
    ArithmeticSource,
    FileSource,
    GeometrySource,
    HuggingfaceSource,
    SourceSpec,
    SyntheticSource,
    TraceSource,
)
from redstar_assets.problems.answers import AnswerError, not_a_value, transformed_answer
from redstar_assets.problems.images import ImageError, read_image
from redstar_assets.problems.trace_import import TRACE_SCHEMA, TraceRule, normalized_trace
from redstar_training.files.jsonl import iter_lines

RAW_SCHEMA = {
    "source": pl.String,
    "source_row": pl.Int64,
    "domain": pl.String,
    "problem": pl.String,
    "answer": pl.String,
    "level": pl.Int64,
    "subject": pl.String,
    "tests": pl.String,  # code problems: JSON tests (HumanEval `check` code, or stdin/stdout pairs)
    "image": pl.Binary,  # an image problem's figure, encoded (PNG, JPEG...) and checked (images.py)
}
QUARANTINE_SCHEMA = pl.Schema(
    {
        "source": pl.String,
        "file": pl.String,
        "line": pl.Int64,
        "field": pl.String,
        "reason": pl.String,
        "raw": pl.String,
    }
)
MAPPABLE_FIELDS = ("problem", "answer", "level", "subject", "domain", "tests", "image")


def arithmetic_problems(
    name: str, count: int, digits: tuple[int, int] = (1, 3), ops: Sequence[str] | None = None, seed: int = 0
) -> pl.DataFrame:
    """Seeded `Compute A op B.` problems; each operand's digit count is drawn from `digits`.

    Level is the larger operand's digit count (plus one for subtraction), the difficulty knob the
    procedural teacher feels through its per-column slips.
    """
    ops = ops or ["+"]
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        a = rng.randrange(0, 10 ** rng.randint(digits[0], digits[1]))
        b = rng.randrange(0, 10 ** rng.randint(digits[0], digits[1]))
        op = rng.choice(ops)
        if op == "-" and b > a:
            a, b = b, a
        answer = a + b if op == "+" else a - b
        level = max(len(str(a)), len(str(b))) + (op == "-")
        rows.append(
            {
                "source": name,
                "source_row": i,
                "domain": "math",
                "problem": f"Compute {a} {op} {b}.",
                "answer": str(answer),
                "level": level,
                "subject": "arithmetic",
            }
        )
    return pl.DataFrame(rows, schema=RAW_SCHEMA)


def arithmetic_code_problems(
    name: str, count: int, operands: tuple[int, int] = (2, 3), digits: tuple[int, int] = (1, 3), seed: int = 0
) -> pl.DataFrame:
    """Seeded code problems of the arithmetic family: a program that reads k integers from one line
    and prints their sum plus a constant stated as a sum `A + B` still to be done (A and B drawn as
    the arithmetic family draws its operands, from `digits`), with three stdin/stdout tests and a
    reference program as its answer. Level is the larger constant operand's digit count, as in the
    arithmetic family; k adds the program slips the procedural code teacher makes."""
    from redstar_training.synthetic.procedural_code import code_problem, code_tests, program

    rng = random.Random(seed)
    rows = []
    for i in range(count):
        k = rng.randint(operands[0], operands[1])
        a = rng.randrange(0, 10 ** rng.randint(digits[0], digits[1]))
        b = rng.randrange(0, 10 ** rng.randint(digits[0], digits[1]))
        tests = code_tests(k, a + b, (digits[0], digits[1]), rng)
        rows.append(
            {
                "source": name,
                "source_row": i,
                "domain": "code",
                "problem": code_problem(k, a, b),
                "answer": program("correct", a + b),  # a reference solution, as HumanEval's canonical_solution
                "level": max(len(str(a)), len(str(b))),
                "subject": "arithmetic-code",
                "tests": tests,
            }
        )
    return pl.DataFrame(rows, schema=RAW_SCHEMA)


def synthetic_problems(name: str, count: int, seed: int = 0) -> pl.DataFrame:
    """Seeded word problems whose gold answers follow the synthetic teacher's fixed answer mix
    (integers, fractions, LaTeX, tuples and intervals, choices): the problems of scale runs."""
    from redstar_training.synthetic.synthetic import problem

    rows = [problem(i, seed) for i in range(count)]
    return pl.DataFrame(
        {
            "source": [name] * count,
            "source_row": list(range(count)),
            "domain": ["math"] * count,
            "problem": [r["problem"] for r in rows],
            "answer": [r["answer"] for r in rows],
            "level": [None] * count,
            "subject": [r["kind"] for r in rows],
            "tests": [None] * count,
            "image": [None] * count,
        },
        schema=RAW_SCHEMA,
    )


def geometry_problems(
    name: str,
    count: int,
    kinds: Sequence[str] | None = None,
    values: list[int] | None = None,
    size: int = 224,
    seed: int = 0,
) -> pl.DataFrame:
    """Seeded multiple-choice geometry problems over drawn figures (teachers/geometry.py): part of
    each answer is printed only in the figure. Level is the kind's number of reasoning steps."""
    from redstar_training.synthetic.geometry import KINDS, make_problem

    rng = random.Random(seed)
    kinds = kinds or list(KINDS)
    rows = []
    for i in range(count):
        made = make_problem(kinds[i % len(kinds)], values or [30, 40, 50, 60, 70], rng, size)
        rows.append(
            {
                "source": name,
                "source_row": i,
                "domain": "geo",
                "problem": made.problem,
                "answer": made.answer,
                "level": 2 if made.kind == "triangle" else 1,
                "subject": made.kind,
                "image": made.image,
            }
        )
    return pl.DataFrame(rows, schema=RAW_SCHEMA)


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, record or None, raw text) for JSONL; (row index, record, '') for Parquet; read
    as they come, so a file larger than memory streams through."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        row = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=5_000):
            for rec in batch.to_pylist():
                row += 1
                yield row, rec, ""
        return
    if path.suffix == ".csv":  # bytes that are not UTF-8 are that row's fault (kept escaped, refused below)
        with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
            for i, rec in enumerate(csv.DictReader(fh)):
                line = i + 2  # line 1 is the header (a quoted field may span lines: the row's number, then)
                if any(_escaped(v) for v in (*rec.values(), *rec.keys())):
                    yield line, None, f"<not UTF-8: invalid bytes in CSV row> {str(rec)[:200]!r}"
                else:
                    yield line, dict(rec), ""
        return
    yield from iter_lines(path)


def _escaped(value: object) -> bool:
    """A CSV value holding surrogate-escaped bytes: the row was not UTF-8."""
    if isinstance(value, list):  # DictReader puts a row's extra fields in a list
        return any(_escaped(v) for v in value)
    return isinstance(value, str) and any("\udc80" <= ch <= "\udcff" for ch in value)


def _unusable_tests(tests: str) -> str | None:
    """Why a code problem's tests cannot be run (the verifier's own reading of them), or None."""
    from redstar_training.verify.code import task_from_tests

    try:
        task_from_tests("", tests)
    except (ValueError, KeyError, TypeError) as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


def _validate(
    rec: dict[str, Any],
    mapping: dict[str, str],
    defaults: dict[str, Any],
    answer_transform: str | None,
    answer_required: bool = True,
    base: Path | None = None,
) -> tuple[dict | None, str, str]:
    """Maps one record to the raw schema; returns (row, field, reason) with row None when invalid.
    Without `answer_required` (imported traces) a row may lack its answer or tests: it is kept, and
    its traces are `unverified`. An image path is read relative to `base`, the record's folder."""
    row: dict[str, Any] = dict(defaults)
    for target in MAPPABLE_FIELDS:
        value = field_value(rec, mapping.get(target, target))
        if value is not None:
            row[target] = value
    if isinstance(row.get("tests"), (list, dict)):
        row["tests"] = json.dumps(row["tests"])
    required_fields: tuple[str, ...] = ("problem", "tests") if row.get("domain") == "code" else ("problem", "answer")
    if row.get("domain") == "code" and row.get("answer") is None:
        row["answer"] = ""
    if not answer_required:
        required_fields = ("problem", *(f for f in required_fields[1:] if row.get(f) is not None))
        row.setdefault("answer", None)
    for required in required_fields:
        value = row.get(required)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None, mapping.get(required, required), f"missing or empty {required}"
        if isinstance(value, (list, dict)):
            return (
                None,
                mapping.get(required, required),
                f"{required} must be text or a number, got {type(value).__name__}",
            )
        if not_a_value(value):
            return None, mapping.get(required, required), f"{required} is {value!r}: a missing or broken value"
        row[required] = str(value)
        if len(row[required]) > MAX_FIELD_CHARS:
            return (
                None,
                mapping.get(required, required),
                f"{required} is {len(row[required])} characters, over the {MAX_FIELD_CHARS}-character limit",
            )
    if row.get("domain") == "code":
        problem = _unusable_tests(row["tests"])
        if problem:
            return None, mapping.get("tests", "tests"), f"tests do not parse: {problem}"
    if row.get("answer") is not None:  # an imported trace may have no reference answer: nothing to transform
        try:
            row["answer"] = transformed_answer(row["answer"], answer_transform)
        except AnswerError as exc:
            return None, mapping.get("answer", "answer"), str(exc)
    if row.get("image") in ("", []):  # an empty field is a text problem, not a broken figure
        row["image"] = None
    if row.get("image") is not None:
        try:
            row["image"] = read_image(row["image"], base)
        except ImageError as exc:
            return None, mapping.get("image", "image"), f"image: {exc}"
    if isinstance(row.get("level"), str) and not row["level"].strip():  # an empty CSV cell: no level given
        row["level"] = None
    if row.get("level") is not None:
        try:
            row["level"] = int(str(row["level"]).removeprefix("Level ").strip())
        except ValueError:
            return None, mapping.get("level", "level"), f"level {row['level']!r} is not an integer"
    return row, "", ""


def collected(chunks: Iterable[tuple[pl.DataFrame, pl.DataFrame]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(good rows, quarantine) chunks as one pair of frames."""
    pairs = list(chunks)
    return pl.concat([g for g, _ in pairs]), pl.concat([b for _, b in pairs])


def map_records(
    name: str,
    records: Iterable[tuple[str, int, dict | None, str]],
    mapping: dict[str, str] | None,
    domain: str,
    answer_transform: str | None = None,
    traces: TraceRule | None = None,
    rows: int = 20_000,
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """Shared by every tabular source: (file, line, record, raw) in, (good rows, quarantine) out, a
    chunk of `rows` records at a time (at least one chunk, maybe empty), so a million 8 KB traces
    never sit in memory together. With a trace rule (a `traces` source) each row also carries its
    normalized trace (TRACE_SCHEMA), and its reference answer is optional."""
    good: list[dict] = []
    bad: list[dict] = []
    defaults = {"domain": domain, "level": None, "subject": None}
    schema = RAW_SCHEMA if traces is None else {**RAW_SCHEMA, **TRACE_SCHEMA}
    for file, lineno, rec, raw in records:
        if len(good) + len(bad) >= rows:
            yield pl.DataFrame(good, schema=schema), pl.DataFrame(bad, schema=QUARANTINE_SCHEMA)
            good, bad = [], []
        if rec is None:
            bad.append(
                {
                    "source": name,
                    "file": file,
                    "line": lineno,
                    "field": "<record>",
                    "reason": "not UTF-8" if raw.startswith("<not UTF-8") else "not a JSON object",
                    "raw": raw[:2000],
                }
            )
            continue
        base = None if "://" in file else Path(file).parent
        row, field, reason = _validate(rec, mapping or {}, defaults, answer_transform, traces is None, base)
        if row is not None and traces is not None:
            trace, field, reason = normalized_trace(rec, mapping or {}, traces)
            row = None if trace is None else {**row, **trace}
        if row is None:
            bad.append(
                {
                    "source": name,
                    "file": file,
                    "line": lineno,
                    "field": field,
                    "reason": reason,
                    "raw": (raw or json.dumps(rec, default=str))[:2000],
                }
            )
        else:
            good.append({**row, "source": name, "source_row": lineno})
    yield pl.DataFrame(good, schema=schema), pl.DataFrame(bad, schema=QUARANTINE_SCHEMA)


def file_problems(spec: FileSource) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Loads JSONL, Parquet or CSV files (a glob is fine) through a field mapping; returns (good, quarantine)."""
    broken: list[dict] = []
    records = file_records(spec.name, spec.path, broken)
    good, bad = collected(map_records(spec.name, records, spec.mapping, spec.domain, spec.answer_transform))
    return good, pl.concat([bad, pl.DataFrame(broken, schema=QUARANTINE_SCHEMA)])


def file_records(name: str, path: str, broken: list[dict]) -> Iterator[tuple[str, int, dict | None, str]]:
    """(file, line, record, raw) of every file `path` names (a glob is fine), read as they come; a
    file that cannot be read adds a quarantine row to `broken` (the rows read before are kept)."""
    files = [Path(f) for f in sorted(glob.glob(path))] if any(c in path for c in "*?[") else [Path(path)]
    if not files or not all(f.exists() for f in files):
        raise FileNotFoundError(f"source {name!r}: no file matches {path!r}")
    for f in files:
        try:  # an unreadable file is quarantined; the others go on
            for lineno, rec, raw in _records(f):
                yield str(f), lineno, rec, raw
        except Exception as exc:  # noqa: BLE001 - any reader failure is the file's, recorded with its reason
            broken.append(
                {
                    "source": name,
                    "file": str(f),
                    "line": 0,
                    "field": "<file>",
                    "reason": f"unreadable: {type(exc).__name__}: {exc}"[:500],
                    "raw": "",
                }
            )


def huggingface_problems(spec: HuggingfaceSource) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A Hugging Face dataset by id, split and revision; offline, a clear error says what to do instead."""
    records = _hf_records(spec.name, spec.dataset, spec.split, spec.revision, spec.config)
    return collected(map_records(spec.name, records, spec.mapping, spec.domain, spec.answer_transform))


def _hf_records(name: str, dataset: str, split: str, revision: str | None, config: str | None):
    """(label, row, record, '') of a Hugging Face dataset split, streamed from the local cache."""
    try:
        from datasets import load_dataset

        rows = load_dataset(dataset, config, split=split, revision=revision)
    except Exception as exc:
        raise RuntimeError(
            f"source {name!r}: could not load Hugging Face dataset {dataset!r} (split {split!r}, revision "
            f"{revision!r}): {exc}. Without Hub access, download it elsewhere and declare a `file` source."
        ) from exc
    label = f"hf://{dataset}@{revision or 'main'}/{split}"
    return ((label, i + 1, dict(r), "") for i, r in enumerate(rows))


def imported_trace_chunks(spec: TraceSource) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """A released trace dataset (files or a Hugging Face id): one row per trace with its problem, the
    trace normalized to `<think>` form (trace_import.py), and the reference answer when it has one;
    `rows` records at a time (good rows, quarantine), the last chunk carrying unreadable files."""
    broken: list[dict] = []
    if spec.path is not None:
        records = file_records(spec.name, spec.path, broken)
    else:
        assert spec.dataset is not None  # the section holds one of the two
        records = _hf_records(spec.name, spec.dataset, spec.split, spec.revision, spec.config)
    rule = TraceRule.of(spec.trace_split)
    chunks = map_records(spec.name, records, spec.mapping, spec.domain, spec.answer_transform, rule, spec.rows)
    last = next(chunks)
    for chunk in chunks:
        yield last
        last = chunk
    yield last[0], pl.concat([last[1], pl.DataFrame(broken, schema=QUARANTINE_SCHEMA)])


def load_source(spec: SourceSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Dispatches on the source's kind; every kind returns (rows, quarantine)."""
    empty = pl.DataFrame(schema=QUARANTINE_SCHEMA)
    if isinstance(spec, ArithmeticSource):
        return arithmetic_problems(spec.name, spec.count, spec.digits, spec.ops, spec.seed), empty
    if isinstance(spec, ArithmeticCodeSource):
        return arithmetic_code_problems(spec.name, spec.count, spec.operands, spec.digits, spec.seed), empty
    if isinstance(spec, SyntheticSource):
        return synthetic_problems(spec.name, spec.count, spec.seed), empty
    if isinstance(spec, GeometrySource):
        return geometry_problems(spec.name, spec.count, spec.kinds, spec.values, spec.size, spec.seed), empty
    if isinstance(spec, FileSource):
        return file_problems(spec)
    if isinstance(spec, HuggingfaceSource):
        return huggingface_problems(spec)
    return collected(imported_trace_chunks(spec))
