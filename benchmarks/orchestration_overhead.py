"""What running through Dagster's daemon costs against `redstar run`, side by side on one machine.

    python benchmarks/orchestration_overhead.py [--profile demo-tiny] [--rounds 2] [--floor]

Every run uses PROFILE with its automation sensor off (a profile file extending it), so only the
backfill or `redstar run` requests runs. Each round, in turn and each in a fresh DAGSTER_HOME and data root:
  A. `dagster dev` (webserver, daemon, code server) as `make ui` starts it; once the source sensor
     has listed the partitions, one GraphQL backfill of every asset over all partitions (what the
     UI's "Materialize all" sends), timed from the launch to the backfill's completion;
  B. `redstar run --profile PROFILE`, timed as a whole process.
The ratio A/B is reported per round and as the median. `--floor` adds C: the same backfill over
`benchmarks/floor_location.py`, the same graph with assets that do nothing, i.e. Dagster's own cost
for this graph shape (the backfill daemon's fixed 30 s loop, the run queue, a run worker per run).
Results go to benchmarks/results/orchestration_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.dagster_dev import BIN, dagster_dev  # noqa: E402

from redstar_assets.config.profile import load_profile  # noqa: E402
from redstar_assets.lineage.walk import ASSETS  # noqa: E402

DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def without_automation(profile: str, folder: Path) -> Path:
    """A profile file in `folder` extending `profile` with its automation sensor stopped, so an eager
    condition cannot request runs of its own beside the measured backfill."""
    path = folder / f"{Path(profile).stem}-automation-off.yaml"
    path.write_text(f"extends: {profile}\nname: {load_profile(profile).name}\nautomation: {{enabled: false}}\n")
    if load_profile(str(path)).automation.enabled:
        raise SystemExit(f"{path}: automation is still enabled")
    return path


def backfill(profile: Path, location: tuple[str, ...]) -> dict:
    with tempfile.TemporaryDirectory(prefix="redstar-backfill-") as tmp:
        home = Path(tmp)
        with dagster_dev(home, profile, home / "dagster-dev.log", location) as ui:
            ui.wait_for("the source partitions", lambda: ui.partition_keys("raw_problems"), timeout=180)
            started = time.monotonic()
            backfill_id = ui.launch_backfill(ASSETS)
            status = ui.wait_for(
                "the backfill", lambda: (s := ui.backfill_status(backfill_id)) in DONE and s, timeout=3600, every=1
            )
            seconds = time.monotonic() - started
            runs = [r for r in ui.runs() if {"key": "dagster/backfill", "value": backfill_id} in r["tags"]]
        return {"seconds": round(seconds, 1), "runs": len(runs), "status": status}


def redstar_run(profile: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="redstar-run-") as tmp:
        home = Path(tmp)
        (home / "dagster_home").mkdir()
        shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster_home" / "dagster.yaml")
        env = {**os.environ, "DAGSTER_HOME": str(home / "dagster_home"), "REDSTAR_HOME": str(home / "data")}
        started = time.monotonic()
        proc = subprocess.run(
            [BIN / "redstar", "run", "--profile", str(profile)], cwd=ROOT, env=env, capture_output=True, text=True
        )
        seconds = time.monotonic() - started
        runs = sum(1 for line in proc.stdout.splitlines() if line.startswith("[") and ": ok (" in line)
        return {"seconds": round(seconds, 1), "runs": runs, "returncode": proc.returncode}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="demo-tiny")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--floor", action="store_true", help="also time the same graph with no-op assets")
    ns = parser.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory(prefix="redstar-overhead-") as tmp:
        profile = without_automation(ns.profile, Path(tmp))
        for i in range(ns.rounds):
            a = backfill(profile, ("-w", "workspace.yaml"))
            b = redstar_run(profile)
            rounds.append({"backfill": a, "redstar_run": b, "ratio": round(a["seconds"] / b["seconds"], 2)})
            print(f"round {i + 1}: backfill {a} | redstar run {b} | ratio {rounds[-1]['ratio']}", flush=True)
        result = {
            "profile": ns.profile,
            "automation": False,
            "cpus": os.cpu_count(),
            "rounds": rounds,
            "median_ratio": statistics.median(r["ratio"] for r in rounds),
        }
        if ns.floor:
            result["floor"] = backfill(profile, ("-f", str(ROOT / "benchmarks" / "floor_location.py")))
            print(f"floor (same graph, assets that do nothing): {result['floor']}")
    out = ROOT / "benchmarks" / "results" / "orchestration_overhead.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"median backfill / redstar run: {result['median_ratio']}x  ({out})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
