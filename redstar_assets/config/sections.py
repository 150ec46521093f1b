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
    scale: Annotated[PositiveInt, Field(description="How many traces the subset holds.")]
    strategy: Strategy = Field(
        default="random",
        description="The order traces are taken in: a seeded shuffle, hardest first, a pass-rate band, "
        "or equal shares of the difficulty buckets.",
    )
    target_format: TargetFormat = Field(
        default="long_cot", description="What the student learns to write: the whole trace or only the answer."
    )
    verified_only: bool = Field(default=True, description="Only traces the verifier judged correct.")
    max_per_problem: int = Field(default=1, description="Most traces taken from one problem.")
    seed: int = Field(default=0, description="Seed of the shuffle and the ties.")
    band: Annotated[tuple[float, float], Field(strict=False)] | None = Field(
        default=None, description="The pass-rate range [low, high] that strategy band takes from."
    )
    mix: dict[str, float] | None = Field(
        default=None,
        description="Shares of each domain, e.g. {math: 0.7, code: 0.3}; null takes whatever the pool holds.",
    )
    cap: bool = Field(
        default=False, description="Take what exists when the pool is smaller than scale, instead of failing."
    )
    quality_only: bool = Field(default=True, description="Only traces with no quality flag.")
    sources: Annotated[tuple[str, ...], Field(strict=False, min_length=1)] | None = Field(
        default=None, description="The sources whose traces may be taken; null for the whole pool."
    )

    @model_validator(mode="after")
    def _consistent(self) -> SubsetRecipe:
        if self.strategy == "band" and (self.band is None or self.band[0] > self.band[1]):
            raise ValueError("strategy band needs band: [low, high]")
        if self.mix is not None and (not self.mix or abs(sum(self.mix.values()) - 1) > 1e-6):
            raise ValueError(f"mix shares must sum to 1, got {self.mix}")
        return self


class QualitySpec(Section):
    """`quality:`: the thresholds of the trace quality flags a subset can exclude."""

    min_chars: int = Field(default=20, description="Traces shorter than this many characters are flagged.")
    max_chars: int = Field(default=200_000, description="Traces longer than this many characters are flagged.")
    min_compression_ratio: float = Field(
        default=0.2,
        description="Traces whose zlib-compressed size over their size is below this are flagged (loops compress "
        "to far less).",
    )
    max_foreign_script: float = Field(
        default=0.05,
        description="Most share of letters in CJK scripts a trace may have when its problem has none.",
    )


class LearnedDifficulty(Section):
    """A level estimate learned from problems with known levels (a registry benchmark or a file)."""

    train_on: Annotated[
        str, Field(description="A registry benchmark, or a JSONL or Parquet file, of problems with known levels.")
    ]
    alpha: float = Field(default=3.0, gt=0, description="The ridge penalty.")


class DifficultySpec(Section):
    """`difficulty:`: the teacher pass rates that split easy, medium and hard, an optional scoring
    model (a teacher block, its `samples_per_problem` per problem) and an optional learned level estimate."""

    easy: float = Field(default=0.75, ge=0, le=1, description="Problems with at least this pass rate are easy.")
    medium: float = Field(
        default=0.4, ge=0, le=1, description="Problems with at least this pass rate (and below easy) are medium."
    )
    scorer: TeacherSpec | None = Field(
        default=None,
        description="A scoring model (a teacher block) whose pass rates set the buckets instead of the teacher's.",
    )
    learned: LearnedDifficulty | None = None


class NearDuplicates(Section):
    """MinHash LSH near-duplicate removal: the Jaccard threshold and the number of permutations."""

    threshold: float = Field(
        default=0.8, gt=0, le=1, description="Jaccard similarity above which problems are near duplicates."
    )
    num_perm: PositiveInt = Field(default=128, description="MinHash permutations.")


class Decontamination(Section):
    """Problems overlapping these registered benchmarks are removed (n-gram, fuzzy or figure match)."""

    benchmarks: list[str] = Field(default_factory=list, description="Registry benchmarks to remove overlaps with.")
    ngram: PositiveInt = Field(
        default=13, description="Words in the n-grams a problem must share with a benchmark item."
    )
    fuzzy_ratio: float = Field(
        default=80, ge=0, le=100, description="Fuzzy-match score (0 to 100) at which a short problem matches."
    )
    image_distance: NonNegativeInt = Field(
        default=3, description="Most bits two figures' perceptual hashes may differ by to match."
    )


