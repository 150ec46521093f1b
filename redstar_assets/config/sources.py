"""The profile's `sources:` entries, one class per kind: built-in generators, files, Hugging Face
datasets and released traces. A tabular source may name a preset, the field mapping of one of the
paper's problem pools; it is merged in at load, so readers see one resolved spec."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, PositiveInt, model_validator

from redstar_assets.config.section import Section, build_entry

AnswerTransform = Literal["last_boxed", "gsm8k", "answer_is", "final_answer"]
VerifyMode = Literal["strict", "legacy", "lenient"]  # redstar_training.verify's MODES; a test holds them equal
GeometryKind = Literal["triangle", "parallel", "circle"]  # the generator's KINDS; a test holds them equal

# Field mappings for the paper's problem pools, so a source needs only `preset: NAME` and a path or id.
PRESETS: dict[str, dict[str, Any]] = {
    "metamathqa": {
        "mapping": {"problem": "query", "answer": "response", "subject": "type"},
        "answer_transform": "answer_is",
    },
    "math-train": {"mapping": {"answer": "solution", "subject": "type"}, "answer_transform": "last_boxed"},
    "numinamath": {"mapping": {"answer": "solution", "subject": "source"}, "answer_transform": "last_boxed"},
    "gsm8k": {"mapping": {"problem": "question"}, "answer_transform": "gsm8k"},
    "taco": {"mapping": {"problem": "question", "tests": "input_output", "level": "difficulty"}, "domain": "code"},
    "apps": {"mapping": {"problem": "question", "tests": "input_output", "subject": "difficulty"}, "domain": "code"},
    "geoqa": {
        "mapping": {"problem": "problem", "answer": "solution", "image": "image"},
        "domain": "geo",
        "answer_transform": "final_answer",
    },
}
Preset = Literal["metamathqa", "math-train", "numinamath", "gsm8k", "taco", "apps", "geoqa"]

# Built-in split rules for the tags released datasets use; an output that opens the reasoning and
# never closes it is unfinished.
SPLIT_RULES = {
    # Sky-T1, OpenThoughts, Bespoke-Stratos
    "begin_of_thought": r"<\|begin_of_thought\|>(?P<reasoning>.*?)(?:<\|end_of_thought\|>\s*"
    r"(?:<\|begin_of_solution\|>)?(?P<response>.*?)(?:<\|end_of_solution\|>)?)?\s*$",
    "thought_output": r"<Thought>(?P<reasoning>.*?)(?:</Thought>\s*(?:<Output>)?(?P<response>.*?)(?:</Output>)?)?\s*$",
    # DeepSeek-R1 style (OpenR1-Math, RedStar's QwQ traces): the opening tag is often in the prompt
    "think": r"^\s*(?:<think>)?(?P<reasoning>.*?)</think>(?P<response>.*)$",
}
IntRange = Annotated[tuple[int, int], Field(strict=False)]  # YAML writes [1, 3]
_KIND = "The kind of source, which picks the keys it takes."
_SEED = "Seed of the generated problems."
_SPLIT = "The dataset split to read."
_REVISION = "The dataset's revision (branch, tag or commit); null for the default."
_CONFIG = "The dataset's configuration (subset) name."


def split_pattern(split: str) -> re.Pattern:
    """A split rule (a built-in name or a regex with the named group `reasoning`) compiled, or a
    ValueError saying what is wrong with it."""
    pattern = SPLIT_RULES.get(split, split)
    try:
        compiled = re.compile(pattern, re.S)
    except re.error as exc:
        raise ValueError(f"split {split!r} is not a regex: {exc}") from None
    if "reasoning" not in compiled.groupindex:
        raise ValueError(
            f"split {split!r} needs a named group (?P<reasoning>...); built-in rules: {sorted(SPLIT_RULES)}"
        )
    return compiled


class SourceBase(Section):
    """What every source has: its name (the partition key) and the verifier mode its traces get."""

    name: Annotated[str, Field(description="The source's name, its partition key.")]
    verify_mode: VerifyMode = Field(
        default="strict",
        description="How answers are read from its traces: strict (explicit markers only), legacy (else the last "
        "number) or lenient (as math-verify reads them).",
    )


class ArithmeticSource(SourceBase):
    """Seeded `Compute A op B.` problems, operands of `digits` digits."""

    kind: Annotated[Literal["arithmetic"], Field(description=_KIND)]
    count: Annotated[PositiveInt, Field(description="How many problems.")]
    digits: IntRange = Field(default=(1, 3), description="Fewest and most digits of an operand.")
    ops: list[Literal["+", "-"]] | None = Field(default=None, description="The operators drawn from; null for +.")
    seed: int = Field(default=0, description=_SEED)


class ArithmeticCodeSource(SourceBase):
    """Seeded programs that sum `operands` integers plus a constant, with stdin/stdout tests."""

    kind: Annotated[Literal["arithmetic_code"], Field(description=_KIND)]
    count: Annotated[PositiveInt, Field(description="How many problems.")]
    operands: IntRange = Field(default=(2, 3), description="Fewest and most integers a program sums.")
    digits: IntRange = Field(default=(1, 3), description="Fewest and most digits of the constant.")
    seed: int = Field(default=0, description=_SEED)


class SyntheticSource(SourceBase):
    """Seeded word problems with the synthetic teacher's answer mix: the problems of scale runs."""

    kind: Annotated[Literal["synthetic"], Field(description=_KIND)]
    count: Annotated[PositiveInt, Field(description="How many problems.")]
    seed: int = Field(default=0, description=_SEED)


