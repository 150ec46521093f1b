"""A real `dagster dev` (webserver, daemon, code server) on a free loopback port, driven through the
same GraphQL the UI uses."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from redstar_training.generation.serve import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class Dagit:
    def __init__(self, url: str):
        self.url = url

    def query(self, query: str, **variables) -> dict:
        body = json.dumps({"query": query, "variables": variables}).encode()
        req = urllib.request.Request(f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"})
        reply = json.loads(urllib.request.urlopen(req, timeout=60).read())
        if reply.get("errors"):
            raise AssertionError(f"GraphQL errors: {reply['errors']}")
        return reply["data"]

    def wait_for(self, what: str, check, timeout: float, every: float = 1.0):
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(every)

    def partition_keys(self, asset: str) -> list[str]:
        data = self.query(
            "query($k: AssetKeyInput!) { assetNodeOrError(assetKey: $k) { ... on AssetNode { partitionKeys } } }",
            k={"path": [asset]},
        )
        return data["assetNodeOrError"].get("partitionKeys") or []

    def launch_backfill(self, assets: list[str]) -> str:
        """What the UI's "Materialize all" sends for assets with different partitions: every partition."""
        data = self.query(
            """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
                __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }
                ... on InvalidSubsetError { message } } }""",
            p={"assetSelection": [{"path": [a]} for a in assets], "allPartitions": True, "title": "materialize all"},
        )
        result = data["launchPartitionBackfill"]
        assert result["__typename"] == "LaunchBackfillSuccess", result
        return result["backfillId"]

    def backfill_status(self, backfill_id: str) -> str:
        data = self.query(
            "query($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } } }",
            id=backfill_id,
        )
        return data["partitionBackfillOrError"]["status"]

    def runs(self) -> list[dict]:
        data = self.query(
            "{ runsOrError(limit: 1000) { ... on Runs { results {"
            " runId status startTime endTime tags { key value } } } } }"
        )
        return data["runsOrError"]["results"]

    def start_sensor(self, name: str) -> None:
        """What the UI's toggle on the Automation page does."""
        data = self.query(
            """{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }"""
        )
        repo = data["repositoriesOrError"]["nodes"][0]
        selector = {
            "repositoryName": repo["name"],
            "repositoryLocationName": repo["location"]["name"],
            "sensorName": name,
        }
        reply = self.query(
            "mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) { __typename } }", s=selector
        )
        assert reply["startSensor"]["__typename"] == "Sensor", reply


def dev_env(home: Path, profile: Path | str) -> dict[str, str]:
    """The variables that make a process part of this `dagster dev`'s deployment (workers too)."""
    return {
        "DAGSTER_HOME": str(home / "dagster_home"),
        "REDSTAR_HOME": str(home / "data"),
        "REDSTAR_PROFILE": str(profile),
    }


@contextlib.contextmanager
def dagster_dev(
    home: Path,
    profile: Path | str,
    log: Path,
    location: tuple[str, ...] = ("-w", "workspace.yaml"),
    instance_yaml: Path = ROOT / "dagster_home" / "dagster.yaml",
    extra_env: dict[str, str] | None = None,
) -> Iterator[Dagit]:
    """`dagster dev` as `make ui` starts it, with its own DAGSTER_HOME, data root and profile (and
    another deployment's dagster.yaml and the variables it reads, when given)."""
    (home / "dagster_home").mkdir(parents=True, exist_ok=True)
    (home / "dagster_home" / "dagster.yaml").write_text(instance_yaml.read_text())
    env = {**os.environ, **dev_env(home, profile), **(extra_env or {})}
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [BIN / "dagster", "dev", "-h", "127.0.0.1", "-p", str(port), *location],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    dagit = Dagit(f"http://127.0.0.1:{port}")
    try:

        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"dagster dev exited: {log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{dagit.url}/server_info", timeout=5)
                return True
            except OSError:
                return False

        dagit.wait_for("the webserver", up, timeout=180)
        yield dagit
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
