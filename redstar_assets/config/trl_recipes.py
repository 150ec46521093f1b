"""Training and RL recipes, checked against their trainer's run config (TRL's own config plus the
pipeline's fields) without importing TRL: the fields come from trl_fields.json, which
`python -m redstar_training.trainers.trl_fields` writes from the installed TRL."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from redstar_assets.config.errors import ProfileError, did_you_mean

FIELDS_FILE = Path(__file__).with_name("trl_fields.json")
# Run-config keys each asset fills in itself; a recipe that sets one would be overridden.
SET_BY_ASSET = {
    # trust_remote_code comes from the base model's entry, never from a recipe
    "sft": {"base_model", "tiny_spec", "train_file", "output_dir", "lineage", "threads", "trust_remote_code"},
    "dpo": {"model", "pairs_file", "output_dir", "lineage", "threads"},
    "online_rl": {"model", "problems_file", "output_dir", "lineage", "threads", "algorithm"},
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
DEFAULT_MAX_PROBLEMS = 64
# Whose samples choose an RL arm's problems: the teacher's verdicts (a correct and a wrong trace; for
# DPO its pairs), or the student's own samples, cut by its pass rate (for DPO, pairs of its own samples).
SAMPLE_SOURCES = ("teacher", "student")
# Each method family's control: the same run with the signal destroyed, so a gain can be told from drift.
CONTROLS = {
    "dpo": "swapped_pairs",  # chosen and rejected swapped in a random half of the pairs
    "grpo": "shuffled_rewards",  # rewards permuted across each batch's completions
    "rloo": "shuffled_rewards",
    "reinforce_pp": "shuffled_rewards",
}


@dataclass(frozen=True)
class TrainerRecipe:
    """One recipe as the trainers get it: the method, the TRL fields it sets (checked at load) and,
    for RL, how much data the asset hands over."""

    method: str  # sft, dpo, grpo, rloo or reinforce_pp
    trl: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    max_pairs: int | None = None  # DPO: None = every pair there is
    max_problems: int = DEFAULT_MAX_PROBLEMS  # online RL
    samples: str = "teacher"  # whose samples choose the problems (SAMPLE_SOURCES)
    pass_rate_samples: int = 8  # student: samples per candidate problem for its pass rate
    candidates: int = 256  # student: candidate problems sampled (outside the SFT subset first)
    control: str | None = None  # the family's control (CONTROLS), or None for the method itself

    @property
    def online(self) -> bool:
        return self.method not in ("sft", "dpo")

    @property
    def entry_point(self) -> str:
        return "redstar_training.trainers.sft" if self.method == "sft" else RL_ENTRY_POINTS[self.method]

    @property
    def selection(self) -> dict[str, Any]:
        """The recipe's keys that choose its data and control (not TRL's), as the profile wrote them."""
        out: dict[str, Any] = {"samples": self.samples} if self.samples != "teacher" else {}
        if self.samples == "student":
            out |= {"pass_rate_samples": self.pass_rate_samples, "candidates": self.candidates}
        return out | ({"control": self.control} if self.control else {})

    def run_config(self, **set_by_asset: Any) -> dict[str, Any]:
        """The trainer's run config: the recipe's TRL fields and the asset's own (paths, lineage)."""
        algorithm = {"algorithm": self.method} if self.online else {}
        control = {"control": self.control} if self.control else {}
        return {**self.trl, **algorithm, **control, **set_by_asset}

    def written(self) -> dict[str, Any]:
        """The recipe as the profile wrote it (lineage records it)."""
        return {**self.trl, **self.selection}


def training_recipe(where: str, entry: str, data: Any) -> TrainerRecipe:
    """A `training_recipes` entry: SFTConfig's fields."""
    data = _mapping(where, entry, data)
    check_recipe(where, entry, data, "sft", SET_BY_ASSET["sft"])
    return TrainerRecipe("sft", MappingProxyType(dict(data)))


def rl_recipe(where: str, entry: str, data: Any) -> TrainerRecipe:
    """An `rl_recipes` entry: its `method` picks the TRL config class before its fields are checked."""
    data = dict(_mapping(where, entry, data))
    method = data.pop("method", "dpo")
    if method not in RL_METHODS:
        raise ProfileError(f"{where}: {entry}.method {method!r} is not one of {RL_METHODS}")
    kind = "dpo" if method == "dpo" else "online_rl"
    selection = _selection(where, entry, method, data)
    check_recipe(where, entry, data, method, SET_BY_ASSET[kind], ASSET_KEYS[kind] - {"method"})
    counts = {k: data.pop(k) for k in ("max_pairs", "max_problems") if k in data}
    return TrainerRecipe(method, MappingProxyType(data), **counts, **selection)


