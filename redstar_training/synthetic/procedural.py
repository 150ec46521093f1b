"""The embedded default's teacher: column arithmetic written out step by step, with checks. It slips as a
real teacher does (more with more digits and carries), and its closing check sometimes catches the slip and
redoes the sum and sometimes not, so rejection sampling and pass-rate difficulty have real work to do.
Samples are seeded by (teacher seed, problem id, sample index)."""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

TEACHER_ID = "procedural-arith-v1"
PROMPT_VERSION = "arith-v1"

_PROBLEM = re.compile(r"^Compute (\d+) ([+-]) (\d+)\.$")


@dataclass(frozen=True)
class ProceduralTeacherConfig:
    """Slip and catch rates; a slip chance applies per column and grows with each carry or borrow."""

    slip_per_column: float = 0.03
    slip_per_carry: float = 0.05
    catch_rate: float = 0.5
    seed: int = 0


@dataclass(frozen=True)
class TeacherSample:
    """One completion; `completion_tokens` counts whitespace-separated words, as this teacher has no tokenizer."""

    text: str
    finish_reason: str
    completion_tokens: int


def parse_problem(text: str) -> tuple[int, str, int]:
    """Reads 'Compute A + B.' back into operands; the teacher only solves what the generator wrote."""
    m = _PROBLEM.match(text.strip())
    if not m:
        raise ValueError(f"procedural teacher cannot read problem {text!r}: expected 'Compute A + B.'")
    return int(m.group(1)), m.group(2), int(m.group(3))


def _columns(a: int, op: str, b: int, rng: random.Random, cfg: ProceduralTeacherConfig) -> tuple[list[str], int]:
    """Works the columns from the ones up; returns the written lines and the (possibly wrong) result."""
    da, db = str(a)[::-1], str(b)[::-1]
    lines, digits, carry = [], [], 0
    for i in range(max(len(da), len(db))):
        x = int(da[i]) if i < len(da) else 0
        y = int(db[i]) if i < len(db) else 0
        if op == "+":
            total = x + y + carry
            digit, new_carry = total % 10, total // 10
        else:
            new_carry = 1 if x - y - carry < 0 else 0
            digit = 10 * new_carry + x - y - carry
        if rng.random() < cfg.slip_per_column + cfg.slip_per_carry * (carry + new_carry):
            digit = (digit + rng.choice([1, 9])) % 10
        if op == "+":
            lines.append(f"{x}+{y}" + ("+1" if carry else "") + f"={digit + 10 * new_carry}")
        else:
            lines.append(f"{10 * new_carry + x}-{y}" + ("-1" if carry else "") + f"={digit}")
        digits.append(str(digit))
        carry = new_carry
    if op == "+" and carry:
        digits.append("1")
    return lines, int("".join(reversed(digits)))


def worked(a: int, op: str, b: int, rng: random.Random, cfg: ProceduralTeacherConfig) -> tuple[list[str], int]:
    """The written sum: operands padded to one width, the columns, and the (possibly wrong) result;
    the code family writes its program's constant the same way, which is what lets the two domains share."""
    lines, result = _columns(a, op, b, rng, cfg)
    width = max(len(str(a)), len(str(b)))
    return [f"{a:0{width}d}{op}{b:0{width}d}", *lines, f"={result}"], result


def checked(a: int, op: str, b: int, rng: random.Random, cfg: ProceduralTeacherConfig) -> tuple[list[str], int]:
    """The written sum and its check by the inverse operation: a caught slip is redone cleanly, a
    missed one stands. The code family works its program's constant the same way."""
    body, result = worked(a, op, b, rng, cfg)
    truth = a + b if op == "+" else a - b
    inverse = f"{result}-{b}" if op == "+" else f"{result}+{b}"
    if result != truth and rng.random() < cfg.catch_rate:
        checked = result - b if op == "+" else result + b
        body.append(f"check {inverse}={checked} no, redo")
        clean = random.Random(0)
        lines, result = _columns(a, op, b, clean, ProceduralTeacherConfig(0.0, 0.0, 0.0))
        body += [*lines, f"={result}"]
        inverse = f"{result}-{b}" if op == "+" else f"{result}+{b}"
    body.append(f"check {inverse}={a} ok")
    return body, result


def sample_rng(cfg: ProceduralTeacherConfig, problem_id: str, sample_index: int) -> random.Random:
    """The generator of one sample, seeded by (teacher seed, problem id, sample index)."""
    key = f"{cfg.seed}:{problem_id}:{sample_index}".encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def solve(problem_text: str, sample_index: int, problem_id: str, cfg: ProceduralTeacherConfig) -> TeacherSample:
    """One sampled trace: think block with column work and a check, then the boxed answer."""
    a, op, b = parse_problem(problem_text)
    if op == "-" and b > a:
        raise ValueError(f"procedural teacher expects a >= b for subtraction, got {problem_text!r}")
    body, result = checked(a, op, b, sample_rng(cfg, problem_id, sample_index), cfg)
    text = "<think>\n" + "\n".join(body) + "\n</think>\n\\boxed{" + str(result) + "}"
    return TeacherSample(text=text, finish_reason="stop", completion_tokens=len(text.split()))
