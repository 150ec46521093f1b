"""The embedded default's code teacher: programs that compute what the arithmetic family computes.

A problem asks for a program that reads k integers from one line and prints their sum ("Write a
program that reads 3 integers from one line of standard input and prints their sum. Example: ...",
the first test as its example). The teacher
reasons the way the arithmetic teacher does: it works the first test's sum column by column (the
same per-column slips), decides on a program, and writes it in one fenced block. Programs slip as
people's do, more often with more operands: the numbers left as strings (concatenation), one
operand dropped, a minus for a plus. A mental run on the first test sometimes catches the slip and
the program is rewritten; the tests in the sandbox catch the rest. Samples are seeded by (teacher
seed, problem id, sample index).
"""

from __future__ import annotations

import hashlib
import json
import random
import re

from redstar_training.teachers.procedural import ProceduralTeacherConfig, TeacherSample, _columns

_PROBLEM = re.compile(
    r"^Write a program that reads (\d+) integers from one line of standard input and prints their sum\."
    r" Example: for the input `[\d ]+` it prints `\d+`\.$"
)
CORRECT = "print(sum(map(int, input().split())))"
SLIPS = {  # what a slip writes instead, and why it is wrong
    "strings": "print(''.join(input().split()))",  # the numbers never converted: concatenated
    "drop": "xs = list(map(int, input().split()))\nprint(sum(xs[:-1]))",  # the last operand forgotten
    "minus": "a, *rest = map(int, input().split())\nprint(a - sum(rest))",  # a minus for a plus
}


def code_problem(k: int, tests: str) -> str:
    """The statement, with the first test as its example (as problem sets give one; it also makes
    each problem's text, hence its content id, its own)."""
    spec = json.loads(tests)
    example, result = spec["inputs"][0].strip(), spec["outputs"][0].strip()
    return (
        f"Write a program that reads {k} integers from one line of standard input and prints their sum."
        f" Example: for the input `{example}` it prints `{result}`."
    )


def code_tests(k: int, digits: tuple[int, int], rng: random.Random, count: int = 5) -> str:
    """TACO-style tests: `{"inputs": [...], "outputs": [...]}` of `count` random lines of k integers."""
    inputs, outputs = [], []
    for _ in range(count):
        xs = [rng.randrange(0, 10 ** rng.randint(*digits)) for _ in range(k)]
        inputs.append(" ".join(map(str, xs)) + "\n")
        outputs.append(f"{sum(xs)}\n")
    return json.dumps({"inputs": inputs, "outputs": outputs})


def solve_code(
    problem_text: str, tests: str, sample_index: int, problem_id: str, cfg: ProceduralTeacherConfig
) -> TeacherSample:
    """One sampled trace: think block with the first test worked out and a mental run, then the program."""
    m = _PROBLEM.match(problem_text.strip())
    if not m:
        raise ValueError(f"procedural code teacher cannot read problem {problem_text!r}")
    k = int(m.group(1))
    first = json.loads(tests)["inputs"][0].split()
    key = f"{cfg.seed}:{problem_id}:{sample_index}".encode()
    rng = random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))
    body = [f"read {k} integers, print the sum", f"test: {' '.join(first)}"]
    total = int(first[0])
    for x in first[1:]:  # the first test's sum, column by column (the arithmetic teacher's slips)
        lines, total_next = _columns(total, "+", int(x), rng, cfg)
        body += [f"{total}+{x}", *lines, f"={total_next}"]
        total = total_next
    slip_chance = min(0.9, 4 * cfg.slip_per_column * (k - 1) + cfg.slip_per_carry)
    program = CORRECT
    if rng.random() < slip_chance:
        program = SLIPS[rng.choice(sorted(SLIPS))]
        if rng.random() < cfg.catch_rate:
            body.append(f"run on the test: {_mental_run(program, first)} but expected {total}, rewrite")
            program = CORRECT
    body.append(f"run on the test: {_mental_run(program, first)} ok")
    text = "<think>\n" + "\n".join(body) + "\n</think>\n```python\n" + program + "\n```"
    return TeacherSample(text=text, finish_reason="stop", completion_tokens=len(text.split()))


def _mental_run(program: str, numbers: list[str]) -> str:
    """What the program prints on the test, as the teacher imagines running it."""
    xs = [int(x) for x in numbers]
    if program == SLIPS["strings"]:
        return "".join(numbers)
    if program == SLIPS["drop"]:
        return str(sum(xs[:-1]))
    if program == SLIPS["minus"]:
        return str(xs[0] - sum(xs[1:]))
    return str(sum(xs))
