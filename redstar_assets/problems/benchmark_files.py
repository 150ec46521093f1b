"""Reading a registered benchmark's rows into the registry's common columns; a row that cannot be
used is left out and listed with its file, row and field, so it does not sink the rest."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from redstar_assets.config.benchmark_registry import (
    ANSWER_FORMATS_AUTO,
    Benchmark,
    RegistryError,
    benchmarks_dir,
    registered,
)
from redstar_assets.config.field_mapping import MAX_FIELD_CHARS
from redstar_assets.problems.answers import AnswerError, not_a_value, transformed_answer
from redstar_assets.problems.images import ImageError, read_image
from redstar_assets.problems.normalize import normalize_text, problem_id
from redstar_training.files.jsonl import iter_lines
from redstar_training.verify.extract import choice_letter

BENCHMARK_SCHEMA = {
    "benchmark": pl.String,
    "item_id": pl.String,
    "problem_id": pl.String,
    "problem": pl.String,
    "answer": pl.String,
    "answer_format": pl.String,
    "verifier": pl.String,
    "level": pl.Int64,
    "subject": pl.String,
    "tests": pl.String,
    "entry_point": pl.String,
    "tolerance": pl.Float64,
    "image": pl.Binary,
}


@dataclass(frozen=True)
class BenchmarkRead:
    """A benchmark's usable items, and the rows left out with the file, row, field and reason."""

    items: pl.DataFrame
    left_out: list[dict]


LABELLED_NUMBER = re.compile(r"[^\W\d_]*\s*(-?\d+(?:\.\d+)?)")  # "Level 5", "5", "grade 3.5"


def normalized(value: Any) -> Any:
    """What a filter compares: numbers as floats ("Level 5" = 5 = 5.0), text stripped and lower-cased."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().lower()
    labelled = LABELLED_NUMBER.fullmatch(text)
    return float(labelled[1]) if labelled else text


def keeps(bench: Benchmark, rec: dict) -> bool:
    """The registry's `filter`: every mapped field equals its value (or one of a list of values)."""
    for key, wanted in bench.filter.items():
        options = wanted if isinstance(wanted, list) else [wanted]
        if normalized(bench.value(rec, key)) not in {normalized(o) for o in options}:
            return False
    return True


def _answer(value: Any, bench: Benchmark, where: str) -> tuple[str, list | None]:
    if isinstance(value, list):
        if bench.answer_format != "list":
            raise RegistryError(f"{where}: field {bench.source('answer')!r}: a list answer needs answer_format: list")
        return json.dumps([str(v) for v in value]), value
    try:
        text = transformed_answer(str(value), bench.answer_transform)
    except AnswerError as exc:
        raise RegistryError(f"{where}: field {bench.source('answer')!r}: {exc}") from None
    if bench.answer_format == "list":
        return json.dumps([text]), None
    return text, None


def _choice_answer(answer: str, choices: Any, bench: Benchmark, where: str) -> str:
    """The letter of the option `answer` names: the answer is a letter already, or one option's text."""
    if not isinstance(choices, (list, tuple)) or not all(isinstance(c, (str, int, float)) for c in choices):
        raise RegistryError(f"{where}: field {bench.source('choices')!r}: choices must be a list of options")
    letter = choice_letter(answer)
    if letter and ord(letter) - ord("A") < len(choices) and len(answer.strip()) <= 3:
        return letter
    texts = [normalize_text(str(c)) for c in choices]
    if normalize_text(answer) not in texts:
        raise RegistryError(
            f"{where}: field {bench.source('answer')!r}: answer {answer!r} is not one of the {len(choices)} choices"
        )
    return chr(ord("A") + texts.index(normalize_text(answer)))


def _generated(bench: Benchmark, count: int | None) -> tuple[str, list[tuple[int, dict | None, str]]]:
    """A generated held-out set (the demo's arithmetic, or its code family): fixed by its generator
    spec and count."""
    from redstar_assets.problems.sources import arithmetic_code_problems, arithmetic_problems

    spec = {k: v for k, v in bench.generator.items() if k != "kind"}
    if count is not None:
        spec["count"] = count
    make = arithmetic_code_problems if bench.generator.get("kind") == "arithmetic_code" else arithmetic_problems
    if bench.generator.get("kind") == "geometry":
        from redstar_assets.problems.sources import geometry_problems

        frame = geometry_problems(bench.name, **spec)
    else:
        frame = make(bench.name, **{**spec, "digits": tuple(spec.get("digits", (1, 3)))})
    return f"generated://{bench.name}", [(n, rec, "") for n, rec in enumerate(frame.to_dicts(), 1)]


def _rows(bench: Benchmark, data_dir: Path, count: int | None = None) -> tuple[str, list[tuple[int, dict | None, str]]]:
    """(label, [(row number, record or None when the line is not a JSON object, raw line)])."""
    if bench.generator:
        return _generated(bench, count)
    path = data_dir / bench.path if bench.path else None
    if path is not None and path.exists():
        if path.suffix == ".parquet":
            try:
                frame = pl.read_parquet(path)
            except Exception as exc:  # noqa: BLE001 - a broken file is the user's: named, not a crash
                raise RegistryError(f"{path}: unreadable Parquet file: {type(exc).__name__}: {exc}"[:500]) from None
            return str(path), [(n, rec, "") for n, rec in enumerate(frame.to_dicts(), 1)]
        return str(path), list(iter_lines(path))
    if not bench.hf:
        raise RegistryError(f"benchmark {bench.name!r}: {path} does not exist and no `hf` dataset is declared")
    try:
        from datasets import load_dataset

        ds = load_dataset(bench.hf["dataset"], bench.hf.get("config"), split=bench.hf.get("split", "test"))
    except Exception as exc:
        raise RegistryError(
            f"benchmark {bench.name!r}: {path} does not exist and Hugging Face dataset {bench.hf['dataset']!r} "
            f"could not be loaded ({type(exc).__name__}); put the file at {path} (set REDSTAR_BENCHMARKS)"
        ) from None
    return f"hf://{bench.hf['dataset']}", [(i + 1, dict(r), "") for i, r in enumerate(ds)]


