"""The profile's `base_models:` entries: a tiny model built here from its spec (the fields of the
builder's own spec class, so the two cannot drift), a local folder, or a hub id."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from redstar_assets.config.section import Section, section_of
from redstar_training.models.tiny_lm import TinyQwen2Spec
from redstar_training.models.tiny_vlm import TinyVLMSpec


class TinyModel(Section):
    """A tiny model built here from its spec; each kind adds its builder's fields."""

    kind: str


TinyQwen2Model = section_of(
    "TinyQwen2Model",
    TinyQwen2Spec,
    "A tiny Qwen2 built here from its sizes.",
    TinyModel,
    kind=(Literal["tiny_qwen2"], ...),
)
TinyVLMModel = section_of(
    "TinyVLMModel", TinyVLMSpec, "A tiny vision-language model built here.", TinyModel, kind=(Literal["tiny_vlm"], ...)
)


class LocalModel(Section):
    """A model folder on this machine (or a shared filesystem)."""

    kind: Literal["local"]
    path: str
    trust_remote_code: bool = False  # run the folder's own modelling code (only when this entry says so)


class HubModel(Section):
    """A Hugging Face Hub id, loaded by the trainers on a machine that can reach the Hub."""

    kind: Literal["hub"]
    id: str
    trust_remote_code: bool = False  # run the repository's own modelling code (only when this entry says so)


BaseModelSpec = Annotated[
    TinyQwen2Model | TinyVLMModel | LocalModel | HubModel,  # type: ignore[valid-type]
    Field(discriminator="kind"),
]
# What the stages read: every entry has a kind; local and hub ones may trust remote code.
BaseModelEntry = TinyModel | LocalModel | HubModel
TINY_KINDS = ("tiny_qwen2", "tiny_vlm")  # built here from a spec, deterministically
