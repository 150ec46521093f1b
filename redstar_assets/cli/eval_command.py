"""`redstar eval score`: score stored outputs against a registered benchmark with the shared verifier.

redstar eval score --benchmark math500 --data DIR --predictions outputs.jsonl --output-field code \\
    --problem-field question [--mode strict|legacy|lenient] [--json] [--verdicts verdicts.jsonl]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from redstar_training.verify.extract import MODES


def add_parser(sub) -> None:
    ev = sub.add_parser("eval", help="score stored model outputs against a benchmark")
    kinds = ev.add_subparsers(dest="eval_command", required=True)
    p = kinds.add_parser("score", help="verify predictions against a registered benchmark")
    p.add_argument("--benchmark", required=True, help="a name from configs/benchmarks.yaml")
    p.add_argument("--data", type=Path, default=None, help="folder with the benchmark file (else REDSTAR_BENCHMARKS)")
    p.add_argument("--predictions", required=True, type=Path, help="JSONL, one prediction per line")
    p.add_argument(
        "--output-field", default="output", help="field holding the model output (a list: its first element)"
    )
    key = p.add_mutually_exclusive_group()
    key.add_argument("--id-field", help="join on this field = the benchmark item id")
    key.add_argument("--problem-field", help="join on this field = the problem text (whitespace-normalized)")
    p.add_argument(
        "--mode",
        choices=MODES,
        default="strict",
        help="strict: final-answer markers only; legacy: the Qwen2.5-Math harness's last-number fallback; "
        "lenient: as math-verify and lighteval read stored outputs",
    )
    p.add_argument("--verdicts", type=Path, default=None, help="write one verdict per matched prediction here")
    p.add_argument("--json", action="store_true")


def run(ns: argparse.Namespace) -> int:
    from redstar_assets.config.benchmark_registry import RegistryError
    from redstar_assets.evaluation.score_outputs import read_predictions, score
    from redstar_assets.problems.benchmark_files import read_benchmark

    try:
        read = read_benchmark(ns.benchmark, ns.data)
    except RegistryError as exc:
        print(f"redstar: {exc}", file=sys.stderr)
        return 2
    if read.left_out and not read.items.height:  # no usable item at all: say why the first row failed
        print(f"redstar: {read.left_out[0]['reason']}", file=sys.stderr)
        return 2
    for row in read.left_out:  # an unusable row is left out, not fatal
        print(f"redstar: left out: {row['reason']}", file=sys.stderr)
    bench = read.items
    if not ns.predictions.exists():
        print(f"redstar: predictions file {ns.predictions} does not exist", file=sys.stderr)
        return 2
    by, key_field = ("id", ns.id_field) if ns.id_field else ("problem", ns.problem_field or "problem")
    rows, errors = read_predictions(ns.predictions, ns.output_field, key_field)
    for message in errors:
        print(f"redstar: {message}", file=sys.stderr)
    summary, verdicts = score(bench, rows, by, ns.mode)
    summary["unreadable_lines"] = len(errors)
    summary["left_out"] = read.left_out
    if ns.verdicts:
        ns.verdicts.write_text("".join(json.dumps(v, ensure_ascii=False) + "\n" for v in verdicts))
    if ns.json:
        print(json.dumps(summary))
    else:
        print(
            f"{summary['benchmark']} ({ns.mode}): accuracy {summary['accuracy']} on {summary['matched']} matched "
            f"predictions over {summary['items_scored']}/{summary['benchmark_items']} items "
            f"({len(read.left_out)} rows left out); "
            f"unmatched {summary['unmatched']}; statuses {summary['statuses']}"
        )
        if summary["unmatched"]:
            print(f"unmatched keys: {summary['unmatched_keys'][:10]}")
    return 1 if errors else 0
