"""When things run on their own: the profile's `automation:` block as Dagster automation conditions,
evaluated by one automation condition sensor (the UI shows why each asset was or was not requested).

Declarative automation is the part of Dagster's API that still moves between releases, so every
condition is built here and nowhere else.

    automation:
      enabled: true          # the automation sensor's default state; the UI can switch it
      tick_seconds: 30       # how often the sensors evaluate
      data: eager            # raw_problems .. difficulty_scores, per source partition
      subsets: eager         # sft_subsets
      training: eager        # sft_checkpoints, rl_checkpoints: eager | manual | {cron: "0 2 * * *"}
      evaluation: eager      # benchmark_scores
      report: eager          # ablation_report
      schedules: {nightly_evaluation: "0 3 * * *", weekly_report: "0 6 * * 1"}   # null turns one off

`eager` here means: materialize what is missing once its inputs exist (and never retry a failed
one on its own), and re-materialize when an input's *data version* changed, not on any new
materialization. A subset whose selected traces did not change keeps its data version, so nothing
below it runs again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dagster as dg

GROUPS = ("data", "subsets", "training", "evaluation", "report")
POLICIES = ("eager", "manual")
DEFAULT_SCHEDULES = {"nightly_evaluation": "0 3 * * *", "weekly_report": "0 6 * * 1"}


@dataclass(frozen=True)
class AutomationSpec:
    enabled: bool = True
    tick_seconds: int = 30
    policies: dict[str, Any] = field(default_factory=lambda: dict.fromkeys(GROUPS, "eager"))
    schedules: dict[str, str | None] = field(default_factory=lambda: dict(DEFAULT_SCHEDULES))


def _valid_cron(cron: Any) -> bool:
    try:
        dg.AutomationCondition.cron_tick_passed(cron)
        return isinstance(cron, str)
    except Exception:  # dagster raises its own check error for a bad cron string
        return False


def automation_spec(block: dict[str, Any], where: str = "profile") -> AutomationSpec:
    """The block validated: policies are eager, manual or {cron: ...}; schedules are cron strings or null."""
    from redstar_assets.config.errors import ProfileError, check_keys

    check_keys(where, "automation", block, ("enabled", "tick_seconds", "schedules", *GROUPS))
    policies = {g: block.get(g, "eager") for g in GROUPS}
    for group, policy in policies.items():
        cron = policy.get("cron") if isinstance(policy, dict) else None
        if policy not in POLICIES and not (isinstance(policy, dict) and set(policy) == {"cron"} and _valid_cron(cron)):
            raise ProfileError(f"{where}: automation.{group}: {policy!r} is not eager, manual or {{cron: '<cron>'}}")
    schedules = {**DEFAULT_SCHEDULES, **(block.get("schedules") or {})}
    check_keys(where, "automation.schedules", schedules, DEFAULT_SCHEDULES)
    for name, cron in schedules.items():
        if cron is not None and not _valid_cron(cron):
            raise ProfileError(f"{where}: automation.schedules.{name}: {cron!r} is not a cron string")
    enabled, tick = block.get("enabled", True), block.get("tick_seconds", 30)
    if not isinstance(enabled, bool) or not isinstance(tick, int) or tick < 1:
        raise ProfileError(f"{where}: automation: enabled must be true/false and tick_seconds a positive integer")
    return AutomationSpec(enabled, tick, policies, schedules)


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


def condition(policy: Any, ignore: tuple[str, ...] = ()) -> dg.AutomationCondition | None:
    """The condition for one group's policy. `ignore` names inputs whose changes alone should not
    trigger (they are still waited for when missing): e.g. RL waits for its SFT checkpoint, not for
    every new trace, so it does not train twice when both change."""
    if policy == "manual":
        return None
    missing = (dg.AutomationCondition.missing() & ~dg.AutomationCondition.execution_failed()).with_label(
        "missing and never failed"
    )
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
