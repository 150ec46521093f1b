"""The typed parts of a profile that every stage reads: subset recipes, experiments and the profile
itself, with the values their fields may take."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, NonNegativeInt, PositiveInt, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from redstar_assets.config.automation import AutomationSpec
from redstar_assets.config.base_models import BaseModelEntry, BaseModelSpec
from redstar_assets.config.errors import ProfileError
from redstar_assets.config.evaluation import EvaluationSpec
from redstar_assets.config.launch import LaunchSpec
from redstar_assets.config.section import Section
from redstar_assets.config.sources import InboxSpec, SourceEntry, SourceSpec
from redstar_assets.config.teacher import ProceduralTeacher, TeacherRun, TeacherSpec
from redstar_assets.config.trl_recipes import TrainerRecipe

INBOX_PREFIX = "inbox-"  # source partitions of files dropped in the inbox
EXPERIMENT_STAGES = ("base", "sft", "rl")


Strategy = Literal["random", "hard_first", "band", "stratified"]
TargetFormat = Literal["long_cot", "answer_only"]
ExperimentStage = Literal["base", "sft", "rl"]


class SubsetRecipe(Section):
    """One rung of the data ladder: how many traces, chosen how from which sources, in which format."""

    name: SkipJsonSchema[str] = ""  # the recipe's key in `subset_recipes`, set at load
    scale: PositiveInt
    strategy: Strategy = "random"
    target_format: TargetFormat = "long_cot"
    verified_only: bool = True
    max_per_problem: int = 1
    seed: int = 0
    band: Annotated[tuple[float, float], Field(strict=False)] | None = None  # pass-rate band for strategy band
    mix: dict[str, float] | None = None  # domain shares, e.g. {math: 0.7, code: 0.3}; None = whatever the pool holds
    cap: bool = False  # take what exists when the pool is smaller than `scale`, instead of failing
    quality_only: bool = True  # only traces with no quality flag
    sources: Annotated[tuple[str, ...], Field(strict=False, min_length=1)] | None = None  # None = the whole pool

    @model_validator(mode="after")
    def _consistent(self) -> SubsetRecipe:
        if self.strategy == "band" and (self.band is None or self.band[0] > self.band[1]):
            raise ValueError("strategy band needs band: [low, high]")
        if self.mix is not None and (not self.mix or abs(sum(self.mix.values()) - 1) > 1e-6):
            raise ValueError(f"mix shares must sum to 1, got {self.mix}")
        return self


class QualitySpec(Section):
    """`quality:`: the thresholds of the trace quality flags a subset can exclude."""

    min_chars: int = 20
    max_chars: int = 200_000
    min_compression_ratio: float = 0.2  # zlib-compressed size / size; loops compress to far less
    max_foreign_script: float = 0.05  # share of letters in CJK scripts when the problem has none


class LearnedDifficulty(Section):
    """A level estimate learned from problems with known levels (a registry benchmark or a file)."""

    train_on: str
    alpha: float = Field(default=3.0, gt=0)  # the ridge penalty


class DifficultySpec(Section):
    """`difficulty:`: the teacher pass rates that split easy, medium and hard, an optional scoring
    model (a teacher block, its `samples_per_problem` per problem) and an optional learned level estimate."""

    easy: float = Field(default=0.75, ge=0, le=1)
    medium: float = Field(default=0.4, ge=0, le=1)
    scorer: TeacherSpec | None = None
    learned: LearnedDifficulty | None = None


class NearDuplicates(Section):
    """MinHash LSH near-duplicate removal: the Jaccard threshold and the number of permutations."""

    threshold: float = Field(default=0.8, gt=0, le=1)
    num_perm: PositiveInt = 128


class Decontamination(Section):
    """Problems overlapping these registered benchmarks are removed (n-gram, fuzzy or figure match)."""

    benchmarks: list[str] = Field(default_factory=list)
    ngram: PositiveInt = 13
    fuzzy_ratio: float = Field(default=80, ge=0, le=100)
    image_distance: NonNegativeInt = 3


class CurationSpec(Section):
    """`curation:`: near duplicates (true, false or their settings) and decontamination."""

    near_duplicates: bool | NearDuplicates = True
    decontaminate: Decontamination = Decontamination()

    def near_duplicate_settings(self) -> NearDuplicates | None:
        """None when near-duplicate removal is off."""
        near = self.near_duplicates
        return near if isinstance(near, NearDuplicates) else (NearDuplicates() if near else None)


class ExperimentSpec(Section):
    """One experiment as written: its base model, the stages it trains and the recipes of each."""

    name: str
    base_model: str | None = None  # an RL arm with sft_from takes that experiment's
    stages: list[ExperimentStage] = Field(default_factory=lambda: list[ExperimentStage](["base"]), min_length=1)
    subset: str | None = None
    training: str | None = None
    rl: str | None = None
    # An RL arm that starts from another experiment's SFT checkpoint, trained once for every arm of a
    # comparison; its base model, subset and training recipe are that experiment's.
    sft_from: str | None = None
    description: str = ""
    # names from evaluation.benchmarks this experiment is scored on; None = all of them
    benchmarks: list[str] | None = None


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
    sources: list[SourceEntry]
    inbox: InboxSpec
    teacher: TeacherRun
    difficulty: DifficultySpec
    curation: CurationSpec
    quality: QualitySpec
    base_models: dict[str, BaseModelEntry]
    subset_recipes: dict[str, SubsetRecipe]
    training_recipes: dict[str, TrainerRecipe]
    rl_recipes: dict[str, TrainerRecipe]
    benchmarks: list[Any]  # EvalBenchmark: registry entries named by evaluation.benchmarks
    evaluation: EvaluationSpec
    experiments: list[Experiment]
    registry: dict[str, Any]  # Benchmark by name: the configured registry and the profile's own entries
    launch: LaunchSpec = LaunchSpec()
    automation: AutomationSpec = AutomationSpec()

    def source(self, name: str) -> SourceEntry:
        for spec in self.sources:
            if spec.name == name:
                return spec
        raise ProfileError(f"{self.path}: no source named {name!r}; sources: {[s.name for s in self.sources]}")

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


class ProfileFile(Section):
    """A profile file as written: the schema `redstar profile schema` prints, and the first check of a
    merged profile. Sections typed elsewhere appear here as plain mappings until they are."""

    extends: str | None = None  # a parent profile (a name under configs/profiles, or a path)
    replace: list[str] = Field(default_factory=list)  # sections that replace the parent's whole
    name: str | None = None
    description: str = ""
    sources: list[SourceSpec] = Field(default_factory=list)
    inbox: InboxSpec = InboxSpec()
    teacher: TeacherSpec = ProceduralTeacher()
    difficulty: DifficultySpec = DifficultySpec()
    curation: CurationSpec = CurationSpec()
    quality: QualitySpec = QualitySpec()
    base_models: dict[str, BaseModelSpec] = Field(default_factory=dict)
    subset_recipes: dict[str, SubsetRecipe] = Field(default_factory=dict)
    training_recipes: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rl_recipes: dict[str, dict[str, Any]] = Field(default_factory=dict)
    evaluation: EvaluationSpec = EvaluationSpec()
    experiments: list[ExperimentSpec] = Field(default_factory=list)
    launch: LaunchSpec = LaunchSpec()
    automation: AutomationSpec = AutomationSpec()

    @model_validator(mode="before")
    @classmethod
    def _empty_sections_are_absent(cls, data: Any) -> Any:
        """`teacher:` with nothing under it reads as null in YAML: the section's defaults."""
        return {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else data

    @field_validator("subset_recipes", mode="before")
    @classmethod
    def _names_come_from_keys(cls, recipes: Any) -> Any:
        for key, recipe in (recipes or {}).items() if isinstance(recipes, dict) else ():
            if isinstance(recipe, dict) and "name" in recipe:
                raise ValueError(f"{key}: key 'name' is set by the pipeline (the recipe's key) and cannot be given")
        return recipes
