"""Near-duplicate removal, side by side in one process: the `rensa` backend (MinHash and LSH in Rust,
the pipeline's default) against `datasketch` (pure Python and numpy), on the same generated problems
with planted near duplicates (a number changed, a word changed, LaTeX spacing).

    python benchmarks/near_duplicates.py [--problems 250000] [--rounds 1]

Prints each backend's seconds, the ratio, recall on the planted near duplicates and the share of clean
problems removed; writes benchmarks/results/near_duplicates.json.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from redstar_assets.problems.dedupe import near_duplicates

ROOT = Path(__file__).resolve().parents[1]


def _vocabulary(rng: random.Random, n: int = 20_000) -> list[str]:
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["th", "qu", "st", "ch"]
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def _problem(rng: random.Random, vocab: list[str]) -> tuple[str, str]:
    a, b, x = rng.randint(2, 99), rng.randint(1, 999), rng.randint(1, 99)
    words = " ".join(rng.choice(vocab) for _ in range(rng.randint(35, 60)))
    return f"{words.capitalize()}. If ${a}x + {b} = {a * x + b}$, what is $x$?", str(x)


def _edit(text: str, rng: random.Random, vocab: list[str]) -> tuple[str, str]:
    kind = rng.choice(["number", "word", "spacing"])
    if kind == "number":
        digits = [i for i, c in enumerate(text) if c.isdigit()]
        i = rng.choice(digits) if digits else 0
        return text[:i] + str((int(text[i]) + 1) % 10 if text[i : i + 1].isdigit() else 7) + text[i + 1 :], kind
    if kind == "word":
        words = text.split(" ")
        words[rng.randrange(len(words))] = rng.choice(vocab)
        return " ".join(words), kind
    return text.replace(" ", "  ").replace("$", "$\\, ", 1), kind


def planted(n: int, seed: int = 0) -> tuple[list[str], list[str], dict[str, str]]:
    """n problems, 4% of them near duplicates of an earlier one: ids, texts, {duplicate id: source id}."""
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    n_base = int(n * 0.96)
    ids = [f"p{i:07d}" for i in range(n_base)]
    texts = [_problem(rng, vocab)[0] for _ in range(n_base)]
    truth = {}
    for j in range(n - n_base):
        src = rng.randrange(n_base)
        text, _kind = _edit(texts[src], rng, vocab)
        ids.append(f"d{j:07d}")
        texts.append(text)
        truth[f"d{j:07d}"] = ids[src]
    return ids, texts, truth


def score(removed: dict[str, str], truth: dict[str, str], n_clean: int) -> dict:
    return {
        "removed": len(removed),
        "planted_recall": round(len(set(removed) & set(truth)) / len(truth), 4),
        "clean_removed": round(len([k for k in removed if k not in truth]) / n_clean, 6),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=250_000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    ids, texts, truth = planted(args.problems)
    n_clean = len(ids) - len(truth)
    seconds: dict[str, list[float]] = {"rensa": [], "datasketch": []}
    results = {}
    for r in range(args.rounds):
        for backend in ("rensa", "datasketch") if r % 2 == 0 else ("datasketch", "rensa"):
            t = time.perf_counter()
            removed = near_duplicates(ids, texts, threshold=0.8, backend=backend)
            seconds[backend].append(time.perf_counter() - t)
            results[backend] = score(removed, truth, n_clean)
            print(f"round {r + 1} {backend}: {seconds[backend][-1]:.1f}s {results[backend]}", flush=True)
    best = {b: min(s) for b, s in seconds.items()}
    out = {
        "problems": args.problems,
        "planted_near_duplicates": len(truth),
        "seconds_min": {b: round(s, 1) for b, s in best.items()},
        "datasketch_over_rensa": round(best["datasketch"] / best["rensa"], 2),
        **{b: results[b] for b in results},
    }
    print(json.dumps(out, indent=2))
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "near_duplicates.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
