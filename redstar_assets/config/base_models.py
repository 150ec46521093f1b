"""The profile's `base_models:` entries: a tiny model built here from its spec (the fields of the
builder's own spec class, so the two cannot drift), a local folder, or a hub id."""

from __future__ import annotations

import dataclasses
import typing
from typing import Annotated, Any, Literal

from pydantic import Field, create_model

from redstar_assets.config.section import Section
from redstar_training.models.tiny_lm import TinyQwen2Spec
from redstar_training.models.tiny_vlm import TinyVLMSpec


class TinyModel(Section):
    """A tiny model built here from its spec; each kind adds its builder's fields."""

    kind: str


def _tiny_entry(name: str, spec: type, kind: str, doc: str) -> type[TinyModel]:
    hints = typing.get_type_hints(spec)
    fields: dict[str, Any] = {f.name: (hints[f.name], f.default) for f in dataclasses.fields(spec)}
    return create_model(name, __base__=TinyModel, __doc__=doc, kind=(Literal[kind], ...), **fields)  # type: ignore[call-overload,arg-type]


TinyQwen2Model = _tiny_entry("TinyQwen2Model", TinyQwen2Spec, "tiny_qwen2", "A tiny Qwen2 built here from its sizes.")
TinyVLMModel = _tiny_entry("TinyVLMModel", TinyVLMSpec, "tiny_vlm", "A tiny vision-language model built here.")


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
