"""The `queue` deployment: every step a Celery task on a Redis broker (dagster-celery), model steps on
the profile's `gpu` queue and data steps on its `cpu` queue, run by `redstar worker QUEUE` on machines
sharing the instance and the data root. A worker that dies mid-step leaves a failed step, never a run
that waits forever. The broker URL, which may hold a password, comes from REDSTAR_CELERY_BROKER only.
"""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import urlsplit

from redstar_assets.config.celery import PING_EVERY_S, CelerySpec

BROKER_ENV = "REDSTAR_CELERY_BROKER"
QUEUE_TAG = "dagster-celery/queue"
CONNECT_TIMEOUT_S = 5.0


class BrokerError(RuntimeError):
    """The Celery broker is not configured or cannot be reached; the message names the setting."""


def queue_tags(profile) -> dict[str, str]:
    """The op tag that sends a model step to the `model` queue (data steps take the default queue)."""
    if profile.launch.executor != "celery":
        return {}
    return {QUEUE_TAG: profile.launch.celery.queues.model}


def celery_config(queues: dict[str, str]) -> dict[str, Any]:
    """What the run worker and every Celery worker agree on (dagster-celery's `config_source`)."""
    return {
        "task_default_queue": queues["data"],
        "task_track_started": True,  # a started task names its worker: whom the lost-worker check asks
        "task_acks_late": False,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": False,
        "broker_transport_options": {"max_retries": 3, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
    }


def broker_url() -> str:
    url = os.environ.get(BROKER_ENV, "")
    if not url:
        raise BrokerError(
            f"the Celery broker comes from the environment variable {BROKER_ENV}"
            " (redis://HOST:PORT/DB), which is not set"
        )
    return url


def broker_address(url: str) -> str:
    """host:port of a broker URL, without its password."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}"


def check_broker(url: str) -> None:
    """One PING to the Redis broker within CONNECT_TIMEOUT_S, or an error naming the address (another
    broker, such as RabbitMQ's amqp://, is left to Celery's own bounded connection retries)."""
    if not url.startswith(("redis://", "rediss://")):
        return
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=CONNECT_TIMEOUT_S).ping()
    except redis.RedisError as err:
        raise BrokerError(
            f"cannot reach the Celery broker at {broker_address(url)} (from {BROKER_ENV}): {type(err).__name__}: {err}"
        ) from None


def worker_app(queues: dict[str, str]):
    """The Celery app a `redstar worker` serves: dagster-celery's step task, with the run worker's settings."""
    # Imported here, as below: only the queue deployment loads Celery.
    from redstar_assets.deploy.dagster_celery_internals import celery_app

    return celery_app(broker_url(), celery_config(queues))


class WorkerLost(RuntimeError):
    """The Celery worker running a step no longer runs it (gone, or restarted): the step did not finish."""


class WatchedResult:
    """A step's Celery result that also turns ready when the worker holding the step is gone: Celery marks a
    killed pool process's task failed itself (`WorkerLostError`), but nobody marks a killed worker's, so the
    worker that started the step is asked over the broker for its running tasks, and the step fails after
    `lost_after_s` unlisted (asking for the task, not a pong, catches a worker restarted under the same name).
    The step is then logged as failed through the executor's failure-or-retry path, so its downstream steps
    are "upstream failed" and "Re-execute from failure" runs them again. Tasks are acknowledged on receipt
    (`task_acks_late` off), so Celery never starts a step twice."""

    def __init__(self, result, app, lost_after_s: float, plan_context, step, known_state):
        self.result, self.app, self.lost_after_s = result, app, lost_after_s
        self.plan_context, self.step, self.known_state = plan_context, step, known_state
        self.checked = 0.0
        self.silent_since: float | None = None
        self.lost: str | None = None

    def ready(self) -> bool:
        if self.result.ready():
            return True
        now = time.monotonic()
        if now - self.checked < PING_EVERY_S:
            return False
        self.checked = now
        info = self.result.info if self.result.state == "STARTED" else None
        host = info.get("hostname") if isinstance(info, dict) else None
        if not host:  # still queued: waiting for a worker is not a failure
            self.silent_since = None
            return False
        if self._running_on(host) or self.result.ready():
            self.silent_since = None
            return self.result.ready()
        self.silent_since = self.silent_since or now
        if now - self.silent_since >= self.lost_after_s:
            self.lost = host
            return True
        return False

    def _running_on(self, host: str) -> bool:
        """Whether the worker named `host` answers and lists this step's task among its running ones."""
        reply = self.app.control.inspect(destination=[host], timeout=2.0).active() or {}
        return any(task.get("id") == self.result.id for task in reply.get(host) or [])

    def get(self) -> list:
        from celery.exceptions import TaskRevokedError

        from redstar_assets.deploy.dagster_celery_internals import failed_step_events

        try:
            if self.lost:
                raise WorkerLost(
                    f"celery worker {self.lost} stopped running this step: for {self.lost_after_s:.0f}s it did not"
                    " answer, or answered without the step (killed, or its machine lost, or restarted under the"
                    " same name); the step did not finish: re-execute from failure"
                )
            return self.result.get()
        except TaskRevokedError:
            raise  # a cancelled run: dagster-celery reports it
        except Exception:  # WorkerLost, Celery's WorkerLostError (its pool process killed), a broken task
            return failed_step_events(self.plan_context, self.step, self.known_state)

    def revoke(self):
        return self.result.revoke()


def queue_executor(settings: CelerySpec):
    """dagster-celery's executor on the REDSTAR_CELERY_BROKER broker, with the lost-worker check."""
    from redstar_assets.deploy.dagster_celery_internals import celery_executor_with, submit_step

    lost_after_s = settings.lost_after_s

    def submit(app, plan_context, step, queue, priority, known_state):
        result = submit_step(app, plan_context, step, queue, priority, known_state)
        return WatchedResult(result, app, lost_after_s, plan_context, step, known_state)

    source = {"env": BROKER_ENV}
    return celery_executor_with(submit, check_broker).configured(
        {"broker": source, "backend": source, "config_source": celery_config(settings.queue_names())}
    )
