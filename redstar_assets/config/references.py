"""What no single section can check alone: names one section gives and another uses (sources,
subsets, recipes, base models, benchmarks), checked once the whole profile is built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redstar_assets.config.errors import ProfileError
from redstar_assets.config.sections import EXPERIMENT_STAGES, INBOX_PREFIX, Profile


def check_retired(path: Path, raw: dict[str, Any]) -> None:
    """A block an older profile format had, named with what replaced it."""
    if "benchmarks" in raw:
        raise ProfileError(
            f"{path}: top-level 'benchmarks' blocks are gone: name registry entries (configs/benchmarks.yaml) "
            "under evaluation.benchmarks, e.g. evaluation: {benchmarks: [math500, {name: aime2024, count: 10}]}"
        )


def _check_sources(p: Profile, where: str) -> None:
    names = [s.name for s in p.sources]
    if not names or len(set(names)) != len(names):
        raise ProfileError(f"{where}: sources need unique names, got {names}")
    if not p.benchmarks:
        raise ProfileError(f"{where}: evaluation.benchmarks must name at least one registry entry")


def _check_subsets(p: Profile, where: str) -> None:
    for recipe in p.subset_recipes.values():
        entry = f"{where}: subset_recipes.{recipe.name}"
        if recipe.sources is not None:
            declared = [s.name for s in p.sources]
            unknown = [s for s in recipe.sources if s not in declared and not s.startswith(INBOX_PREFIX)]
            if not recipe.sources or unknown:
                raise ProfileError(
                    f"{entry}.sources must name declared sources {declared} (or inbox-* partitions); "
                    f"got {list(recipe.sources)}"
                )


def _check_experiments(p: Profile, where: str) -> None:
    for exp in p.experiments:
        key = f"{where}: experiments.{exp.name}"
        if exp.base_model not in p.base_models:
            raise ProfileError(f"{key}.base_model {exp.base_model!r} is not in base_models {sorted(p.base_models)}")
        if not exp.stages or any(s not in EXPERIMENT_STAGES for s in exp.stages):
            raise ProfileError(f"{key}.stages {list(exp.stages)} must be drawn from {EXPERIMENT_STAGES}")
        if "sft" in exp.stages and (exp.subset not in p.subset_recipes or exp.training not in p.training_recipes):
            raise ProfileError(
                f"{key}: an sft stage needs a known subset and training recipe "
                f"(got subset={exp.subset!r}, training={exp.training!r})"
            )
        known = [b.name for b in p.benchmarks]
        if exp.benchmarks is not None and (not exp.benchmarks or set(exp.benchmarks) - set(known)):
            raise ProfileError(
                f"{key}.benchmarks {list(exp.benchmarks)} must name at least one of evaluation.benchmarks {known}"
            )
        if exp.sft_from is not None:
            source = next((e for e in p.experiments if e.name == exp.sft_from), None)
            if source is None or "sft" not in source.stages or source.sft_from is not None:
                raise ProfileError(f"{key}.sft_from {exp.sft_from!r} must name an experiment that trains an sft stage")
            if "sft" in exp.stages or "rl" not in exp.stages:
                raise ProfileError(f"{key}: an experiment with sft_from trains an rl stage and no sft stage of its own")
        if "rl" in exp.stages and (("sft" not in exp.stages and not exp.sft_from) or exp.rl not in p.rl_recipes):
            raise ProfileError(
                f"{key}: an rl stage needs an sft stage (or sft_from) and a known rl recipe (got rl={exp.rl!r})"
            )
    if len({e.name for e in p.experiments}) != len(p.experiments) or not p.experiments:
        raise ProfileError(f"{where}: experiments need unique names and at least one entry")


def check_references(p: Profile) -> None:
    """Every name one section uses is one another section gives."""
    where = str(p.path)
    _check_sources(p, where)
    _check_subsets(p, where)
    _check_experiments(p, where)
