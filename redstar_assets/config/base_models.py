"""The profile's `base_models:` entries: a tiny model built here from its spec (the fields of the
builder's own spec class, so the two cannot drift), a local folder, or a hub id."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from redstar_assets.config.section import Section, section_of
from redstar_training.models.tiny_lm import TinyQwen2Spec
from redstar_training.models.tiny_vlm import TinyVLMSpec

_KIND = "Where the model comes from: built here (tiny_qwen2, tiny_vlm), a local folder or the Hub."


class TinyModel(Section):
    """A tiny model built here from its spec; each kind adds its builder's fields."""

    kind: str


TinyQwen2Model = section_of(
    "TinyQwen2Model",
    TinyQwen2Spec,
    "A tiny Qwen2 built here from its sizes.",
    TinyModel,
    kind=(Literal["tiny_qwen2"], Field(description=_KIND)),
)
TinyVLMModel = section_of(
    "TinyVLMModel",
    TinyVLMSpec,
    "A tiny vision-language model built here.",
    TinyModel,
    kind=(Literal["tiny_vlm"], Field(description=_KIND)),
)


class LocalModel(Section):
    """A model folder on this machine (or a shared filesystem)."""

    kind: Annotated[Literal["local"], Field(description=_KIND)]
    path: Annotated[str, Field(description="The model folder.")]
    trust_remote_code: bool = Field(
        default=False, description="Run the folder's own modelling code (only when this entry says so)."
    )


class HubModel(Section):
    """A Hugging Face Hub id, loaded by the trainers on a machine that can reach the Hub."""

    kind: Annotated[Literal["hub"], Field(description=_KIND)]
    id: Annotated[str, Field(description="The model's Hub id.")]
    trust_remote_code: bool = Field(
        default=False, description="Run the repository's own modelling code (only when this entry says so)."
    )


BaseModelSpec = Annotated[
    TinyQwen2Model | TinyVLMModel | LocalModel | HubModel,  # type: ignore[valid-type]
    Field(discriminator="kind"),
]
# What the stages read: every entry has a kind; local and hub ones may trust remote code.
BaseModelEntry = TinyModel | LocalModel | HubModel
TINY_KINDS = ("tiny_qwen2", "tiny_vlm")  # built here from a spec, deterministically
