"""Distillation client throughput against a real local server, and sample-cache look-ups at scale.

    python benchmarks/distill_throughput.py [--requests 96] [--cache-keys 1000000]

Starts `transformers serve` on the scripted tiny model (tests/support), then measures completions/s
of the `openai` backend at concurrency 1, 8 and 32 (cache off: a fresh cache per run) beside a
plain sequential `openai` client loop over the same prompts; the client overhead per request is
(backend at concurrency 1 - plain loop) / requests. Then fills a SampleCache with N keys and times
random look-ups. Writes benchmarks/results/distill_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def plain_loop(url: str, model: str, prompts: list[str]) -> float:
    from openai import OpenAI

    client = OpenAI(base_url=url, api_key="EMPTY", max_retries=0)
    started = time.perf_counter()
    for p in prompts:
        client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": p}], max_tokens=40, temperature=0.7
        )
    return time.perf_counter() - started


def backend_run(url: str, model: str, prompts: list[str], concurrency: int, tmp: Path) -> float:
    from redstar_training.generation.cache import SampleCache
    from redstar_training.generation.distill import DistillConfig, distill, make_backend

    problems = [{"problem_id": f"p{i}", "problem": p, "answer": "7"} for i, p in enumerate(prompts)]
    spec = {"kind": "openai", "base_url": url, "model": model, "concurrency": concurrency}
    cfg = DistillConfig(
        backend=spec, prompt_template="plain", samples_per_problem=1, sampling={"temperature": 0.7, "max_tokens": 40}
    )
    cache = SampleCache(tmp / f"c{concurrency}-{time.time_ns()}.sqlite")
    started = time.perf_counter()
    completions, _, stats = distill(problems, cfg, make_backend(spec, problems), cache, log=lambda m: None)
    seconds = time.perf_counter() - started
    assert stats["requests_made"] == len(prompts) and all(c.ok for c in completions)
    return seconds


def cache_lookups(n_keys: int, tmp: Path, probes: int = 100_000) -> dict:
    from redstar_training.generation.cache import SampleCache
    from redstar_training.generation.types import Completion

    cache = SampleCache(tmp / "big.sqlite")
    started = time.perf_counter()
    for start in range(0, n_keys, 100_000):
        batch = [
            Completion(f"{i:064x}", f"p{i // 4}", i % 4, "<think>x</think> \\boxed{1}", "stop")
            for i in range(start, min(start + 100_000, n_keys))
        ]
        cache.put_many(batch)
    fill_s = time.perf_counter() - started
    rng = random.Random(0)
    keys = [f"{rng.randrange(2 * n_keys):064x}" for _ in range(probes)]  # about half hit
    started = time.perf_counter()
    found = cache.get_many(keys)
    lookup_s = time.perf_counter() - started
    return {
        "keys": cache.count(),
        "fill_seconds": round(fill_s, 1),
        "probes": probes,
        "hits": len(found),
        "lookups_per_s": round(probes / lookup_s),
        "db_mb": round((tmp / "big.sqlite").stat().st_size / 2**20, 1),
    }


def main() -> int:
    from support.scripted_model import build_scripted_model
    from support.servers import transformers_serve

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=96)
    parser.add_argument("--cache-keys", type=int, default=1_000_000)
    ns = parser.parse_args()
    result: dict = {}
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        model = build_scripted_model(tmp / "scripted")
        with transformers_serve(model, tmp / "serve.log") as url:
            prompts = [f"Compute {i} + {7 - i}." for i in range(ns.requests)]
            plain_loop(url, str(model), prompts[:4])  # warm-up
            plain = plain_loop(url, str(model), prompts)
            result["plain_sequential"] = {
                "seconds": round(plain, 2),
                "completions_per_s": round(len(prompts) / plain, 1),
            }
            for c in (1, 8, 32):
                s = backend_run(url, str(model), prompts, c, tmp)
                result[f"backend_concurrency_{c}"] = {
                    "seconds": round(s, 2),
                    "completions_per_s": round(len(prompts) / s, 1),
                }
            c1 = result["backend_concurrency_1"]["seconds"]
            result["client_overhead_ms_per_request"] = round(1000 * (c1 - plain) / len(prompts), 2)
        result["cache"] = cache_lookups(ns.cache_keys, tmp)
    out = ROOT / "benchmarks" / "results" / "distill_throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
