"""The profile's `sources:` entries, one class per kind: built-in generators, files, Hugging Face
datasets and released traces. A tabular source may name a preset, the field mapping of one of the
paper's problem pools; it is merged in at load, so readers see one resolved spec."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, PositiveInt, model_validator

from redstar_assets.config.section import Section

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

    name: str
    verify_mode: VerifyMode = "strict"


class ArithmeticSource(SourceBase):
    """Seeded `Compute A op B.` problems, operands of `digits` digits."""

    kind: Literal["arithmetic"]
    count: PositiveInt
    digits: IntRange = (1, 3)
    ops: list[Literal["+", "-"]] | None = None
    seed: int = 0


class ArithmeticCodeSource(SourceBase):
    """Seeded programs that sum `operands` integers plus a constant, with stdin/stdout tests."""

    kind: Literal["arithmetic_code"]
    count: PositiveInt
    operands: IntRange = (2, 3)
    digits: IntRange = (1, 3)
    seed: int = 0


class SyntheticSource(SourceBase):
    """Seeded word problems with the synthetic teacher's answer mix: the problems of scale runs."""

    kind: Literal["synthetic"]
    count: PositiveInt
    seed: int = 0


class GeometrySource(SourceBase):
    """Seeded multiple-choice geometry problems over drawn figures."""

    kind: Literal["geometry"]
    count: PositiveInt
    kinds: list[GeometryKind] | None = None
    values: list[int] | None = None
    size: PositiveInt = 224
    seed: int = 0


class TabularSource(SourceBase):
    """Records read through a field mapping (common field -> record field or template)."""

    preset: Preset | None = None
    mapping: dict[str, str] | None = None
    domain: str = "math"
    answer_transform: AnswerTransform | None = None

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

    kind: Literal["file"]
    path: str


class HuggingfaceSource(TabularSource):
    """A Hugging Face dataset by id, split and revision, read from the local cache."""

    kind: Literal["huggingface"]
    dataset: str
    split: str = "train"
    revision: str | None = None
    config: str | None = None


class TraceSource(TabularSource):
    """A released trace dataset (files or a Hugging Face id), its traces split into reasoning and
    response by `trace_split` or by the mapping; `teacher` names the model that wrote them."""

    kind: Literal["traces"]
    path: str | None = None
    dataset: str | None = None
    split: str = "train"
    revision: str | None = None
    config: str | None = None
    trace_split: str | None = None
    rows: PositiveInt = 5_000  # ~8 KB traces, held twice (normalized and original): ~100 MB of text a chunk
    teacher: str | None = None

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
SOURCE_KINDS = ("arithmetic", "arithmetic_code", "synthetic", "geometry", "file", "huggingface", "traces")


class InboxSpec(Section):
    """`inbox:`: how files dropped in the inbox are read (a file source without name or path)."""

    preset: Preset | None = None
    mapping: dict[str, str] | None = None
    domain: str = "math"
    answer_transform: AnswerTransform | None = None

    def source(self, name: str, path: str) -> FileSource:
        """The file source one dropped file is read as."""
        return FileSource.model_validate({**self.written(), "name": name, "kind": "file", "path": path})


def source_of(data: dict[str, Any], where: str = "source") -> SourceEntry:
    """One source entry from a mapping, checked as a profile's would be (for code that builds its own)."""
    from redstar_assets.config.section import build

    return build(_OneSource, {"source": data}, where, "").source


class _OneSource(Section):
    source: SourceSpec
