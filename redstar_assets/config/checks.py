"""Profile validation: every key a stage will read is checked at load against the config class that
reads it, so a typo or an unknown launcher fails before anything runs, naming the file, the entry
and the key. Keys the assets set themselves (paths, lineage, threads) may not appear in a recipe:
no key silently overrides another.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from pathlib import Path
from typing import Any

from redstar_assets.config.errors import ProfileError, check_keys
from redstar_assets.config.sections import (
    EXPERIMENT_STAGES,
    INBOX_PREFIX,
    TEACHER_BACKENDS,
    Profile,
)

# Run-config keys each asset fills in itself; a recipe that sets one would be overridden.
SET_BY_ASSET = {
    # trust_remote_code comes from the base model's entry, never from a recipe
    "sft": {"base_model", "tiny_spec", "train_file", "output_dir", "lineage", "threads", "trust_remote_code"},
    "dpo": {"model", "pairs_file", "output_dir", "lineage", "threads"},
    "online_rl": {"model", "problems_file", "output_dir", "lineage", "threads", "algorithm"},
    "evaluation": {"models", "output_dir", "threads", "cache_file", "code_verdict_cache"},
}
# Each RL method and the entry point that trains it: DPO on preference pairs, and the online methods
# (one entry point, its `algorithm` set to the method) on problems with the verifier as reward.
RL_ENTRY_POINTS = {
    "dpo": "redstar_training.trainers.dpo",
    "grpo": "redstar_training.trainers.grpo",
    "rloo": "redstar_training.trainers.grpo",
    "reinforce_pp": "redstar_training.trainers.grpo",
}
RL_METHODS = tuple(RL_ENTRY_POINTS)
# Recipe keys the assets read before launching (how much data the RL stage gets, which method).
ASSET_KEYS = {"dpo": {"method", "max_pairs"}, "online_rl": {"method", "max_problems"}}


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    return True  # containers and Any are checked by their reader


def check_config(where: str, entry: str, values: dict, config_cls: type, set_by_asset=(), extra=()) -> None:
    """`values` must be fields of `config_cls` (or `extra`), with values of the field's type."""
    check_mapping(where, entry, values)
    fields = {f.name for f in dataclasses.fields(config_cls)}
    check_keys(where, entry, values, fields | set(extra), set_by_asset)
    check_types(where, entry, values, config_cls)


def check_types(where: str, entry: str, values: dict, reader: Any) -> None:
    """Each value of `values` that `reader` (a dataclass or a function) declares must have the
    declared scalar type; containers are left to their reader."""
    hints = typing.get_type_hints(reader)
    for key, value in values.items():
        if key in hints and key != "return" and not _type_ok(value, hints[key]):
            note = " (YAML reads 1e-5 as text: write 1.0e-5)" if isinstance(value, str) and "e" in value else ""
            raise ProfileError(
                f"{where}: {entry}.{key}: expected {getattr(hints[key], '__name__', hints[key])}, got {value!r}{note}"
            )


def check_mapping(where: str, entry: str, value: Any) -> None:
    """A section or entry that is read as a mapping must be one (or absent)."""
    if value is not None and not isinstance(value, dict):
        raise ProfileError(f"{where}: {entry} must be a mapping of keys to values, got {type(value).__name__}")


# A source's keys that stages other than its reader use: which preset maps it, the model that wrote
# imported traces (lineage), and the verifier mode its traces are checked in.
SOURCE_STAGE_KEYS = ("kind", "preset", "teacher", "verify_mode")


def check_raw(path: Path, raw: dict) -> None:
    """Before the sections are built: a retired block, and the inbox values no section types yet."""
    where = str(path)
    if "benchmarks" in raw:
        raise ProfileError(
            f"{where}: top-level 'benchmarks' blocks are gone: name registry entries (configs/benchmarks.yaml) "
            "under evaluation.benchmarks, e.g. evaluation: {benchmarks: [math500, {name: aime2024, count: 10}]}"
        )
    inbox = raw.get("inbox") or {}
    check_mapping(where, "inbox.mapping", inbox.get("mapping"))
    for key, value in {**(inbox.get("mapping") or {}), **{k: inbox[k] for k in ("domain",) if k in inbox}}.items():
        if not isinstance(value, str):
            raise ProfileError(f"{where}: inbox: {key!r} must name a field as text, got {value!r}")


def _check_teacher(spec: dict, where: str, entry: str = "teacher") -> None:
    """A teacher block must build its backend (no model is loaded, no server is called)."""
    from redstar_assets.traces.teacher import distill_config
    from redstar_training.generation.distill import make_backend
    from redstar_training.generation.prompts import template
    from redstar_training.generation.types import Sampling

    if spec.get("backend", "procedural") not in TEACHER_BACKENDS:
        raise ProfileError(f"{where}: {entry}.backend {spec.get('backend')!r} is not one of {TEACHER_BACKENDS}")
    try:
        cfg = distill_config(spec)
        check_types(where, entry, dataclasses.asdict(cfg), type(cfg))
        backend = make_backend(cfg.backend, [])
        if dataclasses.is_dataclass(backend):
            check_types(where, entry, cfg.backend, type(backend))
        template(cfg.prompt_template)
        Sampling(**cfg.sampling)
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"{where}: {entry}: {exc}") from None


