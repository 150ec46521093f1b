"""The whole graph in pipeline order, one Dagster run per asset partition group.

Used by `redstar run` and the tests: each step is a real run in the given instance, so the UI and
lineage queries see everything it made.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from dagster import AssetsDefinition, DagsterInstance, ExecuteInProcessResult, materialize

from redstar_assets.profile import Profile


@dataclass(frozen=True)
class Step:
    assets: list[AssetsDefinition]
    partition: str | None

    @property
    def label(self) -> str:
        names = ", ".join(a.key.to_user_string() for a in self.assets)
        return f"{names} [{self.partition or '-'}]"


def pipeline_steps(profile: Profile) -> Iterator[Step]:
    from redstar_assets import definitions as d

    for source in profile.sources:
        yield Step(d.SOURCE_ASSETS, source["name"])
    for recipe in sorted(profile.subset_recipes):
        yield Step([d.sft_subsets], recipe)
    for name in profile.experiments_with("sft"):
        yield Step([d.sft_checkpoints], name)
    for name in profile.experiments_with("rl"):
        yield Step([d.rl_checkpoints], name)
    for exp in profile.experiments:
        yield Step([d.benchmark_scores], exp.name)
    yield Step([d.ablation_report], None)


def run_pipeline(
    instance: DagsterInstance,
    profile: Profile,
    resources: dict[str, Any],
    on_step: Callable[[Step, ExecuteInProcessResult, float], None] = lambda *_: None,
    tags: dict[str, str] | None = None,
    log_level: str = "INFO",
) -> ExecuteInProcessResult | None:
    """Materializes every step; stops at the first failed run and returns it (None when all succeed)."""
    from redstar_assets import definitions as d

    instance.add_dynamic_partitions("sources", [s["name"] for s in profile.sources])
    for step in pipeline_steps(profile):
        started = time.time()
        result = materialize(
            d.ALL_ASSETS,
            selection=step.assets,
            partition_key=step.partition,
            instance=instance,
            resources=resources,
            tags={"redstar/profile": profile.name, **(tags or {})},
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
        on_step(step, result, time.time() - started)
        if not result.success:
            return result
    return None
