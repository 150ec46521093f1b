"""The `queue` deployment: the instance in a real PostgreSQL, every step a Celery task on a real Redis,
served by real `redstar worker gpu` and `redstar worker cpu` processes, the runs launched by the
daemon of a real `dagster dev`. The demo-tiny backfill (through the trainings in `make test`, the whole
graph in `make test-scale`) gives the same data versions as `redstar run`;
every model step ran on the gpu worker; a gpu worker SIGKILLed mid-training and restarted at once under
its name leaves a failed step (not a hang) and no trainer behind, and the daemon's re-execution of that
run from failure (the instance's run_retries) lets the backfill finish the graph."""

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from support.dagster_dev import BIN, ROOT, dagster_dev, dev_env
from support.postgres_cluster import throwaway_cluster
from support.redis_server import throwaway_redis
from support.versions import data_versions

from redstar_assets.cli.run.plan import asset_groups
from redstar_assets.config.errors import ProfileError
from redstar_assets.config.profile import load_profile
from redstar_assets.deploy.celery_queue import BROKER_ENV, QUEUE_TAG
from redstar_assets.factory import build_definitions
from redstar_training.generation.serve import free_port

TEAM_YAML = ROOT / "configs" / "deployments" / "team" / "dagster.yaml"
DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
MODEL_ASSETS = {"sft_checkpoints", "rl_checkpoints", "benchmark_scores"}
QUEUE_PROFILE = (
    "extends: demo-tiny\nname: demo-tiny\nautomation: {enabled: false, tick_seconds: 5}\n"
    "launch: {executor: celery, celery: {lost_after_s: 10}}\n"
)


def _profile(tmp_path: Path, text: str = QUEUE_PROFILE) -> Path:
    path = tmp_path / "demo-tiny-queue.yaml"
    path.write_text(text)
    return path


