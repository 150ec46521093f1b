"""The benchmark registry (`configs/benchmarks.yaml`): one entry per benchmark with where it loads
from, its field mapping, answer type and verifier. Problem pools and benchmarks share the field
mapping idea, so a new benchmark with other field names needs only a YAML entry."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from redstar_training.verify import last_boxed

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_FILE = ROOT / "configs" / "benchmarks.yaml"
FIELDS = ("id", "problem", "answer", "level", "subject", "solution", "tests", "entry_point", "image", "tolerance")
VERIFIERS = ("math", "code", "choice")
BENCHMARK_SCHEMA = {
    "benchmark": pl.String,
    "item_id": pl.String,
    "problem": pl.String,
    "answer": pl.String,
    "answer_format": pl.String,
    "verifier": pl.String,
    "level": pl.Int64,
    "subject": pl.String,
    "tests": pl.String,
    "entry_point": pl.String,
    "tolerance": pl.Float64,
}


class RegistryError(ValueError):
    """A registry entry or benchmark file that cannot be used, with the file, row and field."""


@dataclass(frozen=True)
class Benchmark:
    name: str
    path: str | None = None
    hf: dict = field(default_factory=dict)
    mapping: dict = field(default_factory=dict)
    answer_transform: str | None = None
    answer_format: str = "math"
    verifier: str = "math"
    filter: dict = field(default_factory=dict)
    sampling: dict = field(default_factory=dict)  # default evaluation sampling: n, temperature, top_p
    mode: str = "strict"

    def source(self, field_name: str) -> str:
        return self.mapping.get(field_name, field_name)


def load_registry(path: str | Path | None = None) -> dict[str, Benchmark]:
    path = Path(path or os.environ.get("REDSTAR_BENCHMARK_REGISTRY", REGISTRY_FILE))
    data = yaml.safe_load(path.read_text()) or {}
    out = {}
    for name, spec in (data.get("benchmarks") or {}).items():
        try:
            bench = Benchmark(name=name, **spec)
        except TypeError as exc:
            raise RegistryError(f"{path}: benchmark {name!r}: {exc}") from None
        if bench.verifier not in VERIFIERS:
            raise RegistryError(f"{path}: benchmark {name!r}: verifier {bench.verifier!r} not one of {VERIFIERS}")
        unknown = set(bench.mapping) - set(FIELDS)
        if unknown:
            raise RegistryError(f"{path}: benchmark {name!r}: unknown mapping target(s) {sorted(unknown)}")
        out[name] = bench
    return out


def benchmarks_dir() -> Path:
    default = Path(os.environ.get("REDSTAR_HOME", "data")) / "benchmarks"
    return Path(os.environ.get("REDSTAR_BENCHMARKS", default))


def _answer(value: Any, bench: Benchmark, where: str) -> tuple[str, list | None]:
    if isinstance(value, list):
        if bench.answer_format != "list":
            raise RegistryError(f"{where}: field {bench.source('answer')!r}: a list answer needs answer_format: list")
        return json.dumps([str(v) for v in value]), value
    text = str(value)
    if bench.answer_transform == "last_boxed":
        boxed = last_boxed(text)
        if boxed is None:
            raise RegistryError(f"{where}: field {bench.source('answer')!r}: no \\boxed{{}} answer")
        return boxed, None
    if bench.answer_transform == "gsm8k":
        if "####" not in text:
            raise RegistryError(f"{where}: field {bench.source('answer')!r}: no '#### n' final line")
        return text.rsplit("####", 1)[1].strip().replace(",", ""), None
    if bench.answer_format == "list":
        return json.dumps([text]), None
    return text, None


def _rows(bench: Benchmark, data_dir: Path) -> tuple[str, list[tuple[int, dict]]]:
    path = data_dir / bench.path if bench.path else None
    if path is not None and path.exists():
        if path.suffix == ".parquet":
            return str(path), list(enumerate(pl.read_parquet(path).to_dicts(), 1))
        rows = []
        for n, line in enumerate(path.open(encoding="utf-8"), 1):
            if line.strip():
                try:
                    rows.append((n, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise RegistryError(f"{path}:{n}: invalid JSON ({exc})") from None
        return str(path), rows
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
    return f"hf://{bench.hf['dataset']}", [(i + 1, dict(r)) for i, r in enumerate(ds)]


def _mapped(bench: Benchmark, target: str) -> str:
    return f"benchmark {bench.name!r} maps {target} <- {bench.source(target)!r}"


def load_benchmark(name: str, data_dir: str | Path | None = None, registry: dict | None = None) -> pl.DataFrame:
    """The benchmark's items in the registry's common columns; a bad row raises naming file, row, field."""
    registry = registry or load_registry()
    if name not in registry:
        raise RegistryError(f"unknown benchmark {name!r}; registered: {sorted(registry)}")
    bench = registry[name]
    label, rows = _rows(bench, Path(data_dir) if data_dir else benchmarks_dir())
    out = []
    for n, rec in rows:
        where = f"{label}:{n}"
        if any(rec.get(bench.source(k)) != v for k, v in bench.filter.items()):
            continue
        problem = rec.get(bench.source("problem"))
        if not problem or not str(problem).strip():
            raise RegistryError(
                f"{where}: field {bench.source('problem')!r}: missing or empty problem ({_mapped(bench, 'problem')})"
            )
        raw_answer = rec.get(bench.source("answer"))
        if raw_answer is None or raw_answer == "":
            raise RegistryError(
                f"{where}: field {bench.source('answer')!r}: missing or empty answer ({_mapped(bench, 'answer')})"
            )
        answer, _ = _answer(raw_answer, bench, where)
        tolerance = rec.get(bench.source("tolerance"))
        level = rec.get(bench.source("level"))
        out.append(
            {
                "benchmark": name,
                "item_id": str(rec.get(bench.source("id"), n)),
                "problem": str(problem),
                "answer": answer,
                "answer_format": bench.answer_format,
                "verifier": bench.verifier,
                "level": int(str(level).removeprefix("Level ")) if level not in (None, "") else None,
                "subject": rec.get(bench.source("subject")),
                "tests": rec.get(bench.source("tests")),
                "entry_point": rec.get(bench.source("entry_point")),
                "tolerance": float(tolerance) if tolerance not in (None, "") else None,
            }
        )
    return pl.DataFrame(out, schema=BENCHMARK_SCHEMA)