def _selection(where: str, entry: str, method: str, data: dict[str, Any]) -> dict[str, Any]:
    """Pops and checks the keys that choose an RL recipe's data and control (`samples`,
    `pass_rate_samples`, `candidates`, `control`)."""
    out: dict[str, Any] = {}
    samples = data.pop("samples", "teacher")
    if samples not in SAMPLE_SOURCES:
        raise ProfileError(f"{where}: {entry}.samples {samples!r} is not one of {SAMPLE_SOURCES}")
    out["samples"] = samples
    for key in ("pass_rate_samples", "candidates"):
        if key in data:
            value = data.pop(key)
            if not (_kind_ok(value, "int") and value > 0):
                raise ProfileError(f"{where}: {entry}.{key}: expected a positive integer, got {value!r}")
            if samples != "student":
                raise ProfileError(f"{where}: {entry}.{key} applies to samples: student only")
            out[key] = value
    if out.get("pass_rate_samples") == 1:
        raise ProfileError(f"{where}: {entry}.pass_rate_samples: a pass rate strictly between 0 and 1 needs 2 or more")
    if "control" in data:
        control = data.pop("control")
        if method not in CONTROLS:
            raise ProfileError(f"{where}: {entry}: method {method!r} has no control defined")
        if control != CONTROLS[method]:
            raise ProfileError(
                f"{where}: {entry}.control {control!r}: method {method!r} has no such control; its control is "
                f"{CONTROLS[method]!r}"
            )
        out["control"] = control
    return out


def _mapping(where: str, entry: str, data: Any) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProfileError(f"{where}: {entry} must be a mapping of keys to values, got {type(data).__name__}")
    return data


@functools.cache
def trl_fields() -> dict[str, Any]:
    return json.loads(FIELDS_FILE.read_text())


def _kind_ok(value: Any, kind: str) -> bool:
    if kind == "any":
        return True
    if kind == "none":
        return value is None
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, {"str": str, "list": list, "dict": dict}[kind])


def check_recipe(where: str, entry: str, recipe: dict[str, Any], method: str, set_by_asset=(), extra=()) -> None:
    """Each key of `recipe` must be a field of `method`'s run config (or one of `extra`, read by the
    asset), not one the asset or trainer sets, not a renamed one, with a value its field accepts."""
    spec = trl_fields()
    fields = spec["methods"][method]["fields"]
    pipeline_set = {*set_by_asset, *spec["methods"][method]["set_by_trainer"]}
    settable = sorted(set(fields) - pipeline_set)
    for key, value in recipe.items():
        if key in extra:
            if not (_kind_ok(value, "int") and value > 0):
                raise ProfileError(f"{where}: {entry}.{key}: expected a positive integer, got {value!r}")
            continue
        if key in spec["renamed"]:
            raise ProfileError(f"{where}: {entry}: key {key!r} is now {spec['renamed'][key]!r} (TRL's name)")
        if key in pipeline_set:
            raise ProfileError(f"{where}: {entry}: key {key!r} is set by the pipeline and cannot be given here")
        if key not in fields:
            trl_class = spec["methods"][method]["class"]
            raise ProfileError(f"{where}: {entry}: unknown key {key!r} for {trl_class}{did_you_mean(key, settable)}")
        field = fields[key]
        if not any(_kind_ok(value, kind) for kind in field["type"]):
            note = " (YAML reads 1e-5 as text: write 1.0e-5)" if isinstance(value, str) and "e" in value else ""
            raise ProfileError(f"{where}: {entry}.{key}: expected {' or '.join(field['type'])}, got {value!r}{note}")
        default = field.get("default")
        number = _kind_ok(value, "float") and _kind_ok(default, "float")
        if number and default >= 0 and value < 0:  # counts, rates and sizes: TRL's default says which
            raise ProfileError(f"{where}: {entry}.{key}: must not be negative, got {value!r}")
        if "choices" in field and value is not None and value not in field["choices"]:
            raise ProfileError(f"{where}: {entry}.{key}: {value!r} is not one of {field['choices']}")
