"""The `queue` deployment: every step a Celery task on a Redis broker (dagster-celery), model steps
on the profile's `gpu` queue and data steps on its `cpu` queue, run by `redstar worker QUEUE` on any
machine that shares the instance (PostgreSQL, the `team` deployment) and the data root.

dagster-celery runs a step inside a worker's pool process. A worker that dies mid-step leaves a
failed step, never a run that waits forever:
- its pool process killed (the OOM killer): Celery's own supervisor marks the task failed
  (`WorkerLostError`), and the run worker reads that within a second;
- the whole worker killed (a lost node, a SIGKILLed container): nobody marks the task, so the run
  worker asks the worker that started each step, over the broker, for its running tasks, and fails
  the step after `lost_after_s` without that worker listing it. The worker's main process answers
  while its pool works. Asking for the task, not only for a pong, matters when a supervisor
  restarts the worker at once: the new one takes the old one's name and answers pings, but never
  runs the lost step.
In both cases the trainer that the step launched dies with it (`redstar_training.supervise`).
Tasks are acknowledged on receipt (`task_acks_late` off): Celery never starts a step twice; Dagster's
re-execution from failure runs it again.

The broker URL, which may hold a password, comes from REDSTAR_CELERY_BROKER only (also the result
backend); it is never written to the profile or to run metadata.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from redstar_assets.config.celery import PING_EVERY_S, resolve_queue

BROKER_ENV = "REDSTAR_CELERY_BROKER"
QUEUE_TAG = "dagster-celery/queue"
CONNECT_TIMEOUT_S = 5.0


class BrokerError(RuntimeError):
    """The Celery broker is not configured or cannot be reached; the message names the setting."""


def queue_tags(profile) -> dict[str, str]:
    """The op tag that sends a model step to the `model` queue (data steps take the default queue)."""
    if profile.launch.get("executor") != "celery":
        return {}
    return {QUEUE_TAG: resolve_queue(profile.launch.get("celery"), str(profile.path))["queues"]["model"]}


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
    from dagster_celery.config import DEFAULT_CONFIG, dict_wrapper
    from dagster_celery.make_app import make_app

    url = broker_url()
    return make_app(
        {
            "broker": url,
            "backend": url,
            "include": [],
            "config_source": dict_wrapper({**DEFAULT_CONFIG, **celery_config(queues)}),
        }
    )


class WorkerLost(RuntimeError):
    """The Celery worker running a step no longer runs it (gone, or restarted): the step did not finish."""


class WatchedResult:
    """A step's Celery result that also turns ready when the worker holding the step is gone.

    A step whose task failed without the step reporting it (the worker lost, or the task itself
    broken) is logged as a failed step, through the executor's own failure-or-retry path: its
    downstream steps are then "upstream failed" (not skipped), so "Re-execute from failure" runs
    them all again, and an op retry policy on the asset applies."""

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
        from dagster._serdes import serialize_value
        from dagster._utils.error import serializable_error_info_from_exc_info

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
            error = serializable_error_info_from_exc_info(sys.exc_info())
            event = self.plan_context.executor.log_failure_or_retry_event_after_error(
                self.plan_context.for_step(self.step), error, self.known_state
            )
            return [serialize_value(event)]

    def revoke(self):
        return self.result.revoke()


def queue_executor(settings: dict[str, Any]):
    """dagster-celery's executor on the REDSTAR_CELERY_BROKER broker, with the lost-worker check."""
    from dagster import executor, multiple_process_executor_requirements
    from dagster._core.execution.retries import RetryMode
    from dagster_celery.core_execution_loop import core_celery_execution_loop
    from dagster_celery.executor import CELERY_CONFIG, CeleryExecutor, _submit_task

    lost_after_s = settings["lost_after_s"]

    def submit(app, plan_context, step, queue, priority, known_state):
        result = _submit_task(app, plan_context, step, queue, priority, known_state)
        return WatchedResult(result, app, lost_after_s, plan_context, step, known_state)

    class WatchedCeleryExecutor(CeleryExecutor):
        def execute(self, plan_context, execution_plan):
            check_broker(self.broker)
            return core_celery_execution_loop(plan_context, execution_plan, step_execution_fn=submit)

    @executor(
        name="celery",
        config_schema=CELERY_CONFIG,
        requirements=multiple_process_executor_requirements(),
    )
    def redstar_celery_executor(init_context):
        config = init_context.executor_config
        return WatchedCeleryExecutor(
            broker=config.get("broker"),
            backend=config.get("backend"),
            config_source=config.get("config_source"),
            include=config.get("include"),
            retries=RetryMode.from_config(config["retries"]),
        )

    source = {"env": BROKER_ENV}
    return redstar_celery_executor.configured(
        {"broker": source, "backend": source, "config_source": celery_config(settings["queues"])}
    )
