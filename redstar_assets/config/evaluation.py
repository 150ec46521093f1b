"""The profile's `evaluation:` block: which registry benchmarks, and the run settings the evaluation
entry point reads (prompt, token budget, seed and the generation backend, one class per `kind`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, PositiveInt, Tag, field_validator, model_validator

from redstar_assets.config.section import Section, section_of
from redstar_training.generation.local_backends import TransformersBackend, VLLMBackend
from redstar_training.generation.openai_backend import OpenAIBackend
from redstar_training.generation.prompts import TEMPLATES
from redstar_training.generation.serve import PRESETS as SERVE_PRESETS
from redstar_training.generation.serve import ServeSpec

# Set per model by the evaluation (the checkpoint, its figures, the base model entry's trust).
PER_MODEL = ("model", "images", "trust_remote_code")
_KIND = "The evaluation backend."


class ServeSection(section_of("ServeFields", ServeSpec, "", Section)):  # type: ignore[misc]
    """A server the evaluation starts for each model and talks to (vLLM's or transformers' own)."""

    @model_validator(mode="after")
    def _startable(self) -> ServeSection:
        if not self.command and self.preset not in SERVE_PRESETS:
            raise ValueError(f"serve.preset {self.preset!r} is not one of {sorted(SERVE_PRESETS)}")
        return self


class EvalBackend(Section):
    """How the evaluation generates; the model comes from the checkpoint being scored."""


TransformersEval = section_of(
    "TransformersEval", TransformersBackend, "Local batched generation.", EvalBackend, PER_MODEL,
    kind=(Literal["transformers"], Field("transformers", description=_KIND)),
)  # fmt: skip
VLLMEval = section_of(
    "VLLMEval", VLLMBackend, "vLLM's offline engine (GPU machines).", EvalBackend, PER_MODEL,
    kind=(Literal["vllm"], Field(description=_KIND)),
)  # fmt: skip


class OpenAIEvalFields(EvalBackend):
    base_url: str | list[str] | None = Field(
        default=None, description="The server's URL, or a list of replicas' URLs; null when serve starts one."
    )
    serve: ServeSection | None = None


class OpenAIEval(section_of("OpenAIEvalBase", OpenAIBackend, "", OpenAIEvalFields, (*PER_MODEL, "base_url"))):  # type: ignore[misc]
    """An OpenAI-compatible server: one at `base_url`, or one `serve` starts for each model."""

    kind: Annotated[Literal["openai"], Field(description=_KIND)]

    @model_validator(mode="after")
    def _one_server(self) -> OpenAIEval:
        if (self.base_url is None) == (self.serve is None):
            raise ValueError("an openai backend talks to `base_url` or to the server `serve` starts (one of them)")
        return self


def kind(data: Any) -> str:
    """The discriminator: a backend names its `kind`, transformers when it names none."""
    return data.get("kind", "transformers") if isinstance(data, dict) else getattr(data, "kind", "")


EvalBackendSpec = Annotated[
    Annotated[TransformersEval, Tag("transformers")]  # type: ignore[valid-type]
    | Annotated[VLLMEval, Tag("vllm")]  # type: ignore[valid-type]
    | Annotated[OpenAIEval, Tag("openai")],
    Discriminator(kind),
]


class EvaluationSpec(Section):
    """`evaluation:`: registry benchmarks by name (with count, sampling or max_tokens overridden)
    and the run settings every scored model gets."""

    benchmarks: list[str | dict[str, Any]] = Field(
        default_factory=list,
        description="Registry benchmarks by name, or {name: ..., count, sampling, max_tokens} to override those.",
    )
    registry: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="The profile's own benchmarks, entries as in configs/benchmarks.yaml (a relative path is "
        "read from the profile's folder).",
    )
    backend: EvalBackendSpec = Field(default=TransformersEval(), description="How the evaluation generates.")
    prompt_template: str = Field(default="plain", description="The prompt template of every benchmark.")
    max_new_tokens: PositiveInt = Field(default=160, description="Token budget of benchmarks that name no max_tokens.")
    seed: int = Field(default=1234, description="Seed of the first sampled pass; each next pass adds one.")

    @field_validator("prompt_template")
    @classmethod
    def _known_template(cls, name: str) -> str:
        if name not in TEMPLATES:
            raise ValueError(f"unknown prompt template {name!r}; known: {sorted(TEMPLATES)}")
        return name

    def settings(self) -> dict[str, Any]:
        """The run settings the profile set, as the evaluation's run config (and its reuse key) holds them."""
        return self.model_dump(exclude_unset=True, exclude={"benchmarks", "registry"})
