"""When things run on their own: the profile's `automation:` block as typed policies and Dagster
automation conditions, evaluated by one automation condition sensor so the UI shows why each asset
was or was not requested. Declarative automation still moves between Dagster releases, so every
condition is built here and nowhere else."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import dagster as dg
from pydantic import AfterValidator, BeforeValidator, Field, PositiveInt

from redstar_assets.config.section import Section

GROUPS = ("data", "subsets", "training", "evaluation", "report")


def _cron(value: str) -> str:
    try:
        dg.AutomationCondition.cron_tick_passed(value)
    except Exception:  # dagster raises its own check error for a bad cron string
        raise ValueError(f"{value!r} is not a cron string") from None
    return value


Cron = Annotated[str, AfterValidator(_cron)]


class CronPolicy(Section):
    """Eager, on a cron schedule."""

    cron: Annotated[Cron, Field(description="A cron string, e.g. '0 3 * * *'.")]


def _policy(value: Any) -> Any:
    ok = value in ("eager", "manual") or (isinstance(value, dict) and set(value) == {"cron"})
    if not ok:
        raise ValueError(f"{value!r} is not eager, manual or {{cron: '<cron>'}}")
    return value


Policy = Annotated[Literal["eager", "manual"] | CronPolicy, BeforeValidator(_policy)]


class Schedules(Section):
    """Cron strings for the two schedules; null turns one off."""

    nightly_evaluation: Cron | None = Field(default="0 3 * * *", description="When the nightly evaluation runs.")
    weekly_report: Cron | None = Field(default="0 6 * * 1", description="When the weekly report is written.")


class AutomationSpec(Section):
    """`automation:`: the sensor's default state and tick, a policy per asset group, the schedules.
    `eager` materializes what is missing once its inputs exist (never retrying a failure on its own)
    and again when an input's data version changed; `manual` leaves it to the user; `{cron: ...}` is
    eager on a schedule."""

    enabled: bool = Field(default=True, description="The automation sensor's default state; the UI can switch it.")
    tick_seconds: PositiveInt = Field(default=30, description="How often the sensors evaluate, in seconds.")
    data: Policy = Field(
        default="eager", description="Policy of raw_problems .. difficulty_scores, per source partition."
    )
    subsets: Policy = Field(default="eager", description="Policy of sft_subsets.")
    training: Policy = Field(default="eager", description="Policy of sft_checkpoints and rl_checkpoints.")
    evaluation: Policy = Field(default="eager", description="Policy of benchmark_scores.")
    report: Policy = Field(default="eager", description="Policy of ablation_report.")
    schedules: Schedules = Schedules()

    @property
    def policies(self) -> dict[str, Any]:
        """Each group's policy: eager, manual, or {cron: ...}."""
        return {g: p.model_dump() if isinstance(p, CronPolicy) else p for g in GROUPS for p in [getattr(self, g)]}

    def summary(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "tick_seconds": self.tick_seconds, "policies": self.policies,
                "schedules": self.schedules.model_dump()}  # fmt: skip


def _ready() -> dg.AutomationCondition:
    return (
        ~dg.AutomationCondition.any_deps_missing()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    )


def _inputs_changed(ignore: tuple[str, ...]) -> dg.AutomationCondition:
    # An input rewritten by the run that also writes this asset was handled by that run: without the
    # guard, a tick that sees the input's new version after the run wrote this asset too (a race the
    # stress suite's 50 simultaneous inbox drops hit once) requests it a second time, as Dagster's own
    # any_deps_updated() avoids with the same clause.
    changed = dg.AutomationCondition.any_deps_match(
        (dg.AutomationCondition.data_version_changed() & ~dg.AutomationCondition.executed_with_root_target())
        | dg.AutomationCondition.will_be_requested()
    )
    if ignore:
        changed = changed.ignore(dg.AssetSelection.assets(*[dg.AssetKey(k) for k in ignore]))
    return changed.with_label("an input's data version changed")


def _requested_not_landed() -> dg.AutomationCondition:
    """Requested by this sensor and not seen materialized since. Dagster reads an asset's materialized
    partitions before it asks which runs are in progress, so a tick during which the requested run
    writes the partition and ends sees it missing and not in progress; this keeps it from being
    requested twice."""
    return (
        dg.AutomationCondition.newly_requested()
        .since(~dg.AutomationCondition.missing())
        .with_label("requested, not yet materialized")
    )


def condition(policy: Any, ignore: tuple[str, ...] = ()) -> dg.AutomationCondition | None:
    """The condition for one group's policy. `ignore` names inputs whose changes alone should not
    trigger (they are still waited for when missing): e.g. RL waits for its SFT checkpoint, not for
    every new trace, so it does not train twice when both change."""
    if policy == "manual":
        return None
    missing = (
        dg.AutomationCondition.missing() & ~dg.AutomationCondition.execution_failed() & ~_requested_not_landed()
    ).with_label("missing, never failed, not already requested")
    pending = missing | _inputs_changed(ignore).since_last_handled()
    if isinstance(policy, dict):
        cron = policy["cron"]
        return (dg.AutomationCondition.cron_tick_passed(cron) & pending & _ready()).with_label(f"on cron {cron}")
    return (pending & _ready()).with_label("eager on data versions")


def automation_sensor(spec: AutomationSpec) -> dg.AutomationConditionSensorDefinition:
    """Evaluates every asset's condition; runs are launched directly (not as backfills), so new
    work starts on the next tick instead of waiting for the backfill daemon's loop."""
    return dg.AutomationConditionSensorDefinition(
        "redstar_automation",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING if spec.enabled else dg.DefaultSensorStatus.STOPPED,
        minimum_interval_seconds=spec.tick_seconds,
        emit_backfills=False,
        description="Materializes what the profile's automation block asks for; see each asset's condition.",
    )
