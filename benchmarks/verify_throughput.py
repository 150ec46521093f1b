"""Verifier throughput: the shared MathVerifier (worker pool + fast paths) against a naive
single-process loop over the same pairs, then the verdict cache's hit rate.

    python benchmarks/verify_throughput.py [--data ../shared/data] [--workers 2]
    python benchmarks/verify_throughput.py --mix synthetic [--pairs 20000]   # bench-1m's answer mix

With `--mix synthetic` the pairs are those of the `bench-1m` profile's synthetic teacher (its fixed
answer mix, 4 samples per problem, about 40% of pairs unique), and the verifier runs twice, with
in-batch dedupe on and off.

The pairs are a realistic mix: the answers extracted from the 570 real outputs in
`<data>/traces/`, and variations of the MATH-500 gold answers (the gold itself, `\\dfrac` and `$`
spellings, decimals, an off-by-one wrong answer). The naive loop calls the same equivalence code
(`math_equal`: math-verify with our normalizations, its own timeouts on) pair by pair in this
process; the verifier runs with its cache off. Verdicts must be identical. Writes
benchmarks/results/verify_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def realistic_pairs(data: Path) -> list[tuple[str, str]]:
    from redstar_training.verify import extract_answer

    pairs = []
    for f in sorted((data / "traces").glob("*.jsonl")):
        for line in f.open():
            row = json.loads(line)
            pairs.append((str(row["answer"]), extract_answer(row["code"][0], "legacy") or ""))
    for line in (data / "benchmarks" / "math500.jsonl").open():
        gold = json.loads(line)["answer"]
        pairs.append((gold, gold))
        pairs.append((gold, "$" + gold.replace("\\frac", "\\dfrac") + "$"))
        try:
            value = Fraction(gold.replace(",", ""))
            pairs.append((gold, f"{float(value):.6f}"))
            pairs.append((gold, str(value + 1)))
        except (ValueError, ZeroDivisionError):
            pairs.append((gold, gold + "+1"))
    return [(g, p) for g, p in pairs if p]


def synthetic_pairs(n_pairs: int, seed: int = 0) -> list[tuple[str, str]]:
    """(gold, prediction) pairs exactly as bench-1m's teacher answers its problems, in problem order."""
    from redstar_training.synthetic import synthetic

    pairs = []
    for i in range((n_pairs + 3) // 4):
        p = synthetic.problem(i, seed)
        pairs += [(p["answer"], pred) for pred in synthetic.predictions(f"p{i}", p["answer"], 4, seed)]
    return pairs[:n_pairs]


def naive(pairs):
    from redstar_training.verify.equivalence import math_equal

    latencies, verdicts = [], []
    for gold, pred in pairs:
        started = time.perf_counter()
        try:
            verdicts.append(math_equal(gold, pred, inner_timeout=5))
        except Exception:  # noqa: BLE001 - the naive loop counts a crash as wrong, like math-verify does
            verdicts.append(False)
        latencies.append(time.perf_counter() - started)
    return verdicts, latencies


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--mix", choices=("realistic", "synthetic"), default="realistic")
    parser.add_argument("--pairs", type=int, default=20_000, help="with --mix synthetic")
    ns = parser.parse_args()
    if ns.mix == "synthetic":
        return synthetic_mix(ns)
    if not (ns.data / "traces").exists():
        print(f"verify_throughput: {ns.data} has no traces/ folder; pass --data", file=sys.stderr)
        return 2
    from redstar_training.verify import MathTask, MathVerifier

    pairs = realistic_pairs(ns.data)
    tasks = [MathTask(g, p, extracted=True) for g, p in pairs]

    started = time.perf_counter()
    baseline, naive_latencies = naive(pairs)
    naive_s = time.perf_counter() - started

    with MathVerifier(workers=ns.workers, deadline_s=10) as verifier:
        verifier.verify([MathTask("1", "\\frac{2}{2}", extracted=True)] * ns.workers)  # workers up, as in a long run
        timings: list = []
        started = time.perf_counter()
        ours = verifier.verify(tasks, timings)
        ours_s = time.perf_counter() - started
        paths = dict(verifier.counts)
    differ = [(g, p, b, v.status) for (g, p), b, v in zip(pairs, baseline, ours, strict=True) if b != v.correct]

    with tempfile.TemporaryDirectory() as tmp, MathVerifier(workers=ns.workers, cache=Path(tmp) / "v.sqlite") as cached:
        cached.verify(tasks)
        started = time.perf_counter()
        cached.verify(tasks)
        cached_s = time.perf_counter() - started
        hit_rate = cached.cache.hits / max(1, cached.cache.hits + cached.cache.misses)
        second_pass_paths = cached.counts

    pooled = [answered - begun for _, begun, answered in timings if begun]
    result = {
        "pairs": len(pairs),
        "workers": ns.workers,
        "cpus": os.cpu_count(),
        "naive_seconds": round(naive_s, 2),
        "naive_pairs_per_s": round(len(pairs) / naive_s, 1),
        "verifier_seconds": round(ours_s, 2),
        "verifier_pairs_per_s": round(len(pairs) / ours_s, 1),
        "speedup": round(naive_s / ours_s, 2),
        "identical_verdicts": not differ,
        "differences": differ[:20],
        "verifier_paths": paths,
        "naive_latency_ms": {"p50": round(1000 * percentile(naive_latencies, 50), 2),
                             "p99": round(1000 * percentile(naive_latencies, 99), 2)},
        "pooled_latency_ms": {"p50": round(1000 * percentile(pooled, 50), 2),
                              "p99": round(1000 * percentile(pooled, 99), 2)} if pooled else None,
        "cache_cumulative_hit_rate_over_two_passes": round(hit_rate, 3),
        "cached_second_pass_seconds": round(cached_s, 3),
        "cached_second_pass_paths": second_pass_paths,
    }  # fmt: skip
    out = ROOT / "benchmarks" / "results" / "verify_throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0 if not differ else 1


def synthetic_mix(ns) -> int:
    """Naive loop, then the verifier with dedupe on and with it off, on the same pairs (cache off)."""
    from redstar_training.verify import MathTask, MathVerifier

    pairs = synthetic_pairs(ns.pairs)
    tasks = [MathTask(g, p, extracted=True) for g, p in pairs]
    started = time.perf_counter()
    baseline, _ = naive(pairs)
    naive_s = time.perf_counter() - started
    runs = {}
    for dedupe in (True, False):
        with MathVerifier(workers=ns.workers, deadline_s=10, dedupe=dedupe) as verifier:
            verifier.verify([MathTask("1", "\\frac{2}{2}", extracted=True)] * ns.workers)  # workers up
            verifier.counts = dict.fromkeys(verifier.counts, 0)
            started = time.perf_counter()
            ours = verifier.verify(tasks)
            seconds = time.perf_counter() - started
        differ = [(g, p, b, v.status) for (g, p), b, v in zip(pairs, baseline, ours, strict=True) if b != v.correct]
        runs["dedupe_on" if dedupe else "dedupe_off"] = {
            "seconds": round(seconds, 2),
            "pairs_per_s": round(len(pairs) / seconds, 1),
            "speedup_vs_naive": round(naive_s / seconds, 2),
            "identical_verdicts": not differ,
            "differences": differ[:20],
            "verifier_paths": verifier.counts,
        }
    result = {
        "mix": "synthetic (bench-1m teacher)",
        "pairs": len(pairs),
        "unique_pairs": len(set(pairs)),
        "correct": sum(baseline),
        "workers": ns.workers,
        "cpus": os.cpu_count(),
        "naive_seconds": round(naive_s, 2),
        "naive_pairs_per_s": round(len(pairs) / naive_s, 1),
        **runs,
    }
    out = ROOT / "benchmarks" / "results" / "verify_throughput_mix.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0 if all(r["identical_verdicts"] for r in runs.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
