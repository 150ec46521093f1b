"""The benchmarks a profile evaluates on: registry entries (`configs/benchmarks.yaml`) by name, with
at most the item count, the sampling and `max_tokens` overridden; what an answer is and how it is
judged belong to the benchmark, so a profile cannot change them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redstar_assets.config.benchmark_registry import Benchmark, RegistryError, load_registry

OVERRIDABLE = ("count", "sampling", "max_tokens")
SAMPLING_KEYS = ("n", "temperature", "top_p")
DEFAULT_SAMPLING = {"n": 4, "temperature": 0.6, "top_p": 0.95}  # for entries that register none


@dataclass(frozen=True)
class EvalBenchmark:
    entry: Benchmark
    count: int | None = None
    sampling: dict = field(default_factory=dict)  # n, temperature, top_p, after overrides
    max_tokens: int | None = None
    overrides: dict = field(default_factory=dict)  # what the profile changed, shown in metadata

    @property
    def name(self) -> str:
        return self.entry.name

    def run_spec(self) -> dict[str, Any]:
        """What the evaluation entry point needs besides the item file."""
        return {"name": self.name, "mode": self.entry.mode, **self.sampling, "max_tokens": self.max_tokens}


def _override(where: str, spec: dict) -> dict:
    unknown = sorted(set(spec) - {"name", *OVERRIDABLE})
    if unknown:
        raise RegistryError(
            f"{where}: {spec.get('name')!r}: {unknown} cannot be overridden by a profile; only {list(OVERRIDABLE)} can "
            "(answer format, tolerance, verifier and mapping belong to the registry entry)"
        )
    bad = sorted(set(spec.get("sampling") or {}) - set(SAMPLING_KEYS))
    if bad:
        raise RegistryError(f"{where}: {spec['name']!r}.sampling: unknown key(s) {bad}; known: {list(SAMPLING_KEYS)}")
    for key in ("count", "max_tokens"):
        if key in spec and (not isinstance(spec[key], int) or isinstance(spec[key], bool) or spec[key] <= 0):
            raise RegistryError(f"{where}: {spec['name']!r}.{key} must be a positive integer, got {spec[key]!r}")
    return {k: v for k, v in spec.items() if k != "name"}


def eval_benchmarks(entries: list, where: str, registry: dict | None = None) -> list[EvalBenchmark]:
    """Resolves `evaluation.benchmarks`; an unknown name fails here, listing the registered ones."""
    registry = registry if registry is not None else load_registry()
    out, seen = [], set()
    for i, raw in enumerate(entries or []):
        spec = {"name": raw} if isinstance(raw, str) else dict(raw or {})
        name = str(spec.get("name"))
        if name not in registry:
            raise RegistryError(
                f"{where}: evaluation.benchmarks[{i}]: unknown benchmark {name!r}; registered: {sorted(registry)}"
            )
        if name in seen:
            raise RegistryError(f"{where}: evaluation.benchmarks[{i}]: {name!r} is listed twice")
        seen.add(name)
        overrides = _override(f"{where}: evaluation.benchmarks[{i}]", spec)
        entry = registry[name]
        sampling = {**DEFAULT_SAMPLING, **entry.sampling, **(overrides.get("sampling") or {})}
        out.append(
            EvalBenchmark(
                entry=entry,
                count=overrides.get("count"),
                sampling=sampling,
                max_tokens=overrides.get("max_tokens") or entry.max_tokens,
                overrides=overrides,
            )
        )
    return out