class CurationSpec(Section):
    """`curation:`: near duplicates (true, false or their settings) and decontamination."""

    near_duplicates: bool | NearDuplicates = Field(
        default=True, description="Remove near-duplicate problems: true, false, or the settings."
    )
    decontaminate: Decontamination = Decontamination()

    def near_duplicate_settings(self) -> NearDuplicates | None:
        """None when near-duplicate removal is off."""
        near = self.near_duplicates
        return near if isinstance(near, NearDuplicates) else (NearDuplicates() if near else None)


class ExperimentSpec(Section):
    """One experiment as written: its base model, the stages it trains and the recipes of each."""

    name: Annotated[str, Field(description="The experiment's name, its partition key.")]
    base_model: str | None = Field(
        default=None, description="A name from base_models; an RL arm with sft_from takes that experiment's."
    )
    stages: list[ExperimentStage] = Field(
        default_factory=lambda: list[ExperimentStage](["base"]),
        min_length=1,
        description="The stages it trains and scores: base (the model as is), sft, rl.",
    )
    subset: str | None = Field(default=None, description="A name from subset_recipes: what SFT trains on.")
    training: str | None = Field(default=None, description="A name from training_recipes: how SFT trains.")
    rl: str | None = Field(default=None, description="A name from rl_recipes: how RL trains.")
    sft_from: str | None = Field(
        default=None,
        description="Another experiment whose SFT checkpoint this RL arm starts from; its base model, subset and "
        "training recipe are that experiment's.",
    )
    description: str = Field(default="", description="What the experiment tests, in a sentence.")
    benchmarks: list[str] | None = Field(
        default=None, description="Names from evaluation.benchmarks this experiment is scored on; null for all."
    )
    seeds: list[NonNegativeInt] | None = Field(
        default=None,
        description="Training seeds: one training run per seed, each its own partition `<name>@s<seed>`, the "
        "seed overriding the recipes' `seed`; null for one run under the recipes' seed. Evaluation sampling "
        "seeds are evaluation.seed's, whatever the training seed.",
    )
    sft_start: Literal["same_seed", "shared"] = Field(
        default="same_seed",
        description="For an RL arm with sft_from whose start has seeds: `same_seed` starts seed s from the "
        "start's seed s; `shared` starts every seed from the start's first seed.",
    )

    @model_validator(mode="before")
    @classmethod
    def _seeds_are_distinct(cls, data: Any) -> Any:
        """Seeds name partitions and runs (`name@s<seed>`), so each must be a distinct non-negative integer."""
        if isinstance(data, dict) and "@" in str(data.get("name", "")):
            raise ValueError(f"experiment {data['name']!r}: '@' is kept for seeds' partitions (`name@s0`)")
        seeds = data.get("seeds") if isinstance(data, dict) else None
        if seeds is None:
            return data
        ok = isinstance(seeds, list) and seeds and all(type(s) is int and s >= 0 for s in seeds)
        if not ok or len(set(seeds)) != len(seeds):
            raise ValueError(
                f"experiment {data.get('name')!r}: seeds must be a non-empty list of distinct non-negative "
                f"integers, got {seeds!r}"
            )
        return data


@dataclass(frozen=True)
class Experiment:
    """One training run as the stages read it: a written experiment with `seeds` becomes one per seed,
    named `<arm>@s<seed>`; `arm` is the written name, which the report pools over seeds."""

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
    arm: str = ""  # the written experiment's name; its seeds' runs share it
    seed: int | None = None  # the training seed, or None for the recipes' own

    def __post_init__(self) -> None:
        if not self.arm:
            object.__setattr__(self, "arm", self.name)


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
    merged profile. Recipes are checked against TRL's fields by trl_recipes.py."""

    extends: str | None = Field(
        default=None, description="A parent profile (a name under configs/profiles, or a path) this one extends."
    )
    replace: list[str] = Field(
        default_factory=list, description="Sections that replace the parent's whole instead of merging into it."
    )
    name: str | None = Field(default=None, description="The profile's name; the file's name when not given.")
    description: str = Field(default="", description="What the study is about, in a sentence.")
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
