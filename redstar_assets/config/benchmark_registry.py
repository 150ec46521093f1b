"""The benchmark registry (`configs/benchmarks.yaml`): one entry per benchmark with where it loads
from, its field mapping, answer type and verifier. Problem pools and benchmarks share the field
mapping idea, so a new benchmark with other field names needs only a YAML entry."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redstar_assets.config.field_mapping import field_value
from redstar_assets.config.locations import config_dirs, configs_dir
from redstar_assets.config.safe_yaml import read_yaml
from redstar_training.verify import MODES

REGISTRY_FILE = configs_dir() / "benchmarks.yaml"
FIELDS = (
    "id",
    "problem",
    "answer",
    "level",
    "subject",
    "solution",
    "tests",
    "entry_point",
    "image",
    "tolerance",
    "choices",  # a multiple-choice row's options (MathVista): its answer is turned into the option's letter
    "precision",  # decimal places a float answer is compared to (MathVista): within half a unit of the last
)
VERIFIERS = ("math", "code", "choice")
GENERATOR_KINDS = ("arithmetic", "arithmetic_code", "geometry")
ANSWER_FORMATS_AUTO = "auto"  # per row: `choice` when the answer is an option letter, else `math` (GeoQA)


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
    max_tokens: int | None = None  # the generation budget this benchmark is usually reported with
    mode: str = "strict"
    domain: str = "math"  # what its problems are, for the content-hash id (math, code, geo)
    generator: dict = field(default_factory=dict)  # a generated set: {kind: arithmetic, count, digits, ops, seed}
    protocol: str | None = None  # the published evaluation protocol its sampling follows, named and cited

    def source(self, field_name: str) -> str:
        return self.mapping.get(field_name, field_name)

    def value(self, rec: dict, field_name: str) -> Any:
        """The row's value for a target field: a field name, a dotted path into nested fields
        (`metadata.task`), or a template over several fields (`"{Body} {Question}"`)."""
        return field_value(rec, self.source(field_name))


def load_registry(path: str | Path | None = None) -> dict[str, Benchmark]:
    """The entries of `path`; by default the shipped registry, then each configuration folder's
    `benchmarks.yaml` (REDSTAR_CONFIGS, the first folder last, so it wins), then the file
    REDSTAR_BENCHMARK_REGISTRY names: a later entry of the same name replaces an earlier one."""
    if path is not None:
        return _read_registry(Path(path))
    users = [d / "benchmarks.yaml" for d in reversed(config_dirs()[:-1]) if (d / "benchmarks.yaml").exists()]
    named = os.environ.get("REDSTAR_BENCHMARK_REGISTRY")
    out: dict[str, Benchmark] = {}
    for f in [REGISTRY_FILE, *users, *([Path(named)] if named else [])]:
        out.update(_read_registry(f))
    return out


def _read_registry(path: Path) -> dict[str, Benchmark]:
    data = read_yaml(path, RegistryError, "a benchmark registry") or {}
    entries = data.get("benchmarks") if isinstance(data, dict) else None
    return parse_entries(entries, str(path))


def parse_entries(entries: Any, where: str, base: Path | None = None) -> dict[str, Benchmark]:
    """Registry entries (name -> mapping) as benchmarks, each checked; a relative `path` that exists
    under `base` (the folder of the profile that declares it) is read from there."""
    if not isinstance(entries or {}, dict):
        raise RegistryError(f"{where}: 'benchmarks' must map names to entries, got {type(entries).__name__}")
    out = {}
    for name, spec in (entries or {}).items():
        if not isinstance(spec, dict):
            raise RegistryError(f"{where}: benchmark {name!r}: an entry is a mapping, got {type(spec).__name__}")
        if base is not None and isinstance(spec.get("path"), str) and (base / spec["path"]).exists():
            spec = {**spec, "path": str((base / spec["path"]).resolve())}
        try:
            bench = Benchmark(name=name, **spec)
        except TypeError as exc:
            raise RegistryError(f"{where}: benchmark {name!r}: {exc}") from None
        _check(bench, where)
        out[name] = bench
    return out


def _check(bench: Benchmark, path: str) -> None:
    name = bench.name
    if bench.answer_format == ANSWER_FORMATS_AUTO and bench.verifier != ANSWER_FORMATS_AUTO:
        raise RegistryError(f"{path}: benchmark {name!r}: answer_format auto goes with verifier auto")
    if bench.verifier not in (*VERIFIERS, ANSWER_FORMATS_AUTO):
        raise RegistryError(f"{path}: benchmark {name!r}: verifier {bench.verifier!r} not one of {VERIFIERS}")
    if bench.protocol is not None and (not isinstance(bench.protocol, str) or not bench.protocol.strip()):
        raise RegistryError(
            f"{path}: benchmark {name!r}: protocol must be a non-empty text naming and citing the evaluation "
            f"protocol, got {bench.protocol!r}"
        )
    if bench.mode not in MODES:
        raise RegistryError(f"{path}: benchmark {name!r}: mode {bench.mode!r} not one of {MODES}")
    unknown = set(bench.mapping) - set(FIELDS)
    if unknown:
        raise RegistryError(f"{path}: benchmark {name!r}: unknown mapping target(s) {sorted(unknown)}")
    if bench.generator and bench.generator.get("kind") not in GENERATOR_KINDS:
        raise RegistryError(
            f"{path}: benchmark {name!r}: generator kind {bench.generator.get('kind')!r} "
            f"is not one of {GENERATOR_KINDS}"
        )
    if not bench.generator and not bench.path and not bench.hf:
        raise RegistryError(f"{path}: benchmark {name!r}: needs a path, an hf dataset or a generator")


def benchmarks_dir() -> Path:
    default = Path(os.environ.get("REDSTAR_HOME", "data")) / "benchmarks"
    return Path(os.environ.get("REDSTAR_BENCHMARKS", default))


def registered(name: str, registry: dict | None = None) -> Benchmark:
    registry = registry if registry is not None else load_registry()
    if name not in registry:
        raise RegistryError(f"unknown benchmark {name!r}; registered: {sorted(registry)}")
    return registry[name]
