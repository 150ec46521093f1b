"""Teacher fleet throughput: the `openai` backend against one `transformers serve` endpoint and
against three replicas of it (a `base_url` list), in the same run, rounds alternating.

    python benchmarks/teacher_fleet_throughput.py [--samples 120] [--rounds 2]

Each run uses a fresh sample cache, so every sample is generated. On a machine with fewer cores than
replicas the servers share the CPUs, so the ratio says what routing costs or gains there, not what a
fleet of GPU nodes would give. Writes benchmarks/results/teacher_fleet.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def timed_run(urls: list[str], model: str, samples: int, tmp: Path) -> tuple[float, dict]:
    from redstar_training.generation.cache import SampleCache
    from redstar_training.generation.distill import DistillConfig, distill, endpoint_table, make_backend

    problems = [{"problem_id": f"p{i:04d}", "problem": f"Compute {i} + 1.", "answer": "x"} for i in range(samples)]
    spec = {"kind": "openai", "base_url": urls, "model": model, "concurrency": 4}
    config = DistillConfig(backend=spec, samples_per_problem=1, sampling={"temperature": 0.7, "max_tokens": 40})
    cache = SampleCache(tmp / f"cache-{time.monotonic_ns()}.sqlite")
    started = time.perf_counter()
    try:
        _, _, stats = distill(problems, config, make_backend(spec, problems), cache, log=lambda m: None)
    finally:
        cache.close()
    return time.perf_counter() - started, endpoint_table(stats)


def main() -> None:
    from support.scripted_model import build_scripted_model
    from support.servers import transformers_fleet

    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model = build_scripted_model(tmp / "scripted")
        single, fleet, per_endpoint = [], [], {}
        with transformers_fleet(model, tmp, replicas=3) as urls:
            for _ in range(args.rounds):
                single.append(timed_run(urls[:1], str(model), args.samples, tmp)[0])
                seconds, per_endpoint = timed_run(urls, str(model), args.samples, tmp)
                fleet.append(seconds)
    one, three = min(single), min(fleet)
    result = {
        "samples": args.samples,
        "single_endpoint_s": [round(s, 2) for s in single],
        "three_endpoints_s": [round(s, 2) for s in fleet],
        "single_samples_per_s": round(args.samples / one, 2),
        "fleet_samples_per_s": round(args.samples / three, 2),
        "fleet_over_single": round(one / three, 2),
        "per_endpoint_last_fleet_run": per_endpoint,
    }
    out = ROOT / "benchmarks" / "results" / "teacher_fleet.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
