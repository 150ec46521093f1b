"""Test set-up: the in-process Dagster tests build the `demo-tiny` profile (the demo at test scale)
with `build_definitions`; subprocess tests pass REDSTAR_PROFILE themselves."""

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.pop("REDSTAR_PROFILE", None)

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"{SHARED_DATA} is absent: the real benchmark files are only in the team's checkout")
    return SHARED_DATA


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh data root and Dagster home for one test."""
    monkeypatch.setenv("REDSTAR_HOME", str(tmp_path / "data"))
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text((ROOT / "dagster_home" / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    return tmp_path


@pytest.fixture
def pipeline_asset_names() -> set[str]:
    """The ten assets of DESIGN.md, in the user's words, and the `lineage` table over them; what the
    graph and the UI must show."""
    return {
        "raw_problems",
        "problems",
        "teacher_traces",
        "verified_traces",
        "difficulty_scores",
        "sft_subsets",
        "sft_checkpoints",
        "rl_checkpoints",
        "benchmark_scores",
        "ablation_report",
        "lineage",
    }


@pytest.fixture
def sandbox() -> None:
    """Tests that run model-written code need bubblewrap (`make test` installs it); CI fails without it."""
    import shutil

    if shutil.which("bwrap") is None:
        message = "bubblewrap (bwrap) is not installed; `make sandbox` installs it"
        if os.environ.get("REDSTAR_REQUIRE_SANDBOX"):
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class TinyRun:
    """`demo-tiny` materialized once, in process, the way `redstar run` does it."""

    instance: object
    defs: object
    profile: object
    data: Path
    failed: object
    results: list


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> TinyRun:
    """The whole `demo-tiny` graph through `redstar run`'s own code (plan from the graph, one in-process
    run per step) into a fresh persistent instance; shared by the tests that read what it made."""
    from dagster import DagsterInstance

    from redstar_assets.cli.run.execute import execute, register_sources
    from redstar_assets.cli.run.plan import plan_steps
    from redstar_assets.config.profile import load_profile
    from redstar_assets.factory import build_definitions

    root = tmp_path_factory.mktemp("tiny-run")
    data = root / "data"
    (root / "dagster_home").mkdir()
    (root / "dagster_home" / "dagster.yaml").write_text((ROOT / "dagster_home" / "dagster.yaml").read_text())
    mp = pytest.MonkeyPatch()
    mp.setenv("REDSTAR_HOME", str(data))
    profile = load_profile("demo-tiny")
    defs = build_definitions(profile, str(data))
    instance = DagsterInstance.from_config(str(root / "dagster_home"))  # persistent, with the project's pools
    register_sources(instance, profile, data)
    results: list = []
    failed = execute(defs, instance, plan_steps(defs, instance), {}, on_done=lambda s, r, t, n: results.append(r))
    yield TinyRun(instance, defs, profile, data, failed, results)
    mp.undo()
