"""A released-trace import at the paper's scale, by hand: N synthetic rows of about 8 KB each (Sky-T1's
`<|begin_of_thought|>` layout, 4 traces per problem) written to one JSONL file, then imported by
`redstar run --until teacher_traces` (raw_problems, problems, teacher_traces: the streaming path)
on a fresh data root and instance, under `/usr/bin/time -v` for the peak memory.

    python benchmarks/trace_import_scale.py --rows 1000000 --work /tmp/import1m

Prints the file's size, the run's wall time, each step's time, the peak RSS and the row counts, and
writes them to WORK/result.json. Needs about 2.5x the file's size free under WORK.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS = "we add the next column carry one check the sum again so the total is then write it down".split()


def write_rows(path: Path, rows: int, seed: int = 0) -> None:
    """Rows of {question, answer, output}: 4 traces per problem, each about 8 KB of reasoning."""
    rng = random.Random(seed)
    filler = " ".join(rng.choice(WORDS) for _ in range(1600))  # ~8 KB, varied per row by an offset
    with path.open("w") as out:
        for i in range(rows):
            p = i // 4
            if i % 4 == 0:
                a, b = rng.randrange(10**6), rng.randrange(10**6)
            start = rng.randrange(200)
            reasoning = f"Problem {p}: {a} + {b}. " + filler[start : start + 7800]
            answer = a + b if i % 5 else a + b + 1
            output = (
                f"<|begin_of_thought|>\n{reasoning}\n<|end_of_thought|>\n\n"
                f"<|begin_of_solution|>\nThe answer is \\boxed{{{answer}}}.\n<|end_of_solution|>"
            )
            out.write(json.dumps({"question": f"Task {p}: compute {a} + {b}.", "answer": str(a + b), "output": output}))
            out.write("\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/trace-import"))
    ns = parser.parse_args()
    shutil.rmtree(ns.work, ignore_errors=True)
    (ns.work / "dagster_home").mkdir(parents=True)
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", ns.work / "dagster_home" / "dagster.yaml")
    traces = ns.work / "traces.jsonl"
    t0 = time.time()
    write_rows(traces, ns.rows)
    print(f"wrote {ns.rows} rows, {traces.stat().st_size / 1e9:.2f} GB, in {time.time() - t0:.0f}s", flush=True)
    profile = ns.work / "import.yaml"
    profile.write_text(
        "extends: demo-tiny\nname: trace-import\nreplace: [sources, subset_recipes, experiments]\n"
        f"sources:\n  - {{name: released, kind: traces, path: {traces}, trace_split: begin_of_thought,\n"
        "     mapping: {problem: question, answer: answer, trace: output}}\n"
        "curation: {near_duplicates: false}\n"
        "subset_recipes: {}\nexperiments:\n  - {name: untrained, base_model: tiny-qwen2, stages: [base]}\n"
    )
    env = {**os.environ, "DAGSTER_HOME": str(ns.work / "dagster_home"), "REDSTAR_HOME": str(ns.work / "data")}
    cmd = ["/usr/bin/time", "-v", str(Path(sys.executable).parent / "redstar"), "run", "--profile", str(profile)]
    started = time.time()
    done = subprocess.run([*cmd, "--until", "teacher_traces"], env=env, capture_output=True, text=True, cwd=ROOT)
    seconds = time.time() - started
    print(done.stdout)
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])
    data = ns.work / "data"
    meta = {
        name: json.loads((data / name / "released" / "data.json").read_text())["rows"]
        for name in ("raw_problems", "problems", "teacher_traces")
    }
    result = {
        "rows": ns.rows,
        "file_gb": round(traces.stat().st_size / 1e9, 2),
        "seconds": round(seconds, 1),
        "peak_rss_gib": round(peak_kb / 2**20, 2),
        "table_rows": meta,
        "returncode": done.returncode,
    }
    print(json.dumps(result, indent=2))
    (ns.work / "result.json").write_text(json.dumps(result, indent=2))
    if done.returncode:
        print(done.stderr[-3000:], file=sys.stderr)
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