class GeometrySource(SourceBase):
    """Seeded multiple-choice geometry problems over drawn figures."""

    kind: Annotated[Literal["geometry"], Field(description=_KIND)]
    count: Annotated[PositiveInt, Field(description="How many problems.")]
    kinds: list[GeometryKind] | None = Field(default=None, description="The figure kinds, in turn; null for all.")
    values: list[int] | None = Field(
        default=None, description="Degree values printed in the figures; null for 30, 40, 50, 60 and 70."
    )
    size: PositiveInt = Field(default=224, description="Side of the figures in pixels.")
    seed: int = Field(default=0, description=_SEED)


class FieldMapping(Section):
    """How records are read: a field mapping (common field -> record field or template), or a preset's."""

    preset: Preset | None = Field(default=None, description="The field mapping of one of the paper's problem pools.")
    mapping: dict[str, str] | None = Field(
        default=None, description="Each common field (problem, answer, ...) read from a record field, path or template."
    )
    domain: str = Field(default="math", description="The problems' domain (math, code, geo) when no field maps it.")
    answer_transform: AnswerTransform | None = Field(
        default=None, description="How the answer is read from the mapped field; null takes it as written."
    )


class TabularSource(FieldMapping, SourceBase):
    """Records read through a field mapping (common field -> record field or template)."""

    @model_validator(mode="before")
    @classmethod
    def _preset_merged(cls, data: Any) -> Any:
        """The preset's mapping and defaults under the entry's own keys."""
        if not isinstance(data, dict) or data.get("preset") not in PRESETS:
            return data
        preset = PRESETS[data["preset"]]
        own_mapping = data["mapping"] if isinstance(data.get("mapping"), dict) else {}
        return {**preset, **data, "mapping": {**preset.get("mapping", {}), **own_mapping}}


class FileSource(TabularSource):
    """Local JSONL, Parquet or CSV files (a glob is fine)."""

    kind: Annotated[Literal["file"], Field(description=_KIND)]
    path: Annotated[str, Field(description="The file, or a glob of files.")]


class HuggingfaceSource(TabularSource):
    """A Hugging Face dataset by id, split and revision, read from the local cache."""

    kind: Annotated[Literal["huggingface"], Field(description=_KIND)]
    dataset: Annotated[str, Field(description="The dataset's Hub id.")]
    split: str = Field(default="train", description=_SPLIT)
    revision: str | None = Field(default=None, description=_REVISION)
    config: str | None = Field(default=None, description=_CONFIG)


class TraceSource(TabularSource):
    """A released trace dataset (files or a Hugging Face id), its traces split into reasoning and
    response by `trace_split` or by the mapping; `teacher` names the model that wrote them."""

    kind: Annotated[Literal["traces"], Field(description=_KIND)]
    path: str | None = Field(default=None, description="Local files of traces (a glob is fine); or give dataset.")
    dataset: str | None = Field(default=None, description="A Hub dataset id of traces; or give path.")
    split: str = Field(default="train", description=_SPLIT)
    revision: str | None = Field(default=None, description=_REVISION)
    config: str | None = Field(default=None, description=_CONFIG)
    trace_split: str | None = Field(
        default=None,
        description="How a mapped trace splits into reasoning and response: a built-in rule "
        f"({', '.join(SPLIT_RULES)}) or a regex with the group (?P<reasoning>...).",
    )
    # ~8 KB traces, held twice (normalized and original): ~100 MB of text a chunk
    rows: PositiveInt = Field(default=5_000, description="Records read per chunk; bounds the memory a chunk takes.")
    teacher: str | None = Field(default=None, description="The model that wrote the traces, as lineage names it.")

    @model_validator(mode="after")
    def _readable(self) -> TraceSource:
        mapping = self.mapping or {}
        if (self.path is None) == (self.dataset is None) or not any(f in mapping for f in ("reasoning", "trace")):
            raise ValueError(
                "a traces source reads `path` or `dataset` (one of them) and maps `reasoning` (and `response`) "
                "or `trace` (with a `trace_split` rule)"
            )
        if self.trace_split is not None:
            split_pattern(self.trace_split)
        return self

    def origin(self) -> dict[str, Any]:
        """Where the traces came from, as lineage records it: the keys the entry sets."""
        keys = ("dataset", "revision", "split", "config", "path", "teacher")
        return {k: getattr(self, k) for k in keys if k in self.model_fields_set and getattr(self, k) is not None}

    def teacher_label(self) -> str:
        return self.teacher or self.dataset or f"file:{self.path}"


# What the stages read: one resolved entry of any kind.
SourceEntry = (
    ArithmeticSource
    | ArithmeticCodeSource
    | SyntheticSource
    | GeometrySource
    | FileSource
    | HuggingfaceSource
    | TraceSource
)
SourceSpec = Annotated[SourceEntry, Field(discriminator="kind")]


class InboxSpec(FieldMapping):
    """`inbox:`: how files dropped in the inbox are read (a file source without name or path)."""

    def source(self, name: str, path: str) -> FileSource:
        """The file source one dropped file is read as."""
        return FileSource.model_validate({**self.written(), "name": name, "kind": "file", "path": path})


def source_of(data: dict[str, Any], where: str = "source") -> SourceEntry:
    """One source entry from a mapping, checked as a profile's would be (for code that builds its own)."""
    return build_entry("source", SourceSpec, data, where)
