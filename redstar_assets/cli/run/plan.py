"""The runs `redstar run` makes, taken from the asset graph, the way Dagster's own backfill groups
them: assets that share a partitions definition and depend on each other one-to-one go in one run
per partition key; every run of a group finishes before the next group starts. Nothing here lists
the stages by name, so a new asset or a changed dependency changes the plan by itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg


class PlanError(ValueError):
    """A plan that cannot be made, e.g. `--until` naming no asset."""


@dataclass(frozen=True)
class Step:
    keys: tuple[dg.AssetKey, ...]
    partition: str | None
    group: int | None = None  # steps of one group do not depend on each other (None: a group of its own)

    @property
    def label(self) -> str:
        names = ", ".join(k.to_user_string() for k in self.keys)
        return f"{names} [{self.partition or '-'}]"


def _deps(ad: dg.AssetsDefinition) -> dict[dg.AssetKey, object]:
    """Parent asset key -> partition mapping (None for the default one)."""
    return {dep.asset_key: dep.partition_mapping for spec in ad.specs for dep in spec.deps}


def _toposorted(assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    by_key = {ad.key: ad for ad in assets}
    done: list[dg.AssetsDefinition] = []
    seen: set[dg.AssetKey] = set()

    def visit(ad: dg.AssetsDefinition) -> None:
        if ad.key in seen:
            return
        seen.add(ad.key)
        for parent in _deps(ad):
            if parent in by_key:
                visit(by_key[parent])
        done.append(ad)

    for ad in assets:
        visit(ad)
    return done


def _ancestors(assets: list[dg.AssetsDefinition], target: dg.AssetKey) -> set[dg.AssetKey]:
    by_key = {ad.key: ad for ad in assets}
    wanted, stack = set(), [target]
    while stack:
        key = stack.pop()
        if key in wanted or key not in by_key:
            continue
        wanted.add(key)
        stack.extend(_deps(by_key[key]))
    return wanted


def asset_groups(defs: dg.Definitions, until: str | None = None) -> list[list[dg.AssetsDefinition]]:
    """Assets in dependency order, joined where one run can hold them (same partitions, identity deps)."""
    assets = [ad for ad in defs.assets or [] if isinstance(ad, dg.AssetsDefinition)]
    if until is not None:
        keys = {ad.key.to_user_string() for ad in assets}
        if until not in keys:
            raise PlanError(f"unknown asset {until!r}; assets: {', '.join(sorted(keys))}")
        wanted = _ancestors(assets, dg.AssetKey.from_user_string(until))
        assets = [ad for ad in assets if ad.key in wanted]
    groups: list[list[dg.AssetsDefinition]] = []
    group_of: dict[dg.AssetKey, int] = {}
    for ad in _toposorted(assets):
        parents = {p: m for p, m in _deps(ad).items() if p in group_of}
        target = None
        if groups and parents:
            last = len(groups) - 1
            head = groups[last][0]
            joinable = all(
                group_of[p] < last
                or (
                    head.partitions_def == ad.partitions_def
                    and (m is None or isinstance(m, dg.IdentityPartitionMapping))
                )
                for p, m in parents.items()
            )
            if joinable and any(group_of[p] == last for p in parents):
                target = last
        if target is None:
            groups.append([ad])
            target = len(groups) - 1
        else:
            groups[target].append(ad)
        group_of[ad.key] = target
    return groups


def plan_steps(defs: dg.Definitions, instance: dg.DagsterInstance, until: str | None = None) -> list[Step]:
    """One step per (group, partition key), in dependency order; a step's group is its index."""
    steps = []
    for index, group in enumerate(asset_groups(defs, until)):
        partitions = group[0].partitions_def
        keys = partitions.get_partition_keys(dynamic_partitions_store=instance) if partitions else [None]
        steps += [Step(tuple(ad.key for ad in group), key, index) for key in keys]
    return steps


def batches(steps: list[Step]) -> list[list[Step]]:
    """Consecutive steps of one group, which may run side by side; the next batch needs them done."""
    out: list[list[Step]] = []
    for step in steps:
        if out and step.group is not None and out[-1][-1].group == step.group:
            out[-1].append(step)
        else:
            out.append([step])
    return out
