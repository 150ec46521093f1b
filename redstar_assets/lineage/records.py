"""Reading materializations back from the Dagster instance (public APIs only): the newest of one
partition, or every one of a set of assets indexed for lookup by the data version it produced; and
the metadata values and tags a record carries. Lineage walks, the lineage table, the ablation
report and the downstream query all read the instance through here."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import dagster as dg

DATA_VERSION_TAG = "dagster/data_version"
CODE_VERSION_TAG = "dagster/code_version"


def latest_materialization(instance: dg.DagsterInstance, asset: str, partition: str | None):
    """The newest materialization event of one asset partition, through the public instance API."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition] if partition else None),
        limit=1,
    )
    return records.records[0] if records.records else None


def metadata_value(entry) -> Any:
    return getattr(entry, "value", entry) if entry is not None else None


class History:
    """Every materialization of the chain's assets, fetched once (newest first) and indexed by
    (asset, partition), so each score's upstream is found by the data version it read."""

    def __init__(self, instance: dg.DagsterInstance, assets: tuple[str, ...], page: int = 1000):
        self.by_key: dict[tuple[str, str | None], list] = defaultdict(list)
        for asset in assets:
            cursor = None
            while True:
                result = instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset)), limit=page, cursor=cursor
                )
                for record in result.records:
                    self.by_key[(asset, record.partition_key)].append(record)
                if not result.has_more:
                    break
                cursor = result.cursor

    def records(self, asset: str) -> list:
        return [r for (a, _), rs in sorted(self.by_key.items(), key=lambda kv: str(kv[0])) if a == asset for r in rs]

    def latest(self, asset: str, partition: str | None):
        found = self.by_key.get((asset, partition))
        return found[0] if found else None

    def with_version(self, asset: str, partition: str | None, version: str | None):
        """The newest materialization of `asset[partition]` that produced `version` (the latest when
        no version is recorded, None when that version was never seen)."""
        if version is None:
            return self.latest(asset, partition)
        for record in self.by_key.get((asset, partition), []):
            if tags(record).get(DATA_VERSION_TAG) == version:
                return record
        return None


def tags(record) -> dict:
    return record.asset_materialization.tags or {}


def meta(record, key: str, default=None):
    if record is None:
        return default
    found = metadata_value(record.asset_materialization.metadata.get(key))
    return default if found is None else found
