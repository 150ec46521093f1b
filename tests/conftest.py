"""Test set-up: the in-process Dagster tests serve the `demo-tiny` profile (the demo at test scale)."""

import os
from pathlib import Path

import pytest

# The definitions read the profile when first imported, so this must run before any test imports them.
os.environ["REDSTAR_PROFILE"] = "demo-tiny"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

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
    """The ten assets of DESIGN.md, in the user's words; what the graph and the UI must show."""
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
