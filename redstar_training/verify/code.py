"""Verdicts for programs: HumanEval-style (`check(candidate)` against an entry point) and
stdin/stdout pairs (TACO/APPS/LiveCodeBench style, compared token by token so trailing spaces and
newlines do not matter). Every run goes through the sandbox."""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from redstar_training.verify.cache import CodeVerdictCache, code_cache_key
from redstar_training.verify.code_types import CodeTask, CodeVerdict
from redstar_training.verify.sandbox import RunResult, SandboxLimits, run_python, run_python_tests

_STDERR_KEPT = 2000


def humaneval_check_program(program: str, tests: str, entry_point: str) -> str:
    return f"{program}\n\n{tests}\n\ncheck({entry_point})\n"


def same_output(actual: str, expected: str) -> bool:
    """Token by token (io_runner.py, which runs inside the sandbox, applies the same rule)."""
    return actual.split() == expected.split()


def _test_status(result: RunResult, passed: bool) -> str:
    if result.out_of_time:
        return "timeout"
    if result.output_limited:
        return "output_limit"
    if result.returncode != 0:
        return "runtime_error"
    return "passed" if passed else "failed"


def _record(index: int, result: RunResult, passed: bool) -> dict:
    return {
        "index": index,
        "passed": passed,
        "status": _test_status(result, passed),
        "returncode": result.returncode,
        "wall_s": result.wall_s,
        "stderr": result.stderr[-_STDERR_KEPT:],
    }


def _runner_record(r: dict) -> dict:
    result = RunResult(r["returncode"], "", r["stderr"], r["timed_out"], r["output_limited"], False, r["wall_s"])
    return _record(r["index"], result, r["passed"])


