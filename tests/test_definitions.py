"""The code location must load cheaply and validly: the UI and every run import it, so it must not
pull in torch, transformers, trl or vllm, and `dagster definitions validate` must accept it."""

import os
import subprocess
import sys
from pathlib import Path

from dagster import AssetKey

ROOT = Path(__file__).resolve().parents[1]

HEAVY = ("torch", "transformers", "trl", "vllm", "deepspeed")


def test_importing_definitions_loads_no_model_libraries():
    code = (
        "import sys, redstar_assets.definitions as d; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules) or 'none')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        env={**os.environ, "REDSTAR_PROFILE": "demo"},
    )
    assert out.stdout.strip() == "none"


def test_dagster_definitions_validate(tmp_path):
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    for profile in ("demo", "demo-tiny"):
        out = subprocess.run(
            [dagster, "definitions", "validate", "-w", "workspace.yaml"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            env={**os.environ, "REDSTAR_PROFILE": profile, "DAGSTER_HOME": str(tmp_path)},
        )
        assert out.returncode == 0, out.stdout + out.stderr
        assert "Validation successful" in out.stdout + out.stderr


def test_all_ten_assets_and_their_partitions(pipeline_asset_names):
    from redstar_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    names = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert names == pipeline_asset_names
    scores = graph.get(AssetKey("benchmark_scores"))
    assert "untrained" in scores.partitions_def.get_partition_keys()
