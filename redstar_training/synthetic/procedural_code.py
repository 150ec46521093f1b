"""The embedded default's code teacher: one-line programs that print the sum of k integers plus a constant
given as a sum still to be done ("... plus 23 + 45."). The teacher works the constant column by column as a
math trace does (the same slips, caught and missed), then writes the program, which can slip too; the
sandbox's tests catch the rest. A program-only student must get the constant without the column work, as
an answer-only math student must. Samples are seeded by (teacher seed, problem id, sample index)."""

from __future__ import annotations

import json
import random
import re

from redstar_training.synthetic.procedural import ProceduralTeacherConfig, TeacherSample, checked, sample_rng

_PROBLEM = re.compile(
    r"^Write a program that reads (\d+) integers from one line and prints their sum plus (\d+) \+ (\d+)\.$"
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


def code_problem(k: int, a: int, b: int) -> str:
    """The statement: k integers in, their sum plus the constant a + b out."""
    return f"Write a program that reads {k} integers from one line and prints their sum plus {a} + {b}."


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
    """One sampled trace: the constant worked out and checked as a math trace does, then the program."""
    m = _PROBLEM.match(problem_text.strip())
    if not m:
        raise ValueError(f"procedural code teacher cannot read problem {problem_text!r}")
    k, a, b = int(m.group(1)), int(m.group(2)), int(m.group(3))
    rng = sample_rng(cfg, problem_id, sample_index)
    body, c = checked(a, "+", b, rng, cfg)
    kind = "correct"
    if rng.random() < min(0.9, 4 * cfg.slip_per_column * (k - 1) + cfg.slip_per_carry):
        kind = rng.choice(SLIPS)
        if rng.random() < cfg.catch_rate:
            body.append(f"reread: all {k} numbers summed, rewrite")
            kind = "correct"
    body.append(f"c={c}")
    text = "<think>\n" + "\n".join(body) + "\n</think>\n```python\n" + program(kind, c) + "\n```"
    return TeacherSample(text=text, finish_reason="stop", completion_tokens=len(text.split()))