def _redstar(args: list[str], env: dict, timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "redstar"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_model_steps_go_to_the_gpu_queue_and_the_rest_to_the_cpu_queue(tmp_path):
    profile = load_profile(str(_profile(tmp_path)))
    defs = build_definitions(profile, str(tmp_path / "data"))
    job = defs.resolve_implicit_global_asset_job_def()
    assert job.executor_def.name == "celery"
    queues = {node.name: node.tags.get(QUEUE_TAG) for node in job.graph.node_defs}
    assert {name for name, queue in queues.items() if queue == "gpu"} == MODEL_ASSETS
    assert {name for name, queue in queues.items() if queue is None} == {
        "raw_problems", "problems", "teacher_traces", "verified_traces", "difficulty_scores", "sft_subsets",
        "ablation_report", "lineage",
    }  # fmt: skip
    bad = _profile(tmp_path, QUEUE_PROFILE.replace("lost_after_s: 10", "lost_after: 10"))
    with pytest.raises(ProfileError, match=r"launch\.celery.*lost_after"):
        load_profile(str(bad))


def test_a_worker_without_a_broker_or_with_one_down_fails_in_seconds_naming_it(tmp_path):
    profile = _profile(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != BROKER_ENV}
    result = _redstar(["worker", "gpu", "--profile", str(profile)], env)
    assert result.returncode == 2 and f"environment variable {BROKER_ENV}" in result.stderr, result.stderr
    port = free_port()  # nothing listens here
    started = time.monotonic()
    env[BROKER_ENV] = f"redis://:s3cret@127.0.0.1:{port}/0"
    result = _redstar(["worker", "gpu", "--profile", str(profile)], env)
    assert result.returncode == 2, result.stderr
    assert f"cannot reach the Celery broker at 127.0.0.1:{port} (from {BROKER_ENV})" in result.stderr
    assert "s3cret" not in result.stderr and "Traceback" not in result.stderr
    assert time.monotonic() - started < 30
    result = _redstar(["worker", "gpu-2", "--profile", str(profile)], env)
    assert result.returncode == 2 and "not one of launch.celery.queues" in result.stderr


class Worker:
    """`redstar worker QUEUE` as a user starts it, in its own process group (the whole worker)."""

    def __init__(self, queue: str, env: dict, log: Path, concurrency: int = 1):
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [str(BIN / "redstar"), "worker", queue, "--concurrency", str(concurrency)],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while "ready." not in self.log.read_text(errors="replace"):
            assert self.proc.poll() is None and time.monotonic() < deadline, self.log.read_text()[-3000:]
            time.sleep(0.5)

    def processes(self) -> list[psutil.Process]:
        root = psutil.Process(self.proc.pid)
        return [root, *root.children(recursive=True)]

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def _trainers(worker: Worker) -> list[psutil.Process]:
    out = []
    for p in worker.processes():
        try:
            if "redstar_training.trainers.sft" in " ".join(p.cmdline()):
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _celery_workers(instance, run_ids: list[str]) -> dict[str, set[str]]:
    """Asset step -> the Celery workers that executed it, from the runs' engine events."""
    from dagster import DagsterEventType

    out: dict[str, set[str]] = {}
    for run_id in run_ids:
        for record in instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT).records:
            entry = record.event_log_entry
            meta = entry.dagster_event.engine_event_data.metadata
            if "Celery worker" in meta:
                out.setdefault(entry.step_key, set()).add(meta["Celery worker"].value)
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    "until",
    [
        # make test: the data stages and the trainings (the kill lands in one), 4 ticks of the backfill daemon
        pytest.param("sft_checkpoints", id="through-training"),
        # make test-scale: the whole graph to the ablation report, about 9 ticks (4.5 minutes) more
        pytest.param(None, id="whole-graph", marks=pytest.mark.scale_full),
    ],
)
def test_a_backfill_through_celery_workers_matches_the_local_run_and_survives_a_killed_gpu_worker(
    tmp_path, tiny_run, monkeypatch, until
):
    from dagster import AssetKey, DagsterEventType, DagsterInstance

    profile = _profile(tmp_path)
    defs = build_definitions(load_profile(str(profile)), str(tmp_path / "data"))
    assets = {ad.key.to_user_string() for group in asset_groups(defs, until) for ad in group}
    expected = {key: version for key, version in data_versions(tiny_run.instance).items() if key[0] in assets}
    with throwaway_cluster() as pg, throwaway_redis() as broker:
        services = {**pg.env(), BROKER_ENV: broker}
        for name, value in services.items():
            monkeypatch.setenv(name, value)
        env = {**os.environ, **dev_env(tmp_path, profile), **services}
        with dagster_dev(
            tmp_path, profile, tmp_path / "dagster-dev.log", instance_yaml=TEAM_YAML, extra_env=services
        ) as ui:
            # one gpu worker with two slots, as on a two-GPU machine: its concurrency and the gpu pool's limit
            cpu = Worker("cpu", env, tmp_path / "worker-cpu.log")
            gpu = Worker("gpu", env, tmp_path / "worker-gpu.log", concurrency=2)
            pool = [str(BIN / "dagster"), "instance", "concurrency", "set", "gpu", "2"]
            slots = subprocess.run(pool, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
            assert slots.returncode == 0, slots.stderr
            instance = DagsterInstance.from_config(str(tmp_path / "dagster_home"))
            try:
                cpu.wait_ready()
                gpu.wait_ready()
                assert ui.wait_for("the source partitions", lambda: ui.partition_keys("raw_problems"), timeout=120)
                started = time.monotonic()
                backfill = ui.launch_backfill(sorted(assets))
                ours = {"key": "dagster/backfill", "value": backfill}

                # 1. SIGKILL the whole gpu worker (main process and pool) while a trainer runs under it, and
                #    start it again at once under the same name, as a supervisor (systemd, Kubernetes) does.
                trainers = ui.wait_for("a trainer on the gpu worker", lambda: _trainers(gpu), timeout=600, every=0.5)
                time.sleep(3)
                killed_at = time.monotonic()
                gpu.kill()
                gpu = Worker("gpu", env, tmp_path / "worker-gpu-2.log", concurrency=2)
                failed = ui.wait_for(
                    "the killed steps' runs to fail", lambda: [r for r in ui.runs() if r["status"] == "FAILURE"], 300
                )
                detected_s = time.monotonic() - killed_at
                assert detected_s < 120
                assert not [p for p in trainers if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
                print(f"\ngpu worker SIGKILLed, restarted; {len(failed)} step(s) failed after {detected_s:.1f}s")

                # 2. The daemon re-executes each failed run from failure (the instance's run_retries) on the
                #    new gpu worker, and the backfill goes on to its last asset.
                def finished() -> bool:
                    runs = [r for r in ui.runs() if ours in r["tags"]]
                    idle = all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs)
                    return idle and set(expected) <= set(data_versions(instance))

                ui.wait_for("the backfill's last run", finished, timeout=900, every=2)
                seconds = time.monotonic() - started
            finally:
                cpu.stop()
                gpu.stop()

            runs = [r for r in ui.runs() if ours in r["tags"]]
            failed = [r for r in runs if r["status"] != "SUCCESS"]
            assert 1 <= len(failed) <= 2 and all(r["status"] == "FAILURE" for r in failed)
            for run in failed:
                [record] = instance.get_records_for_run(run["runId"], of_type=DagsterEventType.STEP_FAILURE).records
                failure = record.event_log_entry
                assert failure.step_key == "sft_checkpoints"
                assert "stopped running this step" in failure.dagster_event.step_failure_data.error.message
                [retry] = [r for r in runs if {"key": "dagster/parent_run_id", "value": run["runId"]} in r["tags"]]
                assert retry["status"] == "SUCCESS" and {"key": "dagster/retry_number", "value": "1"} in retry["tags"]
                assert instance.get_run_by_id(retry["runId"]).step_keys_to_execute == ["sft_checkpoints"]

            # 3. The same data as the local run, no teacher call repeated, model steps on the gpu worker.
            assert data_versions(instance) == expected
            assert len(instance.fetch_materializations(AssetKey("teacher_traces"), limit=100).records) == 1
            workers = _celery_workers(instance, [r["runId"] for r in runs])
            on = {step: {w.split("@")[0] for w in hosts} for step, hosts in workers.items()}
            assert {s for s, q in on.items() if q == {"gpu"}} == MODEL_ASSETS & assets, on
            assert all(q == {"cpu"} for s, q in on.items() if s not in MODEL_ASSETS), on
            print(f"backfill, kill, restart and retry from failure through Celery: {seconds:.1f}s, {len(runs)} runs")

            # 4. The CLI reads the chain back from PostgreSQL.
            last = "sft_checkpoints" if until else "benchmark_scores"
            lineage = _redstar(["lineage", f"{last}:cot-random-40"], env, timeout=120)
            assert lineage.returncode == 0, lineage.stderr
            assert "teacher_traces[arith-add]" in lineage.stdout and "sft_subsets" in lineage.stdout

            # 5. The backfill's own status follows on its daemon's next tick (at most 30 s after its last run).
            status = ui.wait_for("the backfill's status", lambda: (s := ui.backfill_status(backfill)) in DONE and s, 90)
            assert status in ("COMPLETED", "COMPLETED_SUCCESS"), status
    assert not list((tmp_path / "dagster_home").rglob("*.db"))