def _mapped(bench: Benchmark, target: str) -> str:
    return f"benchmark {bench.name!r} maps {target} <- {bench.source(target)!r}"


def _item(name: str, bench: Benchmark, n: int, rec: dict, where: str, base: Path | None = None) -> dict:
    """One usable item; an image path is read relative to `base`, the benchmark file's folder."""
    problem = bench.value(rec, "problem")
    if not problem or not str(problem).strip():
        raise RegistryError(
            f"{where}: field {bench.source('problem')!r}: missing or empty problem ({_mapped(bench, 'problem')})"
        )
    if isinstance(problem, (list, dict)):
        raise RegistryError(
            f"{where}: field {bench.source('problem')!r}: problem must be text, got {type(problem).__name__}"
        )
    if len(str(problem)) > MAX_FIELD_CHARS:
        raise RegistryError(
            f"{where}: field {bench.source('problem')!r}: problem is {len(str(problem))} characters, "
            f"over the {MAX_FIELD_CHARS}-character limit"
        )
    raw_answer = bench.value(rec, "answer")
    if raw_answer is None or raw_answer == "":
        raise RegistryError(
            f"{where}: field {bench.source('answer')!r}: missing or empty answer ({_mapped(bench, 'answer')})"
        )
    if isinstance(raw_answer, dict):
        raise RegistryError(f"{where}: field {bench.source('answer')!r}: answer must be text, a number or a list")
    if not_a_value(raw_answer):
        raise RegistryError(f"{where}: field {bench.source('answer')!r}: answer is {raw_answer!r}, not an answer")
    answer, _ = _answer(raw_answer, bench, where)
    answer_format, verifier = bench.answer_format, bench.verifier
    choices = bench.value(rec, "choices")
    if choices is not None and len(choices) > 0:  # a multiple-choice row of a mixed benchmark (MathVista)
        answer, answer_format, verifier = _choice_answer(answer, choices, bench, where), "choice", "choice"
    elif answer_format == ANSWER_FORMATS_AUTO:
        letter = choice_letter(answer) if len(answer.strip()) <= 3 else None
        answer_format = verifier = "choice" if letter else "math"
        answer = letter or answer
    tolerance = bench.value(rec, "tolerance")
    precision = bench.value(rec, "precision")
    if tolerance in (None, "") and precision not in (None, "") and answer_format != "choice":
        try:  # MathVista rounds the prediction to `precision` places: within half a unit of the last place
            tolerance = 0.5 * 10 ** -int(float(precision))
        except (TypeError, ValueError):
            raise RegistryError(
                f"{where}: field {bench.source('precision')!r}: {precision!r} is not a number"
            ) from None
    image = bench.value(rec, "image")
    if image in ("", []):  # an empty field is a text problem, not a broken figure
        image = None
    if image is not None:
        try:
            image = read_image(image, base)
        except ImageError as exc:
            raise RegistryError(f"{where}: field {bench.source('image')!r}: image: {exc}") from None
    level = normalized(bench.value(rec, "level"))
    item_id = bench.value(rec, "id")
    return {
        "benchmark": name,
        "item_id": str(n if item_id is None else item_id),
        "problem_id": problem_id(bench.domain, str(problem), image),
        "problem": str(problem),
        "answer": answer,
        "answer_format": answer_format,
        "verifier": verifier,
        "level": int(level) if isinstance(level, float) else None,
        "subject": bench.value(rec, "subject"),
        "tests": bench.value(rec, "tests"),
        "entry_point": bench.value(rec, "entry_point"),
        "tolerance": float(tolerance) if tolerance not in (None, "") else None,
        "image": image,
    }


def read_benchmark(
    name: str, data_dir: str | Path | None = None, registry: dict | None = None, count: int | None = None
) -> BenchmarkRead:
    """The benchmark's items in the registry's common columns (the first `count` kept items when given;
    a generator makes that many). A row that cannot be used (no problem, an empty answer, an answer of
    the wrong shape) is left out and listed, so it does not sink the rest."""
    bench = registered(name, registry)
    label, rows = _rows(bench, Path(data_dir) if data_dir else benchmarks_dir(), count)
    base = None if "://" in label else Path(label).parent
    out: list[dict] = []
    left_out: list[dict] = []
    for n, rec, raw in rows:
        if count is not None and len(out) >= count:
            break
        where = f"{label}:{n}"
        if rec is None:
            reason = "not UTF-8" if raw.startswith("<not UTF-8") else f"not a JSON object: {raw[:80]}"
            left_out.append({"file": label, "row": n, "reason": f"{where}: field <record>: {reason}"})
            continue
        if not keeps(bench, rec):
            continue
        try:
            out.append(_item(name, bench, n, rec, where, base))
        except RegistryError as exc:
            left_out.append({"file": label, "row": n, "reason": str(exc)})
    return BenchmarkRead(pl.DataFrame(out, schema=BENCHMARK_SCHEMA), left_out)


def load_benchmark(name: str, data_dir: str | Path | None = None, registry: dict | None = None) -> pl.DataFrame:
    """The benchmark's items, every row usable: the first bad row raises naming file, row and field
    (decontamination must see every item, so it cannot skip one)."""
    read = read_benchmark(name, data_dir, registry)
    if read.left_out:
        raise RegistryError(read.left_out[0]["reason"])
    return read.items
