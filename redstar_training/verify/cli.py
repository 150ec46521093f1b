"""`redstar verify math|code|choice --input IN.jsonl --output OUT.jsonl [--mode strict|legacy|lenient]`:
verdicts for a JSONL file, by the same code the pipeline uses. A row may set its own `answer_format`,
`mode`, `precision` (decimal places) or `tolerance`, and `language`, at the top level or in `options`. A
line that is not JSON is reported with its number and skipped; a row missing a field, or with an unknown
or invalid option, gets `status: error` naming it; every other line is processed."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from redstar_training.files.jsonl import read_rows
from redstar_training.verify.equivalence import ANSWER_FORMATS
from redstar_training.verify.extract import MODES


def add_parser(sub) -> None:
    verify = sub.add_parser("verify", help="verify answers or programs from a JSONL file")
    kinds = verify.add_subparsers(dest="kind", required=True)
    for kind, what in (
        ("math", "rows with gold and prediction (a model output) or answer (already extracted)"),
        ("choice", "rows with gold (a letter) and prediction or answer"),
        ("code", "rows with program and tests + entry_point (HumanEval) or io [{input, output}]"),
    ):
        p = kinds.add_parser(kind, help=what)
        p.add_argument("--input", required=True, type=Path)
        p.add_argument("--output", required=True, type=Path)
        p.add_argument("--json", action="store_true", help="print the summary as JSON")
        p.add_argument("--workers", type=int, default=None)
        if kind == "code":
            p.add_argument("--timeout-s", type=float, default=10.0, help="per test, unless a row sets timeout_s")
            p.add_argument(
                "--unsafe-no-sandbox",
                action="store_true",
                help="run model-written code WITHOUT bubblewrap isolation (only for code you trust)",
            )
        else:
            p.add_argument("--mode", choices=MODES, default="strict")
            p.add_argument("--deadline-s", type=float, default=5.0, help="hard limit per check")
            p.add_argument("--cache", type=Path, default=None, help="SQLite verdict cache (off by default)")
            p.add_argument("--language", default=None, help="default language of the outputs (en, fr, zh, ar, hi, ...)")
            if kind == "math":
                p.add_argument("--format", default="math", help="default answer format: math, number, list, interval")


def _math_task(row: dict, kind: str, ns):
    from redstar_training.verify.equivalence import MathTask

    if row.get("gold") is None:
        raise KeyError("gold")
    if "prediction" not in row and "answer" not in row:
        raise KeyError("prediction or answer")
    gold = row["gold"]
    gold = tuple(str(g) for g in gold) if isinstance(gold, list) else str(gold)
    extracted = "prediction" not in row
    options = row_options(row)
    return MathTask(
        gold=gold,
        output=str(row["answer"] if extracted else row["prediction"]),
        extracted=extracted,
        answer_format="choice" if kind == "choice" else options.get("answer_format", ns.format),
        mode=options.get("mode", ns.mode),
        finish_reason=row.get("finish_reason", "stop"),
        tolerance=options.get("tolerance"),
        precision=options.get("precision"),
        language=options.get("language", ns.language),
    )


ROW_OPTIONS = ("answer_format", "mode", "precision", "tolerance", "language")


def row_options(row: dict) -> dict:
    """A row's verification options: its top-level ones, overridden by its `options` object, where an
    unknown key is an error (top-level keys may be anything: ids, problems, metadata)."""
    options = {k: row[k] for k in ROW_OPTIONS if row.get(k) is not None}
    nested = row.get("options") or {}
    if not isinstance(nested, dict):
        raise ValueError(f"options: expected an object, got {type(nested).__name__}")
    unknown = sorted(set(nested) - set(ROW_OPTIONS))
    if unknown:
        raise ValueError(f"options: unknown option {unknown[0]!r}; known: {', '.join(ROW_OPTIONS)}")
    options.update({k: v for k, v in nested.items() if v is not None})
    if options.get("answer_format") is not None and options["answer_format"] not in ANSWER_FORMATS:
        known = ", ".join(ANSWER_FORMATS)
        raise ValueError(f"answer_format: unknown format {options['answer_format']!r}; known: {known}")
    return options


def _code_task(row: dict, ns):
    from redstar_training.verify.code import CodeTask

    if not row.get("program"):
        raise KeyError("program")
    if row.get("tests") is None and not row.get("io"):
        raise KeyError("tests (with entry_point) or io")
    if row.get("tests") is not None and not row.get("entry_point"):
        raise KeyError("entry_point")
    io = tuple((str(t["input"]), str(t["output"])) for t in row.get("io") or [])
    timeout_s = float(row.get("timeout_s", ns.timeout_s))
    return CodeTask(row["program"], row.get("tests"), row.get("entry_point"), io, timeout_s)


def run(ns: argparse.Namespace) -> int:
    if not ns.input.exists():
        print(f"redstar: input file {ns.input} does not exist", file=sys.stderr)
        return 2
    rows, errors = read_rows(ns.input)
    for message in errors:
        print(f"redstar: {message}", file=sys.stderr)
    outputs, tasks, task_rows = [], [], []
    for number, row in rows:
        out = {"id": row.get("id"), "line": number}
        try:
            task = _code_task(row, ns) if ns.kind == "code" else _math_task(row, ns.kind, ns)
        except (KeyError, TypeError, ValueError) as exc:
            field = exc.args[0] if isinstance(exc, KeyError) else str(exc)
            verdict_key = "passed" if ns.kind == "code" else "correct"
            reason = f"missing or invalid field: {field}" if isinstance(exc, KeyError) else f"invalid option: {field}"
            out.update({verdict_key: False, "status": "error", "reason": reason})
            outputs.append(out)
            continue
        outputs.append(out)
        tasks.append(task)
        task_rows.append(out)
    if ns.kind == "code":
        _judge_code(tasks, task_rows, ns)
    else:
        _judge_math(tasks, task_rows, ns)
    ns.output.parent.mkdir(parents=True, exist_ok=True)
    with ns.output.open("w", encoding="utf-8") as f:
        for out in outputs:
            f.write(json.dumps(out, ensure_ascii=False) + "\n")
    summary: dict[str, Any] = {
        "input": str(ns.input),
        "output": str(ns.output),
        "rows": len(outputs),
        "invalid_lines": len(errors),
        "statuses": dict(Counter(o["status"] for o in outputs)),
    }
    judged = [o for o in outputs if o["status"] != "error"]
    summary["accuracy"] = round(sum(o["status"] == "correct" for o in outputs) / len(outputs), 4) if outputs else None
    summary["judged"] = len(judged)
    if ns.json:
        print(json.dumps(summary))
    else:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(summary["statuses"].items()))
        print(f"{summary['rows']} rows -> {ns.output}: {counts}; accuracy {summary['accuracy']}")
    return 1 if errors else 0


def _judge_math(tasks, task_rows, ns) -> None:
    from redstar_training.verify.service import MathVerifier

    with MathVerifier(workers=ns.workers, deadline_s=ns.deadline_s, cache=ns.cache) as verifier:
        verdicts = verifier.verify(tasks)
    for out, v in zip(task_rows, verdicts, strict=True):
        out.update(correct=v.correct, status=v.status, extracted=v.extracted, reason=v.reason)


def _judge_code(tasks, task_rows, ns) -> None:
    from redstar_training.verify.code import verify_code_batch
    from redstar_training.verify.sandbox import SandboxUnavailable

    if ns.unsafe_no_sandbox:
        print("redstar: WARNING: running model-written code without a sandbox (--unsafe-no-sandbox)", file=sys.stderr)
    try:
        verdicts = verify_code_batch(tasks, workers=ns.workers or 2, unsafe_no_sandbox=ns.unsafe_no_sandbox)
    except SandboxUnavailable as exc:
        raise SystemExit(f"redstar: {exc}") from None
    for out, v in zip(task_rows, verdicts, strict=True):
        out.update(passed=v.passed, status=v.status, reason=v.reason, tests=v.tests, stderr=v.stderr)
