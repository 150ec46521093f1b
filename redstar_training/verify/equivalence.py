"""Is a predicted answer equivalent to the reference? Plain numbers exactly, anything else through
math-verify (sympy), after normalizations for the answer formats benchmarks use.

This module runs inside the verifier's worker processes (see `pool.py`), where a hard deadline
bounds every call: math-verify's own alarm-based timeouts are turned off there (`inner_timeout=None`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from redstar_training.verify.exact import FLOAT_ROUNDING as _FLOAT_ROUNDING
from redstar_training.verify.exact import exactly_equal
from redstar_training.verify.extract import answer_region, choice_letter, extract_answer, extract_choice

VERIFIER_VERSION = "verify-v3"  # v3: exact rationals, pi and root multiples, tuples without sympy
STATUSES = ("correct", "wrong", "no_answer", "timeout", "error")
ANSWER_FORMATS = ("math", "number", "list", "interval", "choice")

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_MAX_FAST_DIGITS = 400
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
_SCIENTIFIC = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)[eE]([+-]?\d+)(?![\w.])")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree")
_COLUMN_VECTOR = re.compile(r"\\begin\{[pb]matrix\}(.*?)\\end\{[pb]matrix\}", re.S)


@dataclass(frozen=True)
class Verdict:
    status: str
    reason: str
    extracted: str | None

    @property
    def correct(self) -> bool:
        return self.status == "correct"


@dataclass(frozen=True)
class MathTask:
    """One check: `output` is a model output (its answer is extracted as `mode` says) or, with
    `extracted=True`, an answer already extracted. `gold` is a string, or a list for answer lists."""

    gold: str | tuple[str, ...]
    output: str
    extracted: bool = False
    answer_format: str = "math"
    mode: str = "strict"
    finish_reason: str = "stop"
    tolerance: float | None = None


def plain_number(s: str) -> Fraction | None:
    """ "025" -> 25, "27.0" -> 27, "1,234" -> 1234, "$-3$" -> -3; None for anything that is not a plain number."""
    if len(s) > _MAX_FAST_DIGITS:  # int() of huge digit strings is slow (and capped): leave it to a worker
        return None
    s = s.replace(" ", "").replace("\\!", "").strip("$").removesuffix(".")
    if "," in s:  # thousands separators only; "84,69" is a list of two numbers
        if not _THOUSANDS.match(s):
            return None
        s = s.replace(",", "")
    return Fraction(s) if _NUMBER.match(s) else None


def _column_vector_as_tuple(m: re.Match) -> str:
    rows = [r.strip() for r in m.group(1).split("\\\\") if r.strip()]
    if len(rows) > 1 and all("&" not in r for r in rows):
        return "(" + ", ".join(rows) + ")"
    return m.group(0)


def normalize(answer: str) -> str:
    """Spellings math-verify misreads, rewritten: `\\varnothing`, `\\sqrt{-1}`, `1e-3`, `\\dfrac`, column
    vectors (read as intervals otherwise: compared as tuples), surrounding `$`."""
    s = answer.strip().strip("$").strip()
    s = s.replace("\\varnothing", "\\emptyset").replace("\\sqrt{-1}", "i").replace("\\dfrac", "\\frac")
    s = s.replace("\\tfrac", "\\frac")
    s = _SCIENTIFIC.sub(lambda m: f"{m.group(1)}\\times 10^{{{m.group(2)}}}", s)
    return _COLUMN_VECTOR.sub(_column_vector_as_tuple, s)


def _gold_text(gold: str | tuple[str, ...]) -> str:
    if isinstance(gold, str):
        return gold
    return ", ".join(g.strip().strip("$") for g in gold)


def math_equal(gold: str, pred: str, *, interval: bool = False, inner_timeout: int | None = None) -> bool:
    """Symbolic equivalence. Degrees in the reference also accept radians (`90^\\circ` = `\\pi/2`);
    `interval` lets `1<x<3` match `(1,3)` where the benchmark means a solution set."""
    from math_verify import parse, verify  # sympy: loaded in the worker processes, not by importers

    g, p = normalize(gold), normalize(pred)
    candidates = [g]
    if _DEGREES.search(g) and "\\pi" in p:
        candidates.append(f"\\frac{{({_DEGREES.sub('', g)})\\pi}}{{180}}")
    pred_parsed = parse(f"${p}$", parsing_timeout=inner_timeout)
    if not pred_parsed:
        return False
    for candidate in candidates:
        gold_parsed = parse(f"${candidate}$", parsing_timeout=inner_timeout)
        if gold_parsed and verify(
            gold_parsed, pred_parsed, allow_set_relation_comp=interval, timeout_seconds=inner_timeout
        ):
            return True
    return False


def split_top_level(answer: str) -> list[str]:
    """`(1,2), 3, \\{4,5\\}` -> [`(1,2)`, `3`, `\\{4,5\\}`]: commas outside any bracket."""
    parts, depth, current = [], 0, []
    for ch in normalize(answer):
        depth += ch in "([{" and 1 or (ch in ")]}" and -1 or 0)
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def list_equal(golds: list[str], pred: str, tolerance: float | None, inner_timeout: int | None) -> bool:
    """OlympiadBench answer lists: the same items in any order, each matched once."""
    items = split_top_level(pred)
    if len(items) != len(golds):
        return False
    unmatched = list(golds)
    for item in items:
        for gold in unmatched:
            same = numbers_equal(gold, item, tolerance)
            if same or (same is None and math_equal(gold, item, inner_timeout=inner_timeout)):
                unmatched.remove(gold)
                break
        else:
            return False
    return True


def numbers_equal(gold: str, pred: str, tolerance: float | None = None) -> bool | None:
    """Comparison when both sides are plain numbers, None otherwise: exact for integers, to 6 decimals
    when either has a decimal point (math-verify's rule, so a pair gets the same verdict on either path),
    or within `tolerance` where the benchmark gives one."""
    g, p = plain_number(gold), plain_number(pred)
    if g is None or p is None:
        return None
    if tolerance:
        return abs(g - p) <= Fraction(tolerance)
    if "." in gold or "." in pred:  # as math-verify compares floats: rounded to 6 decimals
        return round(g, _FLOAT_ROUNDING) == round(p, _FLOAT_ROUNDING)
    return g == p


def find_answer(task: MathTask) -> str | None:
    if task.answer_format == "choice":
        if task.extracted:
            return choice_letter(task.output) or task.output.strip() or None
        return extract_choice(task.output, task.mode)
    if task.extracted:
        return task.output.strip().strip("$").strip() or None
    return extract_answer(task.output, task.mode)


def no_answer(task: MathTask) -> Verdict:
    if task.finish_reason == "length":
        why = "truncated before a final answer"
    elif not task.extracted and answer_region(task.output) is None:
        why = "ends inside its thinking, with no final answer"
    else:
        why = "no final-answer marker"
    return Verdict("no_answer", why, None)


def quick_verdict(task: MathTask, answer: str) -> Verdict | None:
    """The verdict when no sympy is needed (choice letters, plain numbers, the exact forms of
    `exact.py`: rationals, rational multiples of pi and square roots, tuples of them); None when it is."""
    gold = _gold_text(task.gold)
    if task.answer_format == "choice":
        ok = (choice_letter(gold) or gold.strip().upper()) == answer.upper()
        return _verdict(ok, gold, answer)
    same = numbers_equal(gold, answer, task.tolerance)
    if same is None and task.answer_format in ("math", "number") and not task.tolerance:
        same = exactly_equal(gold, answer)
    return None if same is None else _verdict(same, gold, answer)


def judge(task: MathTask, inner_timeout: int | None = None) -> Verdict:
    """The full verdict for one task, in this process."""
    if task.answer_format not in ANSWER_FORMATS:
        return Verdict("error", f"unknown answer format {task.answer_format!r}; known: {ANSWER_FORMATS}", None)
    answer = find_answer(task)
    if answer is None:
        return no_answer(task)
    quick = quick_verdict(task, answer)
    if quick is not None:
        return quick
    gold = _gold_text(task.gold)
    try:
        golds = split_top_level(gold) if task.answer_format == "list" else [gold]
        if len(golds) > 1:
            ok = list_equal(golds, answer, task.tolerance, inner_timeout)
        else:
            ok = math_equal(gold, answer, interval=task.answer_format == "interval", inner_timeout=inner_timeout)
    except TimeoutError:
        return Verdict("timeout", "math-verify timed out", answer)
    except Exception as exc:  # a verifier bug must not lose the row: record it
        return Verdict("error", f"{type(exc).__name__}: {exc}"[:500], answer)
    return _verdict(ok, gold, answer)


def _verdict(ok: bool, gold: str, answer: str) -> Verdict:
    if ok:
        return Verdict("correct", "matches reference", answer)
    return Verdict("wrong", f"extracted {answer[:200]!r} != reference {gold[:200]!r}", answer)
