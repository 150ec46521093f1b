"""Judging model outputs against benchmark items of any verifier, one way for `redstar eval score` and
the evaluation entry point. Each item carries what its benchmark registered: `answer_format`,
`tolerance` and `verifier` (math, choice, code), and for code its `tests` and `entry_point`; items
without them (generated held-out sets) are plain math."""

from __future__ import annotations

import json
from collections.abc import Sequence

from redstar_training.verify.equivalence import MathTask
from redstar_training.verify.service import MathVerifier

Judged = tuple[str, str | None, str]  # status, extracted answer, reason


def gold(item: dict) -> str | tuple[str, ...]:
    """The reference answer as the verifier takes it: a tuple for answer lists (stored as JSON)."""
    if item.get("answer_format") == "list":
        return tuple(json.loads(item["answer"]))
    return str(item["answer"])


def output_program(item: dict, output: str) -> str:
    """The program a code output stands for: its fenced block when that block defines the entry point,
    else the prompt followed by the output (a HumanEval completion continues its prompt)."""
    from redstar_training.verify.extract import extract_code

    block = extract_code(output, "legacy")
    entry = item.get("entry_point")
    if block and (not entry or f"def {entry}" in block):
        return block
    if entry:
        return item["problem"] + (block or output)
    return block or output


def code_task(item: dict, output: str):
    """HumanEval items carry test code (`check(candidate)`); stdin/stdout and LiveCodeBench items carry
    JSON test cases, run against the output's last fenced block."""
    import json

    from redstar_training.verify.code import CodeTask, task_from_tests
    from redstar_training.verify.extract import extract_code

    tests = item.get("tests")
    try:
        spec = json.loads(tests) if isinstance(tests, str) else tests
    except json.JSONDecodeError:
        spec = None
    if isinstance(spec, (list, dict)) and "test" not in spec:
        return task_from_tests(extract_code(output, "legacy") or output, spec, entry_point=item.get("entry_point"))
    return CodeTask(output_program(item, output), tests, item.get("entry_point"))


def judge_outputs(
    items: Sequence[dict],
    outputs: Sequence[str],
    finish_reasons: Sequence[str],
    mode: str,
    verifier: MathVerifier,
    code_cache=None,
) -> list[Judged]:
    """One (status, extracted, reason) per output, in order; code items run in the sandbox (a program
    judged before on the same tests, with `code_cache`, is not run again)."""
    judged: list[Judged | None] = [None] * len(items)
    code = [i for i, item in enumerate(items) if item.get("verifier") == "code"]
    if code:
        from redstar_training.verify.code import verify_code_batch

        runnable = []
        for i in code:
            try:
                runnable.append((i, code_task(items[i], outputs[i])))
            except (ValueError, KeyError, TypeError) as exc:
                judged[i] = ("error", None, f"benchmark tests unusable: {exc}")
        for (i, _), v in zip(runnable, verify_code_batch([t for _, t in runnable], cache=code_cache), strict=True):
            judged[i] = (v.status, None, v.reason)
    rest = [i for i in range(len(items)) if judged[i] is None]
    tasks = [
        MathTask(
            gold(items[i]),
            outputs[i],
            answer_format=items[i].get("answer_format") or "math",
            mode=mode,
            finish_reason=finish_reasons[i],
            tolerance=items[i].get("tolerance"),
        )
        for i in rest
    ]
    for i, verdict in zip(rest, verifier.verify(tasks) if tasks else [], strict=True):
        judged[i] = (verdict.status, verdict.extracted, verdict.reason)
    return judged  # type: ignore[return-value]
