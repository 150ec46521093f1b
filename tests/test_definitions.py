"""The code location must load cheaply and validly: the UI and every run import it, so it must not
pull in torch, transformers, trl or vllm, and `dagster definitions validate` must accept it. One
factory builds it per profile, so two profiles live side by side in one process."""

import os
import subprocess
import sys
from pathlib import Path

from dagster import AssetKey, DagsterInstance

from redstar_assets.cli.run.plan import plan_steps
from redstar_assets.config.profile import load_profile
from redstar_assets.factory import build_definitions

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
    for profile in ("demo", "redstar-math"):
        out = subprocess.run(
            [dagster, "definitions", "validate", "-w", "workspace.yaml"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            env={**os.environ, "REDSTAR_PROFILE": profile, "DAGSTER_HOME": str(tmp_path)},
        )
        assert out.returncode == 0, out.stdout + out.stderr
        assert "Validation successful" in out.stdout + out.stderr


def test_two_profiles_build_side_by_side_in_one_process(pipeline_asset_names, tmp_path):
    demo = build_definitions(load_profile("demo"), str(tmp_path))
    tiny = build_definitions(load_profile("demo-tiny"), str(tmp_path))
    for defs in (demo, tiny):
        graph = defs.resolve_asset_graph()
        assert {k.to_user_string() for k in graph.get_all_asset_keys()} == pipeline_asset_names
    recipes = {
        name: set(d.resolve_asset_graph().get(AssetKey("sft_subsets")).partitions_def.get_partition_keys())
        for name, d in (("demo", demo), ("demo-tiny", tiny))
    }
    assert "cot-hard-750" in recipes["demo"] and "cot-hard-750" not in recipes["demo-tiny"]
    assert "cot-random-40" in recipes["demo-tiny"]
    assert {s.name for s in tiny.sensors} == {"source_partitions_sensor", "redstar_automation"}
    assert {s.name for s in tiny.schedules} == {"nightly_evaluation", "weekly_ablation_report"}


def test_loading_the_definitions_writes_nothing(tmp_path):
    """The UI imports the code location often; registering sources is the sensor's job, not the import's."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    code = "import redstar_assets.definitions"
    env = {**os.environ, "REDSTAR_PROFILE": "demo-tiny", "DAGSTER_HOME": str(home), "REDSTAR_HOME": str(tmp_path / "d")}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    assert list(home.iterdir()) == [] and not (tmp_path / "d").exists()


def test_run_plan_follows_the_graph_and_its_partitions(tmp_path):
    """`redstar run` keeps no list of stages: one run per partition, same-partitioned chains in one run,
    parents before children."""
    defs = build_definitions(load_profile("demo-tiny"), str(tmp_path))
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("sources", ["arith-add", "inbox-x"])
    steps = plan_steps(defs, instance)
    data = ("raw_problems", "problems", "teacher_traces", "verified_traces", "difficulty_scores")
    assert [tuple(k.to_user_string() for k in s.keys) for s in steps[:2]] == [data, data]
    assert {s.partition for s in steps[:2]} == {"arith-add", "inbox-x"}
    order = [s.keys[0].to_user_string() for s in steps]
    assert order.index("sft_subsets") > 1 and set(order[-2:]) == {"ablation_report", "lineage"}
    assert order.index("benchmark_scores") > max(i for i, a in enumerate(order) if a == "rl_checkpoints")
    sft = [s.partition for s in steps if s.keys[0].to_user_string() == "sft_checkpoints"]
    assert sorted(sft) == ["cot-hard-20@s0", "cot-hard-20@s1", "cot-random-20", "cot-random-40"]  # one per seed
    until = plan_steps(defs, instance, until="sft_subsets")
    assert {s.keys[0].to_user_string() for s in until} == {"raw_problems", "sft_subsets"}
