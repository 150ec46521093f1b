"""A code location with the graph of REDSTAR_PROFILE (same assets, partitions, dependencies and pools)
whose every asset does nothing: what a backfill of it costs is Dagster's own floor (the backfill
daemon's 30 s loop, the run queue, a run worker's start per run), measured by
`benchmarks/orchestration_overhead.py --floor`.

    dagster dev -f benchmarks/floor_location.py
"""

from dagster import AssetsDefinition, Definitions, MaterializeResult, asset

from redstar_assets.config.profile import profile_from_env
from redstar_assets.factory import build_definitions


def _no_op(real: AssetsDefinition) -> AssetsDefinition:
    spec = next(iter(real.specs))

    @asset(key=real.key, partitions_def=real.partitions_def, deps=spec.deps, pool=real.op.pool)
    def nothing() -> MaterializeResult:
        return MaterializeResult()

    return nothing


def _floor() -> Definitions:
    real = build_definitions(profile_from_env())  # kept out of module scope: one Definitions per location
    return Definitions(
        assets=[_no_op(a) for a in real.assets],
        jobs=real.jobs,
        sensors=real.sensors,
        resources=real.resources,
        executor=real.executor,
    )


defs = _floor()
