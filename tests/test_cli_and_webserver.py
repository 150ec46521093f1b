"""The project as a new user meets it: the `redstar` command on a user's profile, a malformed source
file quarantined without losing good rows, a terminal that shows one line per run and keeps the rest
in a log file, and the paper's profile validated without a GPU. (The whole graph through `redstar
run`'s code is `tiny_run`; through the real webserver, daemon and UI's GraphQL, test_daemon.py.)"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _env(home: Path, **extra) -> dict:
    """A fresh DAGSTER_HOME with the project's tracked dagster.yaml, and a fresh data root."""
    (home / "dagster_home").mkdir(exist_ok=True)
    (home / "dagster_home" / "dagster.yaml").write_text((ROOT / "dagster_home" / "dagster.yaml").read_text())
    env = {k: v for k, v in os.environ.items() if k != "REDSTAR_PROFILE"}
    return {**env, "DAGSTER_HOME": str(home / "dagster_home"), "REDSTAR_HOME": str(home / "data"), **extra}


def _redstar_run(profile: Path, home: Path, *args: str, **env) -> subprocess.CompletedProcess:
    """`redstar run --profile FILE` as a user would type it, with its own Dagster home and data root."""
    return subprocess.run(
        [BIN / "redstar", "run", "--profile", str(profile), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_env(home, **env),
        timeout=900,
    )


def test_dry_run_of_paper_profile_prints_the_plan():
    out = subprocess.run(
        [BIN / "redstar", "run", "--profile", "redstar-math", "--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "profile redstar-math" in out.stdout and "valid" in out.stdout
    assert "Qwen/QwQ-32B-Preview" in out.stdout
    for name in ("qwen2.5-1.5b", "qwen2.5-7b", "qwen2.5-32b"):
        assert name in out.stdout.lower()
    plan = json.loads(
        subprocess.run(
            [BIN / "redstar", "run", "--profile", "redstar-math", "--dry-run", "--json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert sorted(r["scale"] for r in plan["subsets"].values())[-1] >= 100_000
    assert plan["runs"]["sft trainings"] >= 3


def test_unknown_profile_is_a_clear_error():
    out = subprocess.run(
        [BIN / "redstar", "run", "--profile", "nope", "--dry-run"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 2 and "unknown profile 'nope'" in out.stderr


def test_redstar_run_on_a_users_profile_with_a_malformed_file_source(tmp_path):
    pool = tmp_path / "pool.jsonl"
    good = [{"q": f"Compute {a} + {b}.", "a": str(a + b)} for a, b in [(512, 77), (3, 904), (68, 68), (250, 1)]]
    lines = [json.dumps(r) for r in good[:2]] + ["{broken", json.dumps({"q": "Compute 1 + 1."})]
    pool.write_text("\n".join(lines + [json.dumps(r) for r in good[2:]]) + "\n")
    profile = tmp_path / "user.yaml"
    profile.write_text(
        "extends: demo-tiny\nname: user-tiny\n"
        "sources:\n"
        "  - {name: arith-add, kind: arithmetic, count: 60, digits: [1, 3], ops: ['+'], seed: 1}\n"
        f"  - {{name: my-pool, kind: file, path: '{pool}', mapping: {{problem: q, answer: a}}}}\n"
        "curation: {decontaminate: {benchmarks: [mini]}}\n"
    )
    # A user's own benchmark, registered by a YAML entry only; one of its items is in the pool.
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "mini.jsonl").write_text(
        json.dumps({"n": 7, "text": "Compute 68 + 68.", "sol": 136}) + "\n"
    )
    registry = tmp_path / "registry.yaml"
    registry.write_text("benchmarks:\n  mini: {path: mini.jsonl, mapping: {id: n, problem: text, answer: sol}}\n")
    out = _redstar_run(
        profile,
        tmp_path,
        "--until",
        "sft_subsets",
        REDSTAR_BENCHMARK_REGISTRY=str(registry),
        REDSTAR_BENCHMARKS=str(tmp_path / "benchmarks"),
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "raw_problems, problems, teacher_traces, verified_traces, difficulty_scores [my-pool]: ok" in out.stdout
    assert "sft_subsets [cot-random-40]: ok" in out.stdout and "sft_checkpoints" not in out.stdout
    # one line per run on the terminal; Dagster's own log lines and warnings go to the log file it names
    runs = [line for line in out.stdout.splitlines() if re.match(r"\[\s*[\d.]+s\] ", line)]
    assert len(runs) == 2 + 3 and "STEP_SUCCESS" not in out.stdout + out.stderr
    log = Path(re.search(r"full log: (\S+)", out.stdout)[1])
    assert "STEP_SUCCESS" in log.read_text() and "my-pool" in log.read_text()
    import polars as pl

    data = tmp_path / "data"
    quarantine = pl.read_parquet(data / "raw_problems" / "my-pool" / "quarantine.parquet")
    assert quarantine.select("line", "field").rows() == [(3, "<record>"), (4, "a")]
    assert pl.read_parquet(data / "problems" / "my-pool" / "data.parquet").height == 3
    removed = pl.read_parquet(data / "problems" / "my-pool" / "removed.parquet")
    assert removed.select("reason", "kept_or_matched", "problem").rows() == [
        ("contaminated", "mini:7", "Compute 68 + 68.")
    ]
    # the persistent instance under DAGSTER_HOME saw the runs, so the UI and lineage queries can
    assert any((tmp_path / "dagster_home").rglob("*.db"))
    lineage = subprocess.run(
        [BIN / "redstar", "lineage", "sft_subsets:cot-random-40"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        check=True,
    )
    subset_hash = json.loads((data / "sft_subsets" / "cot-random-40" / "manifest.json").read_text())["subset_hash"]
    assert f"data_version={subset_hash}" in lineage.stdout and "teacher_traces[my-pool]" in lineage.stdout
    reading = f"redstar: reading data root {tmp_path / 'data'}, instance {tmp_path / 'dagster_home'}\n"
    assert lineage.stderr.startswith(reading)  # a read command names what it reads
    unknown = _redstar_run(profile, tmp_path, "--until", "sft_subset")
    assert unknown.returncode == 2 and "unknown asset 'sft_subset'" in unknown.stderr


def test_recipe_larger_than_the_pool_fails_with_recipe_and_counts(tmp_path):
    profile = tmp_path / "greedy.yaml"
    profile.write_text(
        "extends: demo-tiny\nname: greedy\nreplace: [subset_recipes, experiments]\n"
        "subset_recipes:\n  too-many: {scale: 100000, strategy: random, target_format: long_cot}\n"
        "experiments:\n  - {name: big, base_model: tiny-qwen2, subset: too-many, training: sft-tiny, stages: [sft]}\n"
    )
    out = _redstar_run(profile, tmp_path)
    assert out.returncode == 1
    assert "sft_subsets [too-many]: FAILED" in out.stdout
    assert re.search(r"subset recipe 'too-many' asks for 100000 traces but only \d+ are eligible", out.stderr)


def test_dry_run_of_the_code_math_profile_validates_its_mix_and_benchmarks():
    out = subprocess.run(
        [BIN / "redstar", "run", "--profile", "redstar-code-math", "--dry-run", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    mix = plan["subsets"]["mix-21k"]
    assert mix["scale"] == 21300 and mix["mix"] == {"math": 0.216, "code": 0.784}
    assert [s["name"] for s in plan["sources"]] == ["taco", "apps", "numinamath-cot", "math-train"]
    text = subprocess.run(
        [BIN / "redstar", "run", "--profile", "redstar-code-math", "--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    for bench in ("livecodebench", "humaneval", "math-hard", "aime2024", "math500"):
        assert bench in text


def test_model_steps_side_by_side_make_what_one_at_a_time_makes(tiny_run, tmp_path):
    """`launch.parallel: 2` runs a stage's model steps two at a time, each in a process of its own
    under two slots of the `gpu` pool, and makes the same checkpoints as the one-at-a-time run."""
    from dagster import AssetKey, DagsterInstance, RunsFilter
    from support.versions import data_versions

    profile = tmp_path / "side.yaml"
    profile.write_text("extends: demo-tiny\nname: demo-tiny\nlaunch: {parallel: 2}\n")
    out = _redstar_run(profile, tmp_path, "--until", "sft_checkpoints")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "gpu pool limit 1 -> 2 on this instance" in out.stdout
    instance = DagsterInstance.from_config(str(tmp_path / "dagster_home"))
    assert instance.event_log_storage.get_concurrency_info("gpu").slot_count == 2
    sft = [
        r
        for r in instance.get_run_records(RunsFilter(tags={"redstar/cli": "run"}))
        if AssetKey("sft_checkpoints") in (r.dagster_run.asset_selection or ())
    ]
    spans = sorted((r.start_time, r.end_time) for r in sft)
    assert len(spans) == 4 and spans[1][0] < spans[0][1], spans  # the second started before the first ended
    # each in its own child process (its worker tag names it), the CLI's own runs in the CLI's process
    assert len({r.dagster_run.tags["redstar/worker"] for r in sft}) == 4  # cot-hard-20 has two seeds
    mine, reference = data_versions(instance), data_versions(tiny_run.instance)
    assert ("sft_checkpoints", "cot-hard-20@s0") in mine
    assert mine == {k: reference[k] for k in mine}
