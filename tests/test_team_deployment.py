"""The `team` deployment: the instance's run, event-log and schedule storage in a real PostgreSQL
(a throwaway cluster started here), with the credentials only in the environment, driven by the
`redstar` CLI as a user would; and a server that cannot be reached fails fast, naming the setting."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.postgres_cluster import throwaway_cluster

from redstar_assets.deploy.instance import InstanceError, postgres_settings
from redstar_training.generation.serve import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TEAM_YAML = ROOT / "configs" / "deployments" / "team" / "dagster.yaml"


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(TEAM_YAML, home / "dagster.yaml")
    return home


def _redstar(args: list[str], env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "redstar"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_the_team_config_holds_no_credentials_and_a_missing_variable_is_named(monkeypatch):
    text = TEAM_YAML.read_text()
    assert "password: {env: DAGSTER_PG_PASSWORD}" in text
    import yaml

    config = yaml.safe_load(text)
    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"):
        monkeypatch.setenv(name, "5432" if name.endswith("PORT") else "x")
    monkeypatch.delenv("DAGSTER_PG_PASSWORD")
    with pytest.raises(
        InstanceError, match=r"storage\.postgres\.postgres_db\.password comes from .*DAGSTER_PG_PASSWORD"
    ):
        postgres_settings(config)
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "x")
    assert postgres_settings(config)["port_source"] == "from DAGSTER_PG_PORT"
    assert postgres_settings({"storage": {"sqlite": {"base_dir": "x"}}}) is None


def test_an_unreachable_postgres_fails_in_seconds_naming_the_address_and_its_variables(tmp_path):
    home = _home(tmp_path)
    port = free_port()  # nothing listens here
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "REDSTAR_HOME": str(tmp_path / "data"),
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": str(port),
        "DAGSTER_PG_USERNAME": "redstar",
        "DAGSTER_PG_PASSWORD": "not-a-real-one",
        "DAGSTER_PG_DB": "redstar",
    }
    started = time.monotonic()
    result = _redstar(["lineage", "benchmark_scores:untrained"], env, timeout=60)
    seconds = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert f"cannot reach PostgreSQL at 127.0.0.1:{port}" in result.stderr
    assert "from DAGSTER_PG_HOST" in result.stderr and "from DAGSTER_PG_PORT" in result.stderr
    assert "not-a-real-one" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert seconds < 30
    result = _redstar(["run", "--profile", "demo-tiny"], env, timeout=60)
    assert result.returncode == 2 and f"127.0.0.1:{port}" in result.stderr, result.stderr


@pytest.mark.slow
def test_redstar_run_keeps_its_history_in_postgres_and_lineage_reads_it_back(tmp_path):
    import psycopg2

    home = _home(tmp_path)
    with throwaway_cluster() as pg:
        env = {**os.environ, "DAGSTER_HOME": str(home), "REDSTAR_HOME": str(tmp_path / "data"), **pg.env()}
        # the data stages only: model steps on this instance run through the daemon in test_queue_deployment
        result = _redstar(["run", "--profile", "demo-tiny", "--until", "sft_subsets"], env)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

        lineage = _redstar(["lineage", "sft_subsets:cot-random-20"], env, timeout=120)
        assert lineage.returncode == 0, lineage.stderr
        for upstream in ("sft_subsets", "difficulty_scores", "verified_traces", "teacher_traces[arith-add]"):
            assert upstream in lineage.stdout, lineage.stdout

        with psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, password=pg.password, dbname=pg.db) as conn:
            cur = conn.cursor()
            cur.execute("select count(*), count(*) filter (where status = 'SUCCESS') from runs")
            runs, succeeded = cur.fetchone()
            cur.execute(
                "select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION'"
                " and asset_key like %s and partition = %s",
                ("%sft_subsets%", "cot-random-20"),
            )
            (subsets,) = cur.fetchone()
            cur.execute("select count(*) from event_logs where event like %s", (f"%{pg.password}%",))
            (leaks,) = cur.fetchone()
        assert runs > 0 and succeeded == runs
        assert subsets == 1
        assert leaks == 0
        assert not list(home.rglob("*.db"))  # no SQLite storage beside the config
