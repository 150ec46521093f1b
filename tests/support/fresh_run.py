"""A profile run through `redstar run`'s own code (plan, execute) on a fresh data root and instance,
as the end-to-end profile tests need it."""

from __future__ import annotations

from pathlib import Path


def execute_profile(name: str, tmp_path: Path, monkeypatch, until: str | None = None):
    """Runs profile `name` (a shipped name or a path) up to `until` (every asset when None) into
    tmp_path/data with a new instance at tmp_path/dagster_home; returns (instance, data root, the
    failed run's result or None)."""
    from dagster import DagsterInstance

    from redstar_assets.cli.run.execute import execute, register_sources
    from redstar_assets.cli.run.plan import plan_steps
    from redstar_assets.config.profile import load_profile
    from redstar_assets.factory import build_definitions
    from support.dagster_dev import ROOT

    data = tmp_path / "data"
    (tmp_path / "dagster_home").mkdir()
    (tmp_path / "dagster_home" / "dagster.yaml").write_text((ROOT / "dagster_home" / "dagster.yaml").read_text())
    monkeypatch.setenv("REDSTAR_HOME", str(data))
    profile = load_profile(name)
    defs = build_definitions(profile, str(data))
    instance = DagsterInstance.from_config(str(tmp_path / "dagster_home"))
    register_sources(instance, profile, data)
    return instance, data, execute(defs, instance, plan_steps(defs, instance, until), {})


def run_profile(name: str, tmp_path: Path, monkeypatch, until: str | None = None):
    """Materializes profile `name` (up to `until`) and returns (instance, data root); fails with the
    failed steps' messages."""
    instance, data, failed = execute_profile(name, tmp_path, monkeypatch, until)
    assert failed is None, [e.message for e in failed.all_events if e.is_failure]
    return instance, data
