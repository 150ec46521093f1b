"""Profiles: one YAML file that declares a whole study (sources, teacher, recipes, experiments).

A profile may `extends:` another; mappings merge key by key, lists replace, and keys named in the
child's `replace:` list replace the parent's value whole. The active profile
(REDSTAR_PROFILE, default `demo`) fixes the partition sets the Dagster definitions expose.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

STAGES = ("base", "sft", "rl")
STRATEGIES = ("random", "hard_first", "band", "stratified")
TARGET_FORMATS = ("long_cot", "answer_only")
TEACHER_BACKENDS = ("procedural", "vllm", "openai", "transformers")
BASE_MODEL_KINDS = ("tiny_qwen2", "local", "hub")


def _check_teacher(spec: dict, where: str) -> None:
    """The teacher block must build its backend (no model is loaded, no server is called)."""
    from redstar_assets.traces.teacher import distill_config
    from redstar_training.distill import make_backend
    from redstar_training.generation.prompts import template
    from redstar_training.generation.types import Sampling

    try:
        cfg = distill_config(spec)
        make_backend(cfg.backend, [])
        template(cfg.prompt_template)
        Sampling(**cfg.sampling)
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"{where}: teacher: {exc}") from None


class ProfileError(ValueError):
    """A profile that cannot run, with the file and key that are wrong."""


def configs_dir() -> Path:
    return Path(os.environ.get("REDSTAR_CONFIGS", Path(__file__).resolve().parents[1] / "configs"))


def spec_hash(spec: Any) -> str:
    """Short stable hash of any YAML-able spec; the config hash recorded with each materialization."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SubsetRecipe:
    name: str
    scale: int
    strategy: str = "random"
    target_format: str = "long_cot"
    verified_only: bool = True
    max_per_problem: int = 1
    seed: int = 0
    band: tuple[float, float] | None = None  # teacher pass-rate band for strategy "band", e.g. [0.1, 0.6]
    mix: dict[str, float] | None = None  # domain shares, e.g. {math: 0.7, code: 0.3}; None = whatever the pool holds
    cap: bool = False  # take what exists when the pool is smaller than `scale`, instead of failing
    quality_only: bool = True  # only traces with no quality flag


@dataclass(frozen=True)
class Experiment:
    name: str
    base_model: str
    stages: tuple[str, ...]
    subset: str | None = None
    training: str | None = None
    rl: str | None = None
    description: str = ""


@dataclass
class Profile:
    name: str
    path: Path
    description: str
    sources: list[dict[str, Any]]
    teacher: dict[str, Any]
    difficulty: dict[str, Any]
    curation: dict[str, Any]
    quality: dict[str, Any]
    base_models: dict[str, dict[str, Any]]
    subset_recipes: dict[str, SubsetRecipe]
    training_recipes: dict[str, dict[str, Any]]
    rl_recipes: dict[str, dict[str, Any]]
    benchmarks: list[dict[str, Any]]
    evaluation: dict[str, Any]
    experiments: list[Experiment]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def source(self, name: str) -> dict[str, Any]:
        for spec in self.sources:
            if spec["name"] == name:
                return spec
        raise ProfileError(f"{self.path}: no source named {name!r}; sources: {[s['name'] for s in self.sources]}")

    def experiment(self, name: str) -> Experiment:
        for exp in self.experiments:
            if exp.name == name:
                return exp
        raise ProfileError(f"{self.path}: no experiment named {name!r}")

    def experiments_with(self, stage: str) -> list[str]:
        return [e.name for e in self.experiments if stage in e.stages]


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _resolve_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"}:
        return path
    path = configs_dir() / "profiles" / f"{name_or_path}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in (configs_dir() / "profiles").glob("*.yaml"))
        raise ProfileError(f"unknown profile {name_or_path!r}: no {path}; known profiles: {known}")
    return path


def _load_raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path in seen:
        raise ProfileError(f"{path}: 'extends' forms a cycle")
    data = yaml.safe_load(path.read_text()) or {}
    parent = data.pop("extends", None)
    replace = data.pop("replace", [])
    if not parent:
        return data
    base = {k: v for k, v in _load_raw(_resolve_path(parent), (*seen, path)).items() if k not in replace}
    return _merge(base, data)


