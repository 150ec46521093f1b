"""Profiles: one YAML file that declares a whole study (sources, teacher, recipes, experiments).

A profile may `extends:` another; mappings merge key by key (a block that names another `backend` or
`kind` replaces the parent's), lists replace, and keys named in `replace:` replace the parent's whole.
Nothing here is global, so several profiles load side by side.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from redstar_assets.config.errors import ProfileError
from redstar_assets.config.evaluation import EvaluationSpec
from redstar_assets.config.locations import config_dirs
from redstar_assets.config.references import check_references, check_retired
from redstar_assets.config.safe_yaml import read_yaml
from redstar_assets.config.section import build
from redstar_assets.config.sections import Experiment, ExperimentSpec, Profile, ProfileFile
from redstar_assets.config.trl_recipes import rl_recipe, training_recipe

# Keys that choose a block's class (a teacher's backend, an evaluation backend's kind): a child that
# names another one replaces the parent's block, whose other keys belong to the class it leaves.
_CHOOSERS = ("backend", "kind")


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        parent = out.get(key)
        switched = isinstance(parent, dict) and isinstance(value, dict) and _switches(parent, value)
        out[key] = (
            _merge(parent, value) if isinstance(value, dict) and isinstance(parent, dict) and not switched else value
        )
    return out


def _switches(parent: dict[str, Any], child: dict[str, Any]) -> bool:
    return any(k in child and isinstance(child[k], str) and child[k] != parent.get(k) for k in _CHOOSERS)


def _resolve_path(name_or_path: str, child: Path | None = None) -> Path:
    """A path as given (relative to the extending file's folder), or a name looked up along the
    configuration search path; a profile that extends its own name gets the next one along it."""
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"}:
        beside = child.parent / path if child is not None and not path.is_absolute() else None
        return beside if beside is not None and beside.exists() else path
    candidates = [d / "profiles" / f"{name_or_path}.yaml" for d in config_dirs()]
    found = [c for c in candidates if c.exists() and (child is None or c.resolve() != child.resolve())]
    if not found:
        known = sorted({p.stem for d in config_dirs() for p in (d / "profiles").glob("*.yaml")})
        searched = ", ".join(str(d / "profiles") for d in config_dirs())
        raise ProfileError(f"unknown profile {name_or_path!r}: not in {searched}; known profiles: {known}")
    return found[0]


def _load_raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path in seen:
        raise ProfileError(f"{path}: 'extends' forms a cycle")
    data = read_yaml(path, ProfileError, "a profile") or {}
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile is a mapping of sections, got {type(data).__name__}")
    parent = data.pop("extends", None)
    replace = data.pop("replace", [])
    if not parent:
        return data
    base = {k: v for k, v in _load_raw(_resolve_path(parent, path), (*seen, path)).items() if k not in replace}
    return _merge(base, data)


def _benchmarks(path: Path, evaluation: EvaluationSpec) -> tuple[list[Any], dict[str, Any]]:
    """The benchmarks a profile scores on, and the registry it reads them from: the configured one with
    the profile's own entries (`evaluation.registry`) added."""
    from redstar_assets.config.benchmark_registry import RegistryError, load_registry, parse_entries
    from redstar_assets.config.evaluation_suite import eval_benchmarks

    try:
        own = parse_entries(evaluation.registry, f"{path}: evaluation.registry", path.parent)
        registry = {**load_registry(), **own}
        return eval_benchmarks(evaluation.benchmarks, str(path), registry), registry
    except RegistryError as exc:
        raise ProfileError(str(exc)) from None


def seeded_name(arm: str, seed: int | None) -> str:
    """The partition of one seed's run of an arm: `arm@s<seed>`, or the arm's own name without seeds."""
    return arm if seed is None else f"{arm}@s{seed}"


def _start_of(e: ExperimentSpec, seed: int | None, parent: ExperimentSpec | None, where: str) -> str | None:
    """The SFT partition an RL arm's seed starts from: the start's run of the same seed, or its first."""
    if e.sft_from is None or parent is None or parent.seeds is None:
        return e.sft_from
    if e.sft_start == "shared" or seed is None:
        return seeded_name(parent.name, parent.seeds[0])
    if seed not in parent.seeds:
        raise ProfileError(
            f"{where}: experiments.{e.name}: seed {seed} starts from {e.sft_from!r}'s seed {seed} (sft_start: "
            f"same_seed), which trains seeds {parent.seeds}; add it there or set sft_start: shared"
        )
    return seeded_name(parent.name, seed)


def _experiments(specs: list[ExperimentSpec], where: str) -> list[Experiment]:
    """Experiments as the stages read them, one per training seed: an RL arm with `sft_from` takes
    that experiment's base model, subset and training recipe, and starts from the run `sft_start` says."""
    by_name = {e.name: e for e in specs}
    out = []
    for e in specs:
        parent = by_name.get(e.sft_from) if e.sft_from else None

        def inherited(key: str, e: ExperimentSpec = e, parent: ExperimentSpec | None = parent) -> Any:
            own = getattr(e, key)
            return getattr(parent, key) if own is None and parent is not None else own

        base_model = inherited("base_model")
        if base_model is None:
            raise ProfileError(f"{where}: experiments.{e.name}.base_model is required")
        if e.seeds is not None and e.stages == ["base"]:
            raise ProfileError(f"{where}: experiments.{e.name}.seeds: a base-only experiment trains nothing to seed")
        for seed in e.seeds if e.seeds is not None else [None]:
            out.append(
                Experiment(
                    name=seeded_name(e.name, seed),
                    base_model=base_model,
                    stages=tuple(e.stages),
                    subset=inherited("subset"),
                    training=inherited("training"),
                    rl=e.rl,
                    sft_from=_start_of(e, seed, parent, where),
                    description=e.description,
                    benchmarks=tuple(e.benchmarks) if e.benchmarks is not None else None,
                    arm=e.name,
                    seed=seed,
                )
            )
    return out


def load_profile(name_or_path: str) -> Profile:
    """Reads, merges and validates a profile; every error names the file (and the key where a check
    knows it): a section of the wrong shape that no check foresaw is still a ProfileError, not a crash."""
    path = _resolve_path(name_or_path)
    try:
        return _built(path, _load_raw(path))
    except ProfileError:
        raise
    except (TypeError, AttributeError, KeyError, IndexError, ValueError) as exc:
        raise ProfileError(f"{path}: a section has the wrong shape ({type(exc).__name__}: {exc})") from None


def _built(path: Path, raw: dict[str, Any]) -> Profile:
    check_retired(path, raw)
    where = str(path)
    written = build(ProfileFile, raw, where, "")
    recipes = {k: r.model_copy(update={"name": k}) for k, r in written.subset_recipes.items()}
    experiments = _experiments(written.experiments, where)
    benchmarks, registry = _benchmarks(path, written.evaluation)
    profile = Profile(
        name=written.name or path.stem,
        path=path,
        description=written.description,
        sources=written.sources,
        inbox=written.inbox,
        teacher=written.teacher,
        difficulty=written.difficulty,
        curation=written.curation,
        quality=written.quality,
        base_models=written.base_models,
        subset_recipes=recipes,
        training_recipes={
            k: training_recipe(where, f"training_recipes.{k}", r) for k, r in written.training_recipes.items()
        },
        rl_recipes={k: rl_recipe(where, f"rl_recipes.{k}", r) for k, r in written.rl_recipes.items()},
        benchmarks=benchmarks,
        registry=registry,
        evaluation=written.evaluation,
        experiments=experiments,
        launch=written.launch,
        automation=written.automation,
    )
    check_references(profile)
    return profile


def profile_from_env() -> Profile:
    """The profile a code location serves: REDSTAR_PROFILE (a name or a YAML path), default `demo`.

    `dagster dev`, the daemon and every run worker they start inherit the variable, so they all
    build the same definitions; the CLI and the tests call `build_definitions(load_profile(...))`."""
    return load_profile(os.environ.get("REDSTAR_PROFILE", "demo"))
