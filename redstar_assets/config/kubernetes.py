"""The `kubernetes` deployment's part of the profile (`launch.kubernetes`): the image, the volume and
the pod shape of each stage and base model, validated at load."""

from __future__ import annotations

from typing import Any

from pydantic import Field, NonNegativeInt, PositiveInt

from redstar_assets.config.section import Section


class PodShape(Section):
    """What one stage's pods ask for."""

    gpus: NonNegativeInt = 0
    nodes: PositiveInt = 1
    cpu: str = ""
    memory: str = ""
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)


class KubeSettings(Section):
    """`launch.kubernetes`: the image every step pod runs, where the data root is mounted, and the shape
    of each stage's pods (a base model may ask for a bigger training shape than the stage's)."""

    image: str = Field(min_length=1)
    namespace: str = "default"
    service_account: str = ""
    data_volume_claim: str = ""
    data_root: str = "/data"
    shm_size: str = "16Gi"
    data: PodShape = PodShape()
    teacher: PodShape = PodShape()
    training: PodShape = PodShape()
    evaluation: PodShape = PodShape()
    models: dict[str, PodShape] = Field(default_factory=dict)

    def shape(self, stage: str, base_model: str | None = None) -> PodShape:
        """A stage's pod shape; a base model's own training shape is laid over the training stage's."""
        if stage == "training" and base_model in self.models:
            own = self.models[base_model]
            return self.training.model_copy(update={k: getattr(own, k) for k in own.model_fields_set})
        return getattr(self, stage)
