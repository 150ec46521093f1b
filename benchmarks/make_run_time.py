"""Times `make run`'s job (`redstar run --profile demo`) on this machine, in a fresh data root.

    python benchmarks/make_run_time.py            # fresh REDSTAR_HOME and DAGSTER_HOME under benchmarks/results/

Prints the wall time of the whole run and of each step, and the ablation table it produced, and
writes them to benchmarks/results/make_run_time.json. The environment (.venv) must already exist.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    out = ROOT / "benchmarks" / "results" / "make_run"
    shutil.rmtree(out, ignore_errors=True)
    (out / "dagster_home").mkdir(parents=True)
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", out / "dagster_home" / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(out / "dagster_home"), "REDSTAR_HOME": str(out / "data")}
    bin_dir = Path(sys.executable).parent
    started = time.time()
    proc = subprocess.run(
        [bin_dir / "redstar", "run", "--profile", "demo"], cwd=ROOT, env=env, text=True, capture_output=True
    )
    seconds = time.time() - started
    (out / "stdout.log").write_text(proc.stdout)
    (out / "stderr.log").write_text(proc.stderr)
    steps = re.findall(r"^\[\s*[\d.]+s\] (.+?): (ok|FAILED) \(([\d.]+)s", proc.stdout, flags=re.M)
    table = proc.stdout.split("Ablation report", 1)[-1] if proc.returncode == 0 else ""
    result = {
        "seconds": round(seconds, 1),
        "returncode": proc.returncode,
        "cpus": os.cpu_count(),
        "steps": [{"step": s, "status": st, "seconds": float(t)} for s, st, t in steps],
    }
    (ROOT / "benchmarks" / "results" / "make_run_time.json").write_text(json.dumps(result, indent=2))
    for s in result["steps"]:
        print(f"{s['seconds']:7.1f}s  {s['status']:<6} {s['step']}")
    print(f"\nredstar run --profile demo: {seconds:.1f}s (exit {proc.returncode})")
    print(table)
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