def syntax_error(source: str) -> str | None:
    """Why `source` is not a Python program, found by compiling it here (compiling runs nothing), so
    that prose, a math answer or a cut-off program costs no sandbox start; None when it compiles."""
    try:
        compile(source, "<program>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as exc:
        return f"not a Python program: {type(exc).__name__}: {str(exc)[:200]}"
    return None


def verify_code(task: CodeTask, *, limits: SandboxLimits | None = None, unsafe_no_sandbox: bool = False) -> CodeVerdict:
    """Runs one program against its tests in the sandbox; stops at the first failing io test."""
    base = limits or SandboxLimits()
    limits = replace(base, wall_s=task.timeout_s, cpu_s=max(1, math.ceil(task.timeout_s)))
    if task.tests is not None:
        if not task.entry_point:
            return CodeVerdict(False, "error", "missing field: entry_point (needed with tests)")
        source = humaneval_check_program(task.program, task.tests, task.entry_point)
        if (why := syntax_error(source)) is not None:
            return CodeVerdict(False, "wrong", why)
        result = run_python(source, limits=limits, unsafe_no_sandbox=unsafe_no_sandbox)
        records = [_record(0, result, result.ok)]
    elif task.io:  # every test in one sandbox start, stopping at the first failure
        if (why := syntax_error(task.program)) is not None:
            return CodeVerdict(False, "wrong", why)
        report = run_python_tests(task.program, list(task.io), limits, unsafe_no_sandbox=unsafe_no_sandbox)
        if isinstance(report, str):
            return CodeVerdict(False, "error", report)
        records = [_runner_record(r) for r in report]
    else:
        return CodeVerdict(False, "error", "missing field: tests (with entry_point) or io")
    failed = [r for r in records if not r["passed"]]
    if not failed:
        return CodeVerdict(True, "correct", f"passed {len(records)} test(s)", records)
    first = failed[0]
    status = "timeout" if first["status"] == "timeout" else "wrong"
    reason = f"test {first['index']}: {first['status']}"
    return CodeVerdict(False, status, reason, records, first["stderr"])


def verify_code_batch(
    tasks: Sequence[CodeTask], *, workers: int = 2, cache: CodeVerdictCache | None = None, **kwargs
) -> list[CodeVerdict]:
    """Verdicts in order; each program is its own sandbox start, so threads are enough here. With a
    cache, a (program, tests) pair judged before is not run again, and one repeated within the batch
    runs once."""
    keys = [code_cache_key(t) for t in tasks]
    known = cache.get_many(list(set(keys))) if cache else {}
    todo = {k: t for k, t in zip(keys, tasks, strict=True) if k not in known}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        fresh = dict(zip(todo, pool.map(lambda t: verify_code(t, **kwargs), todo.values()), strict=True))
    if cache and fresh:
        cache.put_many(fresh)
    return [known.get(k) or fresh[k] for k in keys]


def task_from_tests(program: str, tests: str | dict | list, timeout_s: float = 10.0, entry_point=None) -> CodeTask:
    """A CodeTask from a problem's stored tests: TACO/APPS `{"inputs": [...], "outputs": [...]}` (with
    `fn_name`: call-based), a list of `{input, output}`, LiveCodeBench's `public_test_cases` (a JSON
    string of `{input, output, testtype}`, testtype `stdin` or `functional`; the function name from
    `entry_point`, which may be LiveCodeBench's metadata JSON `{"func_name": ...}`), or HumanEval
    `{"test": code, "entry_point": name}`. ValueError says what is wrong with the tests."""
    import json

    spec = json.loads(tests) if isinstance(tests, str) else tests
    if isinstance(spec, dict) and "test" in spec:
        return CodeTask(program, spec["test"], spec.get("entry_point"), timeout_s=timeout_s)
    if isinstance(spec, dict) and "inputs" in spec:
        pairs = list(zip(spec["inputs"], spec["outputs"], strict=True))
        if spec.get("fn_name"):  # call-based: each input is the argument list
            io = tuple(("\n".join(json.dumps(a) for a in args) + "\n", _canonical_json(out)) for args, out in pairs)
            return CodeTask(functional_program(program, spec["fn_name"]), io=io, timeout_s=timeout_s)
        return CodeTask(program, io=tuple((_text(i), _text(o)) for i, o in pairs), timeout_s=timeout_s)
    if isinstance(spec, list):
        kinds = {t.get("testtype", "stdin") for t in spec}
        if kinds - {"stdin", "functional"} or len(kinds) > 1:
            raise ValueError(f"testtype must be all stdin or all functional, got {sorted(kinds)}")
        if kinds == {"functional"}:
            name = function_name(entry_point)
            io = tuple((_text(t["input"]), _canonical_json(json.loads(t["output"]))) for t in spec)
            return CodeTask(functional_program(program, name), io=io, timeout_s=timeout_s)
        return CodeTask(program, io=tuple((_text(t["input"]), _text(t["output"])) for t in spec), timeout_s=timeout_s)
    raise ValueError("tests must be {inputs, outputs}, a list of {input, output}, or {test, entry_point}")


def function_name(entry_point) -> str:
    """`maxSum`, or LiveCodeBench's metadata `{"func_name": "maxSum"}` (as a dict or a JSON string)."""
    import json

    if isinstance(entry_point, str) and entry_point.strip().startswith("{"):
        entry_point = json.loads(entry_point)
    if isinstance(entry_point, dict):
        entry_point = entry_point.get("func_name")
    if not entry_point or not str(entry_point).isidentifier():
        raise ValueError(
            f"functional tests need a function name (entry_point or metadata.func_name), got {entry_point!r}"
        )
    return str(entry_point)


def functional_program(program: str, name: str) -> str:
    """LeetCode style: the program defines `class Solution` (or a plain function `name`); each test's
    stdin holds one JSON argument per line, and the return value is printed as compact JSON."""
    return (
        f"{program}\n\n"
        "import json as _json, sys as _sys\n"
        "_args = [_json.loads(_line) for _line in _sys.stdin.read().splitlines() if _line.strip()]\n"
        f"_call = getattr(Solution(), {name!r}) if 'Solution' in globals() else {name}\n"
        "print(_json.dumps(_call(*_args), separators=(',', ':')))\n"
    )


def _canonical_json(value) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


def _text(value) -> str:
    return "\n".join(map(str, value)) if isinstance(value, list) else str(value)
