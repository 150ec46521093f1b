"""What two runs of the same graph are compared by: the data versions they materialized."""

from dagster import AssetRecordsFilter


def data_versions(instance) -> dict[tuple[str, str | None], str]:
    """The latest data version of every asset partition the instance has materialized."""
    out = {}
    for key in instance.get_asset_keys():
        for record in instance.fetch_materializations(AssetRecordsFilter(asset_key=key), limit=1000).records:
            out.setdefault(
                (key.to_user_string(), record.partition_key),
                record.asset_materialization.tags.get("dagster/data_version"),
            )
    return out
