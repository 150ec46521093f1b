"""The `queue` deployment's part of the profile (`launch.celery`): the two queue names and how long a
silent worker may keep a step, validated at load."""

from __future__ import annotations

from typing import Any

from redstar_assets.config.errors import ProfileError, check_keys

BLOCK_KEYS = ("queues", "lost_after_s")
DEFAULT_QUEUES = {"model": "gpu", "data": "cpu"}
PING_EVERY_S = 5.0


def resolve_queue(block: dict | None, where: str = "profile") -> dict[str, Any]:
    """The validated `launch.celery` block: the two queue names and the lost-worker timeout."""
    block = block or {}
    check_keys(where, "launch.celery", block, BLOCK_KEYS)
    queues = {**DEFAULT_QUEUES, **(block.get("queues") or {})}
    check_keys(where, "launch.celery.queues", queues, tuple(DEFAULT_QUEUES))
    for role, name in queues.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ProfileError(f"{where}: launch.celery.queues.{role} must be a queue name, got {name!r}")
    lost = block.get("lost_after_s", 60)
    if not isinstance(lost, int | float) or isinstance(lost, bool) or lost < 2 * PING_EVERY_S:
        raise ProfileError(f"{where}: launch.celery.lost_after_s must be a number of seconds >= {2 * PING_EVERY_S:g}")
    return {"queues": queues, "lost_after_s": float(lost)}