def _check_recipes(p: Profile, where: str) -> None:
    """Trainer recipes against TRL's fields (a generated file, so no TRL import), the rest by type."""
    from redstar_assets.config.trl_recipes import check_recipe
    from redstar_training.generation.evaluate import EvalRunConfig

    for name, recipe in p.training_recipes.items():
        check_recipe(where, f"training_recipes.{name}", recipe or {}, "sft", SET_BY_ASSET["sft"])
    for name, recipe in p.rl_recipes.items():
        method = (recipe or {}).get("method", "dpo")
        if method not in RL_METHODS:
            raise ProfileError(f"{where}: rl_recipes.{name}.method {method!r} is not one of {RL_METHODS}")
        kind = "dpo" if method == "dpo" else "online_rl"
        check_recipe(where, f"rl_recipes.{name}", recipe or {}, method, SET_BY_ASSET[kind], ASSET_KEYS[kind])
    check_config(where, "evaluation", p.evaluation, EvalRunConfig, SET_BY_ASSET["evaluation"])
    _check_eval_backend(p.evaluation.get("backend") or {"kind": "transformers"}, where)
    if not p.benchmarks:
        raise ProfileError(f"{where}: evaluation.benchmarks must name at least one registry entry")


def _check_eval_backend(spec: dict, where: str) -> None:
    """The evaluation backend must build (no model is loaded, no server started or called)."""
    from redstar_training.generation.evaluate import EvalRunConfig, make_eval_backend
    from redstar_training.generation.serve import ServeSpec

    try:
        if spec.get("serve") is not None:
            if spec.get("kind") != "openai":
                raise ValueError("serve: needs kind: openai (the evaluation talks to the server it starts)")
            ServeSpec(**spec["serve"]).argv("MODEL", 0)
        placeholder = None if spec.get("base_url") else "http://127.0.0.1:0/v1"  # a served one gets its own
        make_eval_backend(EvalRunConfig(backend=spec), "MODEL", placeholder)
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"{where}: evaluation.backend: {exc}") from None


def _check_subsets(p: Profile, where: str) -> None:
    for recipe in p.subset_recipes.values():
        entry = f"{where}: subset_recipes.{recipe.name}"
        if recipe.sources is not None:
            declared = [s["name"] for s in p.sources]
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


def _check_trace_source(spec: dict, where: str) -> None:
    """A `traces` source's split rule and verifier mode, checked before anything is read."""
    from redstar_assets.problems.trace_import import TraceFormatError, TraceRule, spec_problem
    from redstar_training.verify import MODES

    entry = f"{where}: sources.{spec.get('name')}"
    if spec.get("verify_mode", "strict") not in MODES:
        raise ProfileError(f"{entry}.verify_mode {spec.get('verify_mode')!r} is not one of {MODES}")
    if spec.get("kind") != "traces":
        return
    try:
        TraceRule.from_spec(spec["name"], spec.get("trace_split"))
    except TraceFormatError as exc:
        raise ProfileError(f"{where}: {exc}") from None
    problem = spec_problem(spec)
    if problem:
        raise ProfileError(f"{entry}: {problem}")


def validate(p: Profile) -> None:
    """Every section the assets, entry points and launcher will read."""
    from redstar_assets.problems.sources import SOURCE_KINDS, SOURCE_READERS

    where = str(p.path)
    names = [s.get("name") for s in p.sources]
    if not names or None in names or len(set(names)) != len(names):
        raise ProfileError(f"{where}: sources need unique names, got {names}")
    for spec in p.sources:
        if spec.get("kind") not in SOURCE_KINDS:
            raise ProfileError(f"{where}: {spec.get('name')!r}.kind {spec.get('kind')!r} is not one of {SOURCE_KINDS}")
        _check_trace_source(spec, where)
        reader = SOURCE_READERS[spec["kind"]]
        known = {*inspect.signature(reader).parameters, *SOURCE_STAGE_KEYS} - {"_"}
        check_keys(where, f"sources.{spec['name']}", spec, known)
        check_types(where, f"sources.{spec['name']}", spec, reader)
    inbox_keys = set(inspect.signature(SOURCE_READERS["file"]).parameters) - {"_", "name", "path"}
    check_keys(where, "inbox", p.raw.get("inbox") or {}, inbox_keys)
    _check_teacher(p.teacher, where)
    if p.difficulty.scorer:
        scorer = {k: v for k, v in p.difficulty.scorer.items() if k != "samples"}
        _check_teacher(scorer, where, "difficulty.scorer")
    _check_subsets(p, where)
    _check_recipes(p, where)
    _check_experiments(p, where)
