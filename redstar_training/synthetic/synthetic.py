"""A fast synthetic teacher for scale runs: long traces whose final answers follow a fixed mix of the kinds
real math data has (`KINDS`), so verification at scale meets what it meets in a real run, for nothing
but string work. Each sample answers with a spelling of the gold answer (equivalent, differently written)
or a wrong one, and a problem's samples use one to three distinct predictions, as when a teacher agrees
with itself. Everything is seeded by (seed, problem id, sample index)."""

from __future__ import annotations

import hashlib
import random
import re
from functools import lru_cache

TEACHER_ID = "synthetic-mix-v1"
KINDS = (("integer", 0.50), ("fraction", 0.15), ("latex", 0.15), ("tuple", 0.10), ("choice", 0.10))


def _rng(*parts) -> random.Random:
    return random.Random(int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "big"))


def _kind(rng: random.Random) -> str:
    x, total = rng.random(), 0.0
    for kind, share in KINDS:
        total += share
        if x < total:
            return kind
    return KINDS[-1][0]


def gold_answer(kind: str, rng: random.Random) -> str:
    """A gold answer of one kind, written as datasets write them."""
    if kind == "integer":
        return str(rng.randint(-1000, 1_000_000))
    if kind == "fraction":
        p, q = rng.randint(1, 5000), rng.choice([2, 4, 5, 8, 10, 16, 20, 25, 40, 50, 80, 100, 125, 200])
        return f"\\frac{{{p + (p % q == 0)}}}{{{q}}}"
    if kind == "latex":
        a, b = rng.randint(2, 3000), rng.choice([2, 3, 5, 6, 7, 10, 11, 13, 14, 15])
        return f"{a}\\sqrt{{{b}}}" if rng.random() < 0.5 else f"\\frac{{{a}\\pi}}{{{b}}}"
    if kind == "tuple":
        x, y = rng.randint(-999, 999), rng.randint(1000, 9999)
        return f"({x}, {y})" if rng.random() < 0.5 else f"[{x}, {y})"
    return rng.choice("ABCDE") if rng.random() < 0.5 else f"\\text{{{rng.choice(['yes', 'no', 'odd', 'even'])}}}"


_INT = re.compile(r"-?\d+")
_FRAC = re.compile(r"\\frac\{(\d+)\}\{(\d+)\}")
_SQRT = re.compile(r"(\d+)\\sqrt\{(\d+)\}")
_PI = re.compile(r"\\frac\{(\d+)\\pi\}\{(\d+)\}")
_PAIR = re.compile(r"([(\[])(-?\d+), (-?\d+)([)\]])")
_TEXT = re.compile(r"\\text\{(\w+)\}")


def variants(gold: str) -> tuple[list[str], list[str]]:
    """(equivalent spellings, wrong answers) of a gold answer made by `gold_answer`."""
    if _INT.fullmatch(gold):
        n = int(gold)
        return [f"{n}.0", f"{n:,}" if abs(n) >= 1000 else f"+{n}" if n > 0 else f"{n}.00"], [str(n + 1), str(n - 3)]
    if m := _FRAC.fullmatch(gold):
        p, q = int(m[1]), int(m[2])
        exact = f"{p / q:.12g}"  # q divides a power of ten: the decimal is exact
        return [exact, f"{p}/{q}", f"\\dfrac{{{p}}}{{{q}}}"], [f"\\frac{{{q}}}{{{p}}}", f"{p / q + 0.1:.12g}"]
    if m := _SQRT.fullmatch(gold):
        a, b = int(m[1]), int(m[2])
        return [f"\\sqrt{{{a * a * b}}}", f"{a} \\sqrt{{{b}}}"], [f"{a + 1}\\sqrt{{{b}}}"]
    if m := _PI.fullmatch(gold):
        a, b = int(m[1]), int(m[2])
        return [f"{a}\\pi/{b}", f"\\frac{{{a}}}{{{b}}}\\pi"], [f"\\frac{{{b}\\pi}}{{{a}}}"]
    if m := _PAIR.fullmatch(gold):
        o, x, y, c = m.groups()
        return [f"{o}{x},{y}{c}"], [f"{o}{y}, {x}{c}" if o == "(" else f"({x}, {y}]"]
    if m := _TEXT.fullmatch(gold):
        word = m[1]
        return [word, f"\\text{{{word.capitalize()}}}"], [{"yes": "no", "no": "yes"}.get(word, "prime")]
    return [f"({gold})", f"\\text{{{gold}}}"], [next(c for c in "ABCDE" if c != gold)]


def problem(index: int, seed: int) -> dict:
    """One problem: its text (about 300 characters) and gold answer, with the answer kind."""
    rng = _rng("problem", seed, index)
    kind = _kind(rng)
    gold = gold_answer(kind, rng)
    words = " ".join(rng.choice(_vocabulary()) for _ in range(rng.randint(35, 55)))
    text = f"{words.capitalize()}. Find the value asked for (problem {index})."
    return {"problem": text, "answer": gold, "kind": kind}


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[str, ...]:
    rng = random.Random(7)
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]
    return tuple(sorted({"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(30_000)}))


@lru_cache(maxsize=1)
def _paragraphs() -> tuple[str, ...]:
    """4096 reasoning paragraphs of about 500 characters; a trace is 16 of them in a seeded order."""
    rng = random.Random(11)
    vocab = _vocabulary()
    steps = ("First,", "Then", "Check:", "Wait,", "So", "Hence", "Let me verify:", "Alternatively,")
    out = []
    for _ in range(4096):
        words = " ".join(rng.choice(vocab) for _ in range(rng.randint(60, 80)))
        out.append(f"{rng.choice(steps)} {words} = {rng.randint(0, 999)}.")
    return tuple(out)


def predictions(problem_id: str, gold: str, samples: int, seed: int) -> list[str]:
    """The answer each of a problem's samples commits to: 1, 2 or 3 distinct ones (on average 1.8),
    the first the gold as written or another spelling of it, then a wrong one, then a spelling."""
    rng = _rng("predictions", seed, problem_id)
    same, wrong = variants(gold)
    distinct = 1 + (rng.random() < 0.5) + (rng.random() < 0.3)
    options = [gold if rng.random() < 0.6 else rng.choice(same), rng.choice(wrong), rng.choice(same)][:distinct]
    return [options[min(i, distinct - 1)] for i in range(samples)]


def trace(problem_id: str, sample_index: int, prediction: str, seed: int) -> str:
    """About 8 KB: a <think> block of 16 paragraphs, then a short solution with the boxed answer."""
    paragraphs = _paragraphs()
    h = int.from_bytes(hashlib.blake2b(f"{seed}|{problem_id}|{sample_index}".encode(), digest_size=8).digest(), "big")
    picked = [paragraphs[(h >> (4 * k)) % 4096 if k < 12 else (h * (k + 1)) % 4096] for k in range(16)]
    return "<think>\n" + "\n\n".join(picked) + "\n</think>\n\nThe answer is $\\boxed{" + prediction + "}$."
