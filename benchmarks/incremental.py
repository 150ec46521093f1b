"""Only the new work runs: the demo three times through `redstar run`, into one instance and data root.

    python benchmarks/incremental.py [--profile demo] [--grow 0.01]

  1. a full run of the profile's sources;
  2. every generated source 1% larger (its `count`; the first rows stay as they were): the data stages
     must ask the teacher for exactly the new problems' samples (the sample cache serves the rest),
     and what the new problems change follows;
  3. a run with nothing changed: 0 teacher calls, 0 trainings, 0 evaluations.

Per run and stage it prints wall time (from `redstar run`'s own lines) and, read from the instance,
teacher samples requested, trainings that ran (not reused) and evaluations that ran, as ratios
against the first run. Results go to benchmarks/results/incremental.json. Takes about 25 minutes on
2 cores; by hand only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from redstar_assets.config.profile import load_profile

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LINE = re.compile(r"^\[\s*[\d.]+s\] (.+?) \[(.+?)\]: (ok|FAILED) \(([\d.]+)s")


def grown(sources: list[dict], grow: float) -> list[dict]:
    """Each source, a generated one (with a `count`) `grow` larger: its generator draws row by row from one
    seeded stream, so the first rows stay the same and the new ones come after them."""
    if not any("count" in s for s in sources):
        raise SystemExit(f"no source has a `count` to grow: {[s['name'] for s in sources]}")
    return [{**s, "count": s["count"] + max(1, round(s["count"] * grow))} if "count" in s else s for s in sources]


def write_profile(path: Path, parent: str, name: str, sources: list[dict]) -> int:
    """A profile extending `parent` with these sources (whole, in place of the parent's); returns how many
    problems the generated ones make."""
    path.write_text(f"extends: {parent}\nname: {name}\nsources: {json.dumps(sources)}\n")
    return sum(s.get("count", 0) for s in sources)


def counts(instance: DagsterInstance, since: float) -> dict:
    """Teacher samples requested, trainings and evaluations that really ran, after `since`."""
    out = {"teacher_samples": 0, "trainings": 0, "evaluations": 0}
    for asset, key in (("teacher_traces", None), ("sft_checkpoints", "trainings"), ("rl_checkpoints", "trainings")):
        for r in instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(asset), after_timestamp=since), 10000
        ).records:
            meta = r.asset_materialization.metadata
            if key is None:
                out["teacher_samples"] += meta["samples_requested"].value
            elif not meta["reused"].value:
                out[key] += 1
    for r in instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("benchmark_scores"), after_timestamp=since), 10000
    ).records:
        out["evaluations"] += not r.asset_materialization.metadata["reused"].value
    return out


def run(profile: Path, env: dict, instance_home: Path) -> dict:
    since = time.time()
    started = time.monotonic()
    proc = subprocess.run(
        [BIN / "redstar", "run", "--profile", str(profile)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if proc.returncode:
        raise SystemExit(proc.stdout[-3000:] + proc.stderr[-3000:])
    stages: dict[str, float] = defaultdict(float)
    for line in proc.stdout.splitlines():
        found = LINE.match(line)
        if found:
            stages["data stages" if "," in found[1] else found[1]] += float(found[4])
    with DagsterInstance.from_config(str(instance_home)) as instance:
        return {"seconds": round(time.monotonic() - started, 1), "stages": dict(stages), **counts(instance, since)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--grow", type=float, default=0.01)
    ns = parser.parse_args()
    base = load_profile(ns.profile)
    written = [s.written() for s in base.sources]  # the typed entries as a profile writes them
    with tempfile.TemporaryDirectory(prefix="redstar-incremental-") as tmp:
        home = Path(tmp)
        (home / "dagster_home").mkdir()
        shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster_home" / "dagster.yaml")
        env = {**os.environ, "DAGSTER_HOME": str(home / "dagster_home"), "REDSTAR_HOME": str(home / "data")}
        profile = home / "incremental.yaml"
        results = []
        for label, sources in (
            ("full", written),
            (f"+{ns.grow:.0%} problems", grown(written, ns.grow)),
            ("no change", None),
        ):
            if sources is not None:
                n = write_profile(profile, ns.profile, base.name, sources)
            result = {"run": label, "generated_problems": n, **run(profile, env, home / "dagster_home")}
            results.append(result)
            print(json.dumps(result), flush=True)
    first = results[0]
    for r in results[1:]:
        r["ratios"] = {
            "seconds": round(r["seconds"] / first["seconds"], 3),
            "teacher_samples": round(r["teacher_samples"] / max(1, first["teacher_samples"]), 4),
            "stages": {k: round(v / first["stages"][k], 3) for k, v in r["stages"].items() if first["stages"].get(k)},
        }
        print(f"{r['run']}: {json.dumps(r['ratios'])}")
    out = ROOT / "benchmarks" / "results" / "incremental.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
