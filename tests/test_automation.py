"""When things run on their own. The project's `eager` condition, evaluated by Dagster's own automation
engine: downstream work follows a changed *data version*, not any new materialization, so a subset
whose selection did not change triggers no training. The nightly schedule re-scores only what
changed and says why when nothing did."""

from dagster import (
    AssetKey,
    DagsterInstance,
    DataVersion,
    Definitions,
    MaterializeResult,
    SkipReason,
    asset,
    build_schedule_context,
    evaluate_automation_conditions,
    materialize,
)

from redstar_assets.config.automation import condition
from redstar_assets.config.profile import load_profile
from redstar_assets.factory import build_definitions


def _toy():
    content = {"version": "a"}

    @asset
    def subset():
        return MaterializeResult(data_version=DataVersion(content["version"]))

    @asset(deps=[subset], automation_condition=condition("eager"))
    def checkpoint():
        return MaterializeResult(data_version=DataVersion("trained-on-" + content["version"]))

    return content, subset, checkpoint


def test_eager_follows_data_versions_not_materializations():
    content, subset, checkpoint = _toy()
    defs = Definitions(assets=[subset, checkpoint])
    instance = DagsterInstance.ephemeral()
    assert materialize([subset, checkpoint], instance=instance).success
    tick = evaluate_automation_conditions(defs=defs, instance=instance)  # the baseline
    assert tick.total_requested == 0

    assert materialize([subset], instance=instance).success  # re-made, same selection, same data version
    tick = evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert tick.total_requested == 0

    content["version"] = "b"  # the selection changed
    assert materialize([subset], instance=instance).success
    tick = evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert tick.get_requested_partitions(AssetKey("checkpoint")) == {None}


def test_missing_work_is_requested_once_its_inputs_exist_and_a_failure_is_not_retried():
    content, subset, checkpoint = _toy()

    @asset(deps=[checkpoint], automation_condition=condition("eager"))
    def scores():
        raise RuntimeError("the evaluation broke")

    defs = Definitions(assets=[subset, checkpoint, scores])
    instance = DagsterInstance.ephemeral()
    tick = evaluate_automation_conditions(defs=defs, instance=instance)
    assert tick.total_requested == 0  # the checkpoint waits for its missing subset
    assert materialize([subset], instance=instance).success
    tick = evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert tick.get_requested_partitions(AssetKey("checkpoint")) == {None}
    assert materialize(
        [subset, checkpoint, scores], selection=[checkpoint, scores], instance=instance, raise_on_error=False
    )
    for _ in range(2):
        tick = evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert tick.total_requested == 0  # scores failed: a person looks before it runs again


def test_manual_and_cron_policies():
    assert condition("manual") is None
    assert "on cron 0 3 * * *" in condition({"cron": "0 3 * * *"}).get_label()


def _nightly(profile, home):
    defs = build_definitions(profile, str(home))
    return next(s for s in defs.schedules if s.name == "nightly_evaluation")


def test_nightly_evaluation_skips_when_nothing_changed_and_rescores_what_did(tiny_run, tmp_path, monkeypatch):
    context = build_schedule_context(instance=tiny_run.instance)
    result = _nightly(tiny_run.profile, tiny_run.data)(context)
    assert isinstance(result, SkipReason) and "no checkpoint, benchmark file" in result.skip_message

    changed = tmp_path / "more-samples.yaml"  # new sampling for evaluation: every experiment's scores are stale
    benchmarks = "[{name: arith-heldout, count: 12, sampling: {n: 3}}, {name: arith-4digit, count: 6}]"
    changed.write_text(f"extends: demo-tiny\nname: demo-tiny\nevaluation: {{benchmarks: {benchmarks}}}\n")
    requests = _nightly(load_profile(str(changed)), tiny_run.data)(context)
    assert sorted(r.partition_key for r in requests) == sorted(e.name for e in tiny_run.profile.experiments)

    monkeypatch.setattr("redstar_assets.evaluation.fingerprint.VERIFIER_VERSION", "verify-v999")
    requests = _nightly(tiny_run.profile, tiny_run.data)(context)
    assert len(requests) == len(tiny_run.profile.experiments)


def test_a_benchmark_files_bytes_enter_its_fingerprint(tmp_path, monkeypatch):
    from redstar_assets.config.evaluation_suite import eval_benchmarks
    from redstar_assets.evaluation.heldout import benchmark_fingerprint

    path = tmp_path / "mine.jsonl"
    path.write_text('{"problem": "Compute 1 + 1.", "answer": "2"}\n')
    (tmp_path / "registry.yaml").write_text("benchmarks:\n  mine: {path: mine.jsonl}\n")
    monkeypatch.setenv("REDSTAR_BENCHMARK_REGISTRY", str(tmp_path / "registry.yaml"))
    monkeypatch.setenv("REDSTAR_BENCHMARKS", str(tmp_path))
    (spec,) = eval_benchmarks(["mine"], "test")
    before = benchmark_fingerprint(spec)
    assert benchmark_fingerprint(spec) == before
    (fewer,) = eval_benchmarks([{"name": "mine", "count": 1}], "test")
    assert benchmark_fingerprint(fewer) != before  # an override is part of what is evaluated
    path.write_text('{"problem": "Compute 1 + 1.", "answer": "3"}\n')
    assert benchmark_fingerprint(spec) != before
