"""A partition that automation requested is not requested again when its run writes it while a tick is
being evaluated: Dagster reads the asset's record (materialized partitions) before it asks which runs
are still in progress, so such a tick sees the partition missing and no longer in progress. The load
attack (50 inbox drops at once under `dagster dev`) hit this and wrote a data partition twice."""

from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    Definitions,
    DynamicPartitionsDefinition,
    asset,
    evaluate_automation_conditions,
)

from redstar_assets.config.automation import condition

drops = DynamicPartitionsDefinition(name="drops")


@asset(partitions_def=drops, automation_condition=condition("eager"))
def raw():
    return None


def test_a_partition_written_during_a_tick_is_not_requested_again(monkeypatch):
    defs = Definitions(assets=[raw])
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("drops", ["drop-1"])
    tick = evaluate_automation_conditions(defs=defs, instance=instance)
    assert tick.get_requested_partitions(AssetKey("raw")) == {"drop-1"}

    # the requested run is created (and plans its materialization) as the daemon's would be
    job = defs.resolve_implicit_global_asset_job_def()
    instance.create_run_for_job(job, tags={"dagster/partition": "drop-1"}, asset_selection={AssetKey("raw")})
    tick = evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert tick.total_requested == 0  # in progress

    # the run writes the partition after the tick read the asset's record, as it looks for runs in flight
    storage = instance.event_log_storage
    in_flight = storage.get_latest_asset_partition_materialization_attempts_without_materializations

    def written_meanwhile(asset_key, after_storage_id=None):
        if not instance.get_latest_materialization_event(asset_key):
            instance.report_runless_asset_event(AssetMaterialization(asset_key, partition="drop-1"))
        return in_flight(asset_key, after_storage_id=after_storage_id)

    monkeypatch.setattr(
        storage, "get_latest_asset_partition_materialization_attempts_without_materializations", written_meanwhile
    )
    tick = evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert tick.total_requested == 0
    monkeypatch.undo()

    for _ in range(2):  # and later ticks see it materialized
        tick = evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert tick.total_requested == 0
    instance.add_dynamic_partitions("drops", ["drop-2"])  # a new drop is still requested
    tick = evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert tick.get_requested_partitions(AssetKey("raw")) == {"drop-2"}
