"""The embedded default's code teacher: programs whose one constant must be worked out by arithmetic.

A problem asks for a program that reads k integers from one line and prints their sum plus a fixed
number c that the statement does not give: only its example does ("Example: input `37 45`, output
`89`", the first test). The program is one line, but its constant has to be computed, and that is
where reasoning pays, as in the arithmetic family: the teacher works the example's sum column by
column (the same per-column slips), subtracts it from the example's output to find c, decides on a
program and writes it in one fenced block. A slip in the sum gives a wrong c; the program itself
can slip too, more often with more operands (the numbers left as strings, one operand dropped, a
minus for a plus). A mental run on the example sometimes catches a program slip and the program is
rewritten; the tests in the sandbox catch the rest. Samples are seeded by (teacher seed, problem id,
sample index).
"""

from __future__ import annotations

import hashlib
import json
import random
import re

from redstar_training.teachers.procedural import ProceduralTeacherConfig, TeacherSample, worked

_PROBLEM = re.compile(
    r"^Write a program that reads (\d+) integers from one line and prints their sum plus a fixed number\."
    r" Example: input `([\d ]+)`, output `(\d+)`\.$"
)
PROGRAMS = {  # the correct program and what each slip writes instead (and why that is wrong)
    "correct": "print(sum(map(int, input().split()))+{c})",
    "strings": "print(int(''.join(input().split()))+{c})",  # the numbers never added: concatenated
    "drop": "xs = list(map(int, input().split()))\nprint(sum(xs[:-1])+{c})",  # the last operand forgotten
    "minus": "a, *rest = map(int, input().split())\nprint(a-sum(rest)+{c})",  # a minus for a plus
}
SLIPS = sorted(k for k in PROGRAMS if k != "correct")


def program(kind: str, c: int) -> str:
    """The program of `kind` (`correct` or a slip) with constant c."""
    return PROGRAMS[kind].format(c=c)


def code_problem(k: int, tests: str) -> str:
    """The statement, with the first test as its only clue to the constant (as problem sets give an
    example; it also makes each problem's text, hence its content id, its own)."""
    spec = json.loads(tests)
    example, result = spec["inputs"][0].strip(), spec["outputs"][0].strip()
    return (
        f"Write a program that reads {k} integers from one line and prints their sum plus a fixed number."
        f" Example: input `{example}`, output `{result}`."
    )


def code_tests(k: int, c: int, digits: tuple[int, int], rng: random.Random, count: int = 3) -> str:
    """TACO-style tests: `{"inputs": [...], "outputs": [...]}` of `count` random lines of k integers,
    each output their sum plus c."""
    inputs, outputs = [], []
    for _ in range(count):
        xs = [rng.randrange(0, 10 ** rng.randint(*digits)) for _ in range(k)]
        inputs.append(" ".join(map(str, xs)) + "\n")
        outputs.append(f"{sum(xs) + c}\n")
    return json.dumps({"inputs": inputs, "outputs": outputs})


def solve_code(problem_text: str, sample_index: int, problem_id: str, cfg: ProceduralTeacherConfig) -> TeacherSample:
    """One sampled trace: the example's sum worked out, the constant found, a mental run, the program."""
    m = _PROBLEM.match(problem_text.strip())
    if not m:
        raise ValueError(f"procedural code teacher cannot read problem {problem_text!r}")
    k, numbers, expected = int(m.group(1)), m.group(2).split(), int(m.group(3))
    key = f"{cfg.seed}:{problem_id}:{sample_index}".encode()
    rng = random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))
    body = [f"test: {' '.join(numbers)} -> {expected}"]
    total = int(numbers[0])
    for x in numbers[1:]:  # the example's sum, column by column (the arithmetic teacher's slips)
        lines, total = worked(total, "+", int(x), rng, cfg)
        body += lines
    c = expected - total
    body.append(f"c={expected}-{total}={c}")
    kind = "correct"
    if rng.random() < min(0.9, 4 * cfg.slip_per_column * (k - 1) + cfg.slip_per_carry):
        kind = rng.choice(SLIPS)
        if rng.random() < cfg.catch_rate:
            body.append(f"run on the test: {_mental_run(kind, numbers, c)} but expected {expected}, rewrite")
            kind = "correct"
    body.append(f"run on the test: {_mental_run(kind, numbers, c)} ok")
    text = "<think>\n" + "\n".join(body) + "\n</think>\n```python\n" + program(kind, c) + "\n```"
    return TeacherSample(text=text, finish_reason="stop", completion_tokens=len(text.split()))


def _mental_run(kind: str, numbers: list[str], c: int) -> int:
    """What the program prints on the example, as the teacher imagines running it."""
    xs = [int(x) for x in numbers]
    printed = {"strings": int("".join(numbers)), "drop": sum(xs[:-1]), "minus": xs[0] - sum(xs[1:])}
    return printed.get(kind, sum(xs)) + c
