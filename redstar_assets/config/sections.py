"""The typed parts of a profile that every stage reads: subset recipes, experiments and the profile
itself, with the values their fields may take."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redstar_assets.config.automation import AutomationSpec
from redstar_assets.config.errors import ProfileError
from redstar_assets.config.launch import LaunchSpec

INBOX_PREFIX = "inbox-"  # source partitions of files dropped in the inbox
EXPERIMENT_STAGES = ("base", "sft", "rl")
STRATEGIES = ("random", "hard_first", "band", "stratified")
TARGET_FORMATS = ("long_cot", "answer_only")
TEACHER_BACKENDS = ("procedural", "synthetic", "vllm", "openai", "transformers")
BASE_MODEL_KINDS = ("tiny_qwen2", "tiny_vlm", "local", "hub")
TINY_KINDS = ("tiny_qwen2", "tiny_vlm")  # built here from a spec, deterministically


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
    sources: tuple[str, ...] | None = None  # source partitions to draw from; None = the whole pool


@dataclass(frozen=True)
class Experiment:
    name: str
    base_model: str
    stages: tuple[str, ...]
    subset: str | None = None
    training: str | None = None
    rl: str | None = None
    # An RL arm that starts from another experiment's SFT checkpoint (and trains no SFT of its own):
    # every arm of an RL comparison then starts from one checkpoint, trained once. Its base model,
    # subset and training recipe are that experiment's.
    sft_from: str | None = None
    description: str = ""
    # names from evaluation.benchmarks this experiment is scored on; None = all of them (an arm that
    # only matters on one domain need not pay for generating on the other's benchmark)
    benchmarks: tuple[str, ...] | None = None


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
    benchmarks: list[Any]  # EvalBenchmark: registry entries named by evaluation.benchmarks
    evaluation: dict[str, Any]  # the evaluation run settings (backend, seed, ...), without the benchmarks
    experiments: list[Experiment]
    launch: LaunchSpec = LaunchSpec()
    automation: AutomationSpec = AutomationSpec()
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

    def benchmarks_for(self, exp: Experiment) -> list[Any]:
        """The evaluation benchmarks an experiment is scored on, in the profile's order."""
        return [b for b in self.benchmarks if exp.benchmarks is None or b.name in exp.benchmarks]

    def experiments_with(self, stage: str) -> list[str]:
        return [e.name for e in self.experiments if stage in e.stages]

    def stage_partition(self, exp: Experiment, stage: str) -> str:
        """The partition of `stage`'s checkpoint asset that an experiment uses: its own, or for an RL
        arm's SFT stage, the experiment it starts from."""
        return exp.sft_from if stage == "sft" and exp.sft_from else exp.name

    def last_checkpoint_stage(self, exp: Experiment) -> str | None:
        """The stage whose checkpoint an experiment's scores wait for (rl after sft); None for a baseline."""
        trained = [s for s in exp.stages if s != "base"]
        return trained[-1] if trained else None
