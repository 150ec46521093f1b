"""The `queue` deployment's part of the profile (`launch.celery`): the two queue names and how long a
silent worker may keep a step, validated at load."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from redstar_assets.config.section import Section

PING_EVERY_S = 5.0


def _queue_name(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"must be a queue name, got {name!r}")
    return name


QueueName = Annotated[str, AfterValidator(_queue_name)]


class CeleryQueues(Section):
    """Which Celery queue takes model steps (the GPU workers) and which the data steps."""

    model: QueueName = Field(default="gpu", description="The queue of model steps (the GPU workers).")
    data: QueueName = Field(default="cpu", description="The queue of data steps.")


class CelerySpec(Section):
    """`launch.celery`: the queues, and the seconds after which a worker that stopped answering has lost
    its step (at least two of the run worker's pings)."""

    queues: CeleryQueues = CeleryQueues()
    lost_after_s: float = Field(
        default=60.0, ge=2 * PING_EVERY_S, description="Seconds of silence after which a worker has lost its step."
    )

    def queue_names(self) -> dict[str, str]:
        return self.queues.model_dump()
