"""The profile's `teacher:` block (and a difficulty scorer, which is one too): the run's settings
beside the backend's own, one class per `backend`. The backend keys are its dataclass's fields, so
a key the backend does not take fails at load."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, PositiveInt, Tag, field_validator

from redstar_assets.config.section import Section, build_entry, section_of
from redstar_training.generation.local_backends import (
    ProceduralBackend,
    SyntheticBackend,
    TransformersBackend,
    VLLMBackend,
)
from redstar_training.generation.openai_backend import OpenAIBackend
from redstar_training.generation.prompts import TEMPLATES
from redstar_training.generation.types import Sampling

# Filled in by the caller from the problems (or the launcher), never by a profile.
CALLER_SET = ("problems", "tests", "images", "answers")
IN_PROCESS = ("procedural", "synthetic", "openai")  # need no model weights in this process

SamplingSpec = section_of("SamplingSpec", Sampling, "How each teacher sample is drawn.", Section)


class TeacherRun(Section):
    """How many samples per problem, with which prompts and sampling: the run, not the backend."""

    samples_per_problem: PositiveInt = Field(default=4, description="Samples drawn for each problem.")
    stop_after_correct: PositiveInt | None = Field(
        default=None, description="Stop sampling a problem once it has this many correct samples."
    )
    round_size: PositiveInt | None = Field(
        default=None, description="Samples per problem per round; null for stop_after_correct (or all of them)."
    )
    prompt_template: str = Field(
        default="math-long-cot", description="The prompt template for problems other than code."
    )
    code_prompt_template: str = Field(default="code-long-cot", description="The prompt template for code problems.")
    sampling: SamplingSpec = SamplingSpec()  # type: ignore[valid-type]
    max_problem_chars: PositiveInt = Field(
        default=20_000, description="Problems longer than this many characters are skipped."
    )

    @field_validator("prompt_template", "code_prompt_template")
    @classmethod
    def _known_template(cls, name: str) -> str:
        if name not in TEMPLATES:
            raise ValueError(f"unknown prompt template {name!r}; known: {sorted(TEMPLATES)}")
        return name

    @property
    def kind(self) -> str:
        return str(getattr(self, "backend"))  # noqa: B009 - each backend class adds the field

    @property
    def in_process(self) -> bool:
        """False for teachers that load a model (transformers, vllm): they run as a launched process."""
        return self.kind in IN_PROCESS

    def backend_settings(self) -> dict[str, Any]:
        """The backend's kind and the keys the profile set, as the distillation's run config holds them."""
        return {
            "kind": self.kind,
            **{k: v for k, v in self.written().items() if k not in TeacherRun.model_fields and k != "backend"},
        }

    def run_settings(self) -> dict[str, Any]:
        """The run keys the profile set (the distillation's own defaults stand for the rest)."""
        return {k: v for k, v in self.written().items() if k in TeacherRun.model_fields}


def _teacher(name: str, source: type, kind: str, doc: str, default: bool = False) -> type[TeacherRun]:
    backend = (Literal[kind], Field(kind if default else ..., description="The teacher backend."))
    return section_of(name, source, doc, TeacherRun, CALLER_SET, backend=backend)


ProceduralTeacher = _teacher(
    "ProceduralTeacher", ProceduralBackend, "procedural", "The demo teacher: worked sums with seeded slips.", True
)
SyntheticTeacher = _teacher("SyntheticTeacher", SyntheticBackend, "synthetic", "Scale runs' ~8 KB traces, no model.")
OpenAITeacher = _teacher("OpenAITeacher", OpenAIBackend, "openai", "Any OpenAI-compatible server or fleet.")
TransformersTeacher = _teacher("TransformersTeacher", TransformersBackend, "transformers", "A local model folder.")
VLLMTeacher = _teacher("VLLMTeacher", VLLMBackend, "vllm", "vLLM's offline engine (GPU machines).")


def backend(data: Any) -> str:
    """The discriminator: a teacher block names its `backend`, procedural when it names none."""
    return data.get("backend", "procedural") if isinstance(data, dict) else getattr(data, "backend", "")


TeacherSpec = Annotated[
    Annotated[ProceduralTeacher, Tag("procedural")]  # type: ignore[valid-type]
    | Annotated[SyntheticTeacher, Tag("synthetic")]  # type: ignore[valid-type]
    | Annotated[OpenAITeacher, Tag("openai")]  # type: ignore[valid-type]
    | Annotated[TransformersTeacher, Tag("transformers")]  # type: ignore[valid-type]
    | Annotated[VLLMTeacher, Tag("vllm")],  # type: ignore[valid-type]
    Discriminator(backend),
    Field(json_schema_extra={"description": "backend: procedural (default), synthetic, openai, transformers or vllm"}),
]
TEACHER_BACKENDS = ("procedural", "synthetic", "openai", "transformers", "vllm")


def teacher_of(data: dict[str, Any], where: str = "teacher") -> TeacherRun:
    """A teacher block from a mapping, checked as a profile's would be (for code that builds its own)."""
    return build_entry("teacher", TeacherSpec, data, where)