def _validate(p: Profile) -> None:
    where = str(p.path)
    from redstar_assets.problems.sources import SOURCE_KINDS

    names = [s.get("name") for s in p.sources]
    if not names or None in names or len(set(names)) != len(names):
        raise ProfileError(f"{where}: sources need unique names, got {names}")
    for spec in [*p.sources, *p.benchmarks]:
        if spec.get("kind") not in SOURCE_KINDS:
            raise ProfileError(f"{where}: {spec.get('name')!r}.kind {spec.get('kind')!r} is not one of {SOURCE_KINDS}")
    if p.teacher.get("backend", "procedural") not in TEACHER_BACKENDS:
        raise ProfileError(f"{where}: teacher.backend {p.teacher.get('backend')!r} is not one of {TEACHER_BACKENDS}")
    _check_teacher(p.teacher, where)
    from redstar_assets.traces.quality import QualitySpec

    try:
        QualitySpec.from_profile(p.quality)
    except ValueError as exc:
        raise ProfileError(f"{where}: {exc}") from None
    for name, spec in p.base_models.items():
        if spec.get("kind") not in BASE_MODEL_KINDS:
            raise ProfileError(
                f"{where}: base_models.{name}.kind {spec.get('kind')!r} is not one of {BASE_MODEL_KINDS}"
            )
    for recipe in p.subset_recipes.values():
        if recipe.strategy not in STRATEGIES:
            raise ProfileError(
                f"{where}: subset_recipes.{recipe.name}.strategy {recipe.strategy!r} not in {STRATEGIES}"
            )
        if recipe.target_format not in TARGET_FORMATS:
            raise ProfileError(f"{where}: subset_recipes.{recipe.name}.target_format must be one of {TARGET_FORMATS}")
        if recipe.strategy == "band" and (not recipe.band or len(recipe.band) != 2 or recipe.band[0] > recipe.band[1]):
            raise ProfileError(f"{where}: subset_recipes.{recipe.name}: strategy band needs band: [low, high]")
        if recipe.mix is not None and (not recipe.mix or abs(sum(recipe.mix.values()) - 1) > 1e-6):
            raise ProfileError(f"{where}: subset_recipes.{recipe.name}.mix shares must sum to 1, got {recipe.mix}")
        if recipe.scale <= 0:
            raise ProfileError(f"{where}: subset_recipes.{recipe.name}.scale must be positive")
    for exp in p.experiments:
        key = f"{where}: experiments.{exp.name}"
        if exp.base_model not in p.base_models:
            raise ProfileError(f"{key}.base_model {exp.base_model!r} is not in base_models {sorted(p.base_models)}")
        if not exp.stages or any(s not in STAGES for s in exp.stages):
            raise ProfileError(f"{key}.stages {list(exp.stages)} must be drawn from {STAGES}")
        if "sft" in exp.stages and (exp.subset not in p.subset_recipes or exp.training not in p.training_recipes):
            raise ProfileError(
                f"{key}: an sft stage needs a known subset and training recipe "
                f"(got subset={exp.subset!r}, training={exp.training!r})"
            )
        if exp.rl in p.rl_recipes and p.rl_recipes[exp.rl].get("method", "dpo") not in ("dpo", "grpo"):
            raise ProfileError(f"{key}: rl recipe {exp.rl!r}: method must be dpo or grpo")
        if "rl" in exp.stages and ("sft" not in exp.stages or exp.rl not in p.rl_recipes):
            raise ProfileError(f"{key}: an rl stage needs an sft stage and a known rl recipe (got rl={exp.rl!r})")
    if len({e.name for e in p.experiments}) != len(p.experiments) or not p.experiments:
        raise ProfileError(f"{where}: experiments need unique names and at least one entry")


def load_profile(name_or_path: str) -> Profile:
    """Reads, merges and validates a profile; every error names the file and the key."""
    path = _resolve_path(name_or_path)
    raw = _load_raw(path)
    try:
        recipes = {
            k: SubsetRecipe(name=k, **{**v, **({"band": tuple(v["band"])} if v.get("band") else {})})
            for k, v in (raw.get("subset_recipes") or {}).items()
        }
        experiments = [
            Experiment(
                name=e["name"],
                base_model=e["base_model"],
                stages=tuple(e.get("stages", ["base"])),
                subset=e.get("subset"),
                training=e.get("training"),
                rl=e.get("rl"),
                description=e.get("description", ""),
            )
            for e in raw.get("experiments") or []
        ]
    except (TypeError, KeyError) as exc:
        raise ProfileError(f"{path}: {exc}") from exc
    profile = Profile(
        name=raw.get("name", path.stem),
        path=path,
        description=raw.get("description", ""),
        sources=raw.get("sources") or [],
        teacher=raw.get("teacher") or {},
        difficulty=raw.get("difficulty") or {},
        curation=raw.get("curation") or {},
        quality=raw.get("quality") or {},
        base_models=raw.get("base_models") or {},
        subset_recipes=recipes,
        training_recipes=raw.get("training_recipes") or {},
        rl_recipes=raw.get("rl_recipes") or {},
        benchmarks=raw.get("benchmarks") or [],
        evaluation=raw.get("evaluation") or {},
        experiments=experiments,
        raw=raw,
    )
    _validate(profile)
    return profile


@functools.cache
def active_profile() -> Profile:
    """The profile the Dagster definitions serve, chosen by REDSTAR_PROFILE."""
    return load_profile(os.environ.get("REDSTAR_PROFILE", "demo"))
