"""The `kubernetes` deployment's part of the profile (`launch.kubernetes`): the image, the volume and
the pod shape of each stage and base model, validated at load."""

from __future__ import annotations

from typing import Any

from pydantic import Field, NonNegativeInt, PositiveInt

from redstar_assets.config.section import Section


class PodShape(Section):
    """What one stage's pods ask for."""

    gpus: NonNegativeInt = Field(default=0, description="GPUs per pod (nvidia.com/gpu).")
    nodes: PositiveInt = Field(
        default=1, description="Nodes a training step runs torchrun across; other stages use one."
    )
    cpu: str = Field(default="", description="CPU request and limit, e.g. '8'; empty for none.")
    memory: str = Field(default="", description="Memory request and limit, e.g. 64Gi; empty for none.")
    node_selector: dict[str, str] = Field(default_factory=dict, description="Node labels the pods must match.")
    tolerations: list[dict[str, Any]] = Field(
        default_factory=list, description="Tolerations of the pods, as Kubernetes writes them."
    )


class KubeSettings(Section):
    """`launch.kubernetes`: the image every step pod runs, where the data root is mounted, and the shape
    of each stage's pods (a base model may ask for a bigger training shape than the stage's)."""

    image: str = Field(min_length=1, description="The container image every step pod runs.")
    namespace: str = Field(default="default", description="The namespace of the step Jobs.")
    service_account: str = Field(
        default="", description="The pods' service account; empty for the namespace's default."
    )
    data_volume_claim: str = Field(
        default="", description="A PersistentVolumeClaim mounted at data_root; empty for none."
    )
    data_root: str = Field(default="/data", description="Where the data root is mounted (REDSTAR_HOME in the pods).")
    shm_size: str = Field(default="16Gi", description="Size of the in-memory /dev/shm.")
    data: PodShape = Field(default=PodShape(), description="Pods of the data steps.")
    teacher: PodShape = Field(default=PodShape(), description="Pods of the teacher steps.")
    training: PodShape = Field(default=PodShape(), description="Pods of the training steps.")
    evaluation: PodShape = Field(default=PodShape(), description="Pods of the evaluation steps.")
    models: dict[str, PodShape] = Field(
        default_factory=dict, description="A base model's own training shape, laid over the training stage's."
    )

    def shape(self, stage: str, base_model: str | None = None) -> PodShape:
        """A stage's pod shape; a base model's own training shape is laid over the training stage's."""
        if stage == "training" and base_model in self.models:
            own = self.models[base_model]
            return self.training.model_copy(update={k: getattr(own, k) for k in own.model_fields_set})
        return getattr(self, stage)
