"""Only the new work runs: the demo three times through `redstar run`, into one instance and data root.

    python benchmarks/incremental.py [--profile demo] [--grow 0.01]

  1. a full run, with the demo's problems in a JSONL file source;
  2. the same file with 1% more problems: the data stages must ask the teacher for exactly the new
     problems' samples (the sample cache serves the rest), and what the new problems change follows;
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
from redstar_assets.problems.sources import arithmetic_problems

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LINE = re.compile(r"^\[\s*[\d.]+s\] (.+?) \[(.+?)\]: (ok|FAILED) \(([\d.]+)s")


def write_pool(path: Path, spec: dict, extra: int) -> int:
    """The profile's generated problems, plus `extra` new ones (another seed), as a JSONL file."""
    rows = arithmetic_problems(**spec).to_dicts()
    seen = {r["problem"] for r in rows}
    more = arithmetic_problems(**{**spec, "seed": spec.get("seed", 0) + 7919}).to_dicts()
    rows += [r for r in more if r["problem"] not in seen][:extra]
    path.write_text(
        "".join(json.dumps({"problem": r["problem"], "answer": r["answer"], "level": r["level"]}) + "\n" for r in rows)
    )
    return len(rows)


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
    source = base.sources[0]
    with tempfile.TemporaryDirectory(prefix="redstar-incremental-") as tmp:
        home = Path(tmp)
        (home / "dagster_home").mkdir()
        shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster_home" / "dagster.yaml")
        env = {**os.environ, "DAGSTER_HOME": str(home / "dagster_home"), "REDSTAR_HOME": str(home / "data")}
        pool = home / "pool.jsonl"
        profile = home / "incremental.yaml"
        profile.write_text(
            f"extends: {ns.profile}\nname: {base.name}\nsources: [{{name: pool, kind: file, path: '{pool}'}}]\n"
        )
        results = []
        for label, extra in (
            ("full", 0),
            (f"+{ns.grow:.0%} problems", int(source["count"] * ns.grow)),
            ("no change", None),
        ):
            if extra is not None:
                n = write_pool(pool, source, extra)
            result = {"run": label, "problems": n, **run(profile, env, home / "dagster_home")}
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
