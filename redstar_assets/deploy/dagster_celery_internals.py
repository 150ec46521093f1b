"""Every Dagster and dagster-celery name outside their public APIs that the `queue` deployment uses, kept
here alone because neither library offers a public way to build its worker app, wrap a step's Celery
task or fail a step from outside it; an upgrade of either touches this module only."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from dagster import executor, multiple_process_executor_requirements, serialize_value
from dagster._core.execution.retries import RetryMode
from dagster._utils.error import serializable_error_info_from_exc_info
from dagster_celery.config import DEFAULT_CONFIG, dict_wrapper
from dagster_celery.core_execution_loop import core_celery_execution_loop
from dagster_celery.executor import CELERY_CONFIG, CeleryExecutor, _submit_task
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task


def step_task(app):
    """dagster-celery's task that runs one step, registered on `app` (what a worker serves)."""
    return create_task(app)


def celery_app(url: str, settings: dict[str, Any]):
    """dagster-celery's Celery app, its step task registered, on broker and result backend `url`."""
    config_source = dict_wrapper({**DEFAULT_CONFIG, **settings})
    return make_app({"broker": url, "backend": url, "include": [], "config_source": config_source})


def submit_step(app, plan_context, step, queue: str, priority: int, known_state):
    """dagster-celery's own submission of one step as a Celery task; returns its `AsyncResult`."""
    return _submit_task(app, plan_context, step, queue, priority, known_state)


def failed_step_events(plan_context, step, known_state) -> list[str]:
    """The step's failure (or retry) event for the exception being handled, serialized as a step task returns
    its events, so the executor's loop fails the step the way it fails one that raised."""
    error = serializable_error_info_from_exc_info(sys.exc_info())
    event = plan_context.executor.log_failure_or_retry_event_after_error(
        plan_context.for_step(step), error, known_state
    )
    return [serialize_value(event)]


def celery_executor_with(submit: Callable, before_execute: Callable[[str], None]):
    """dagster-celery's `celery` executor, with `submit` in place of its own step submission and
    `before_execute(broker_url)` called before a run's first step."""

    class SubmittingCeleryExecutor(CeleryExecutor):
        def execute(self, plan_context, execution_plan):
            before_execute(self.broker)
            return core_celery_execution_loop(plan_context, execution_plan, step_execution_fn=submit)

    @executor(name="celery", config_schema=CELERY_CONFIG, requirements=multiple_process_executor_requirements())
    def submitting_celery_executor(init_context):
        config = init_context.executor_config
        return SubmittingCeleryExecutor(
            broker=config.get("broker"),
            backend=config.get("backend"),
            config_source=config.get("config_source"),
            include=config.get("include"),
            retries=RetryMode.from_config(config["retries"]),
        )

    return submitting_celery_executor
