"""Is a predicted answer equivalent to the reference? Plain numbers exactly, anything else through
math-verify (sympy), after normalizations for the answer formats benchmarks use.

This module runs inside the verifier's worker processes (see `pool.py`), where a hard deadline
bounds every call: math-verify's own alarm-based timeouts are turned off there (`inner_timeout=None`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from redstar_training.verify.exact import FLOAT_ROUNDING as _FLOAT_ROUNDING
from redstar_training.verify.exact import exactly_equal
from redstar_training.verify.extract import answer_region, choice_letter, extract_answer, extract_choice

VERIFIER_VERSION = "verify-v4"  # bumped when any verdict could change; it enters verdict cache keys
STATUSES = ("correct", "wrong", "no_answer", "timeout", "error")
ANSWER_FORMATS = ("math", "number", "list", "interval", "choice")

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_MAX_FAST_DIGITS = 400
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
_SCIENTIFIC = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)[eE]([+-]?\d+)(?![\w.])")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree")
_COLUMN_VECTOR = re.compile(r"\\begin\{[pb]matrix\}(.*?)\\end\{[pb]matrix\}", re.S)
_ARRAY_MATRIX = re.compile(
    r"(?:\\left)?\s*[\[(]\s*\\begin\{array\}\{[^{}]*\}(.*?)\\end\{array\}\s*(?:\\right)?\s*[\])]", re.S
)
_MATRIX_ENVS = re.compile(r"\\(begin|end)\{(?:bmatrix|Bmatrix|vmatrix|matrix|smallmatrix)\}")
_RELATIONS = [  # one spelling for each relation, the one math-verify parses
    (re.compile(r">=|≥|\\geqslant|\\ge(?![a-zA-Z])"), "\\geq "),
    (re.compile(r"<=|≤|\\leqslant|\\le(?![a-zA-Z])"), "\\leq "),
    (re.compile(r"!=|≠|\\ne(?![a-zA-Z])"), "\\neq "),
    (re.compile(r"\\gt(?![a-zA-Z])"), ">"),
    (re.compile(r"\\lt(?![a-zA-Z])"), "<"),
]
_SPACING = re.compile(r"\s+|\\[,;:! ]|\\q?quad|~")
_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}")
_DECIMAL_COMMA = re.compile(r"-?\d+,\d+")
_SOLUTION_JOINERS = re.compile(r"\s*(?:;|\\text\{\s*(?:or|and)\s*\}|\b(?:or|and)\b)\s*")
_MATRIX = re.compile(r"^\\begin\{pmatrix\}((?:(?!\\(?:begin|end)\{pmatrix\}).)*)\\end\{pmatrix\}$", re.S)
_MEMBER = re.compile(r"\\in(?![a-zA-Z])")
_MEMBERSHIP = re.compile(r"^\s*[A-Za-z]\s*\\in\s*(.+)$", re.S)
_CHAIN = re.compile(r"^(?P<a>[^<>=]{1,80}?)\s*(?P<r1><|\\leq)\s*[A-Za-z]\s*(?P<r2><|\\leq)\s*(?P<b>[^<>=]{1,80})$")
_EQUATION_LHS = re.compile(r"^\s*([A-Za-z](?:_\{?\w{1,8}\}?)?(?:\([A-Za-z, ]{1,20}\))?)\s*=(?!=)")


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
    precision: int | None = None  # decimal places floats are compared to (math-verify's float_rounding)
    language: str | None = None  # the output's language: answer phrases, decimal commas (lenient.py)
    answer_read: bool = False  # `output` is the answer find_answer already read (sent to a worker): not read again

    def __post_init__(self):
        """Options a row may set, checked where the task is made: a bad one names itself."""
        from redstar_training.verify.extract import MODES
        from redstar_training.verify.lenient import language_code

        if self.mode not in MODES:
            raise ValueError(f"mode: unknown verification mode {self.mode!r}; known: {', '.join(MODES)}")
        if self.precision is not None and (
            isinstance(self.precision, bool) or not isinstance(self.precision, int) or not 0 <= self.precision <= 15
        ):
            raise ValueError(f"precision: {self.precision!r} is not a whole number of decimal places from 0 to 15")
        if self.tolerance is not None:
            if isinstance(self.tolerance, bool) or not isinstance(self.tolerance, (int, float)) or self.tolerance < 0:
                raise ValueError(f"tolerance: {self.tolerance!r} is not a non-negative number")
            if self.precision is not None:
                raise ValueError("precision and tolerance: give one of them, not both")
        if self.language is not None:
            code = language_code(self.language)
            object.__setattr__(self, "language", None if code == "en" else code)  # English is the default


def plain_number(s: str) -> Fraction | None:
    """ "025" -> 25, "27.0" -> 27, "1,234" -> 1234, "$-3$" -> -3; None for anything that is not a plain number."""
    if len(s) > _MAX_FAST_DIGITS:  # int() of huge digit strings is slow (and capped): leave it to a worker
        return None
    if ", " in s:  # "32, 349" is a list of two numbers
        return None
    s = s.replace(" ", "").replace("\\!", "").strip("$").removesuffix(".")
    if "," in s:  # thousands separators only; "84,69" is a list of two numbers
        if not _THOUSANDS.match(s):
            return None
        s = s.replace(",", "")
    return Fraction(s) if _NUMBER.match(s) else None


def _literal(text: str) -> Callable[[re.Match[str]], str]:
    """A `re.sub` replacement that inserts `text` as it is (its backslashes are not template escapes)."""
    return lambda _: text


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
    for pattern, spelling in _RELATIONS:
        s = pattern.sub(_literal(spelling), s)
    s = _ARRAY_MATRIX.sub(lambda m: f"\\begin{{pmatrix}}{m.group(1)}\\end{{pmatrix}}", s)
    s = _MATRIX_ENVS.sub(lambda m: f"\\{m.group(1)}{{pmatrix}}", s)
    return _COLUMN_VECTOR.sub(_column_vector_as_tuple, s)


def canonical_text(answer: str) -> str:
    """The spelling-blind form for the fast path: `$`, `\\left`/`\\right`, spacing commands and spaces
    gone, `\\dfrac` as `\\frac`, `\\text{}` unwrapped, a closing period dropped."""
    s = normalize(answer).replace("\\left", "").replace("\\right", "")
    s = _TEXT.sub(lambda m: m.group(1), s)
    return _SPACING.sub("", s).removesuffix(".").strip("$")


def same_text(gold: str, answer: str) -> bool:
    """Identical after normalization: always correct, whatever sympy would make of it."""
    g = canonical_text(gold)
    return bool(g) and g == canonical_text(answer)


def equation_sides(answer: str, chains: bool = False) -> tuple[str | None, str]:
    """(`y`, `3x+1`) for `y = 3x+1`; (None, answer) when it is not an equation with a simple left side;
    with `chains` (an answer, never a gold: `7 = 11a+c` states a relation), `2+3 = 5` gives (None, `5`)."""
    m = _EQUATION_LHS.match(answer)
    if m and answer.count("=") == 1:
        return m.group(1).replace(" ", ""), answer[m.end() :].strip()
    if chains and "=" in answer and not any(r in answer for r in ("\\leq", "\\geq", "\\neq", "<", ">", ",")):
        return None, answer.rsplit("=", 1)[1].strip()
    return None, answer


def _gold_text(gold: str | tuple[str, ...]) -> str:
    if isinstance(gold, str):
        return gold
    return ", ".join(g.strip().strip("$") for g in gold)


def math_equal(
    gold: str, pred: str, *, interval: bool = False, inner_timeout: int | None = None, precision: int | None = None
) -> bool:
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
            gold_parsed,
            pred_parsed,
            float_rounding=_FLOAT_ROUNDING if precision is None else precision,
            allow_set_relation_comp=interval,
            timeout_seconds=inner_timeout,
        ):
            return True
    return False


def split_top_level(answer: str) -> list[str]:
    """`(1,2), 3, \\{4,5\\}` -> [`(1,2)`, `3`, `\\{4,5\\}`]: commas outside any bracket."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in normalize(answer):
        depth += ch in "([{" and 1 or (ch in ")]}" and -1 or 0)
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def list_equal(
    golds: list[str], pred: str, tolerance: float | None, inner_timeout: int | None, precision: int | None = None
) -> bool:
    """OlympiadBench answer lists: the same items in any order, each matched once."""
    items = split_top_level(pred)
    if len(items) != len(golds):
        return False
    unmatched = list(golds)
    for item in items:
        for gold in unmatched:
            same = same_text(gold, item) or numbers_equal(gold, item, tolerance, precision)
            if same or (same is None and math_equal(gold, item, inner_timeout=inner_timeout, precision=precision)):
                unmatched.remove(gold)
                break
        else:
            return False
    return True


def numbers_equal(gold: str, pred: str, tolerance: float | None = None, precision: int | None = None) -> bool | None:
    """Comparison when both sides are plain numbers, None otherwise: exact for integers, to 6 decimals
    when either has a decimal point (math-verify's rule, so a pair gets the same verdict on either path),
    or within `tolerance` where the benchmark gives one."""
    g, p = plain_number(gold), plain_number(pred)
    if g is None or p is None:
        return None
    if tolerance:
        return abs(g - p) <= Fraction(tolerance)
    if "." in gold or "." in pred:  # as math-verify compares floats: rounded to 6 decimals
        places = _FLOAT_ROUNDING if precision is None else precision
        return round(g, places) == round(p, places)
    return g == p


def find_answer(task: MathTask) -> str | None:
    """The answer a task's output gives. In `lenient` mode an already-extracted answer is read the same
    way as an output: graders' stored answers are often sentences ("Therefore $x \\geq 5$.")."""
    lenient = task.mode == "lenient"
    if task.answer_read:
        return task.output
    if task.answer_format == "choice":
        if task.extracted and not lenient:
            return choice_letter(task.output) or task.output.strip() or None
        return extract_choice(task.output, task.mode, task.language)
    if task.extracted and not lenient:
        return task.output.strip().strip("$").strip() or None
    return extract_answer(task.output, task.mode, task.language)


def reference(task: MathTask) -> str:
    """The gold answer as text. `lenient` reads a gold written as prose or with delimiters as an
    answer too, as those graders parse both sides (decimal commas: `decimal_reading`)."""
    gold = _gold_text(task.gold)
    if task.mode != "lenient":
        return gold
    from redstar_training.verify.lenient import lenient_choice, lenient_gold

    if not isinstance(task.gold, str):  # an answer list: each item read on its own
        return ", ".join(lenient_gold(g, task.language) for g in task.gold)

    if task.answer_format == "choice":
        return choice_letter(gold) or lenient_choice(gold, task.language) or gold.strip()
    return lenient_gold(gold, task.language)


def decimal_reading(task: MathTask, text: str) -> str | None:
    """A bare `1,22` or `2,74` (gold or answer) read with a decimal comma, in lenient mode or a language
    that writes them; None otherwise. It is only an alternative: `-2,1` still matches the list `-2, 1`."""
    if not _DECIMAL_COMMA.fullmatch(text.strip()):
        return None
    from redstar_training.verify.lenient import DECIMAL_COMMA_LANGUAGES, decimal_comma

    if task.mode != "lenient" and task.language not in DECIMAL_COMMA_LANGUAGES:
        return None
    return decimal_comma(text.strip(), task.language or "en")


def no_answer(task: MathTask) -> Verdict:
    if task.finish_reason == "length":
        why = "truncated before a final answer"
    elif not task.extracted and answer_region(task.output) is None:
        why = "ends inside its thinking, with no final answer"
    else:
        why = "no final-answer marker"
    return Verdict("no_answer", why, None)


def quick_verdict(task: MathTask, answer: str) -> Verdict | None:
    """The verdict when no sympy is needed (identical text after normalization, choice letters, plain
    numbers, the exact forms of `exact.py`: rationals, rational multiples of pi and square roots,
    tuples of them); None when it is."""
    gold = reference(task)
    if task.answer_format == "choice":
        ok = (choice_letter(gold) or gold.strip().upper()) == answer.upper()
        return _verdict(ok, gold, answer)
    if same_text(gold, answer):
        return _verdict(True, gold, answer)
    g_alt, a_alt = decimal_reading(task, gold), decimal_reading(task, answer)
    if (g_alt or a_alt) and plain_number(a_alt or answer) is not None and plain_number(g_alt or gold) is not None:
        same = numbers_equal(g_alt or gold, a_alt or answer, task.tolerance, task.precision)
        return _verdict(bool(same), gold, answer)
    same = numbers_equal(gold, answer, task.tolerance, task.precision)
    if same is None and task.answer_format in ("math", "number") and not task.tolerance and task.precision is None:
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
    gold = reference(task)
    try:
        ok = _equivalent(task, gold, answer, inner_timeout)
    except TimeoutError:
        return Verdict("timeout", "math-verify timed out", answer)
    except Exception as exc:  # a verifier bug must not lose the row: record it
        return Verdict("error", f"{type(exc).__name__}: {exc}"[:500], answer)
    return _verdict(ok, gold, answer)


def _equivalent(task: MathTask, gold: str, answer: str, inner_timeout: int | None) -> bool:
    """Lists item by item, else symbolic equivalence; then, for an equation on either side, its value
    side (`y = 3x+1` against `3x+1`, or against `y=3x+1` when the left sides agree)."""
    golds = split_top_level(gold) if task.answer_format == "list" else [gold]
    if len(golds) > 1:
        return list_equal(golds, answer, task.tolerance, inner_timeout, task.precision)
    matrices = matrices_equal(gold, answer, task, inner_timeout)
    if matrices is not None:
        return matrices
    interval = task.answer_format == "interval"
    if math_equal(gold, answer, interval=interval, inner_timeout=inner_timeout, precision=task.precision):
        return True
    (g_lhs, g_rhs), (a_lhs, a_rhs) = equation_sides(normalize(gold)), equation_sides(normalize(answer), chains=True)
    if (g_rhs, a_rhs) != (normalize(gold), normalize(answer)) and (g_lhs is None or a_lhs in (None, g_lhs)):
        if same_text(g_rhs, a_rhs) or numbers_equal(g_rhs, a_rhs, task.tolerance, task.precision):
            return True
        if math_equal(g_rhs, a_rhs, interval=interval, inner_timeout=inner_timeout, precision=task.precision):
            return True
    g_set, a_set = solution_set(normalize(gold)), solution_set(normalize(answer))
    if _MEMBER.search(gold + answer) and (g_set, a_set) != (normalize(gold), normalize(answer)):
        # `x \\in [1,3]` against `1 \\le x \\le 3`; a bare `(1,3)` may be a point, so it needs the `\\in`
        if same_text(g_set, a_set) or math_equal(g_set, a_set, interval=True, inner_timeout=inner_timeout):
            return True
    if task.mode == "lenient":
        items, gold_items = solution_items(answer), solution_items(gold)
        if 1 < len(gold_items) == len(items):
            return list_equal(gold_items, ", ".join(items), task.tolerance, inner_timeout, task.precision)
    return False


def solution_set(answer: str) -> str:
    """`x \\in [1,3]` and `1 \\leq x \\leq 3` as the interval `[1,3]`; anything else unchanged."""
    m = _MEMBERSHIP.match(answer)
    if m:
        return m.group(1).strip()
    m = _CHAIN.match(answer.strip())
    if m:
        left, right = "(" if m["r1"] == "<" else "[", ")" if m["r2"] == "<" else "]"
        return f"{left}{m['a'].strip()},{m['b'].strip()}{right}"
    return answer


def matrix_entries(answer: str) -> list[list[str]] | None:
    """Rows of entries of a `pmatrix` (after `normalize`, bmatrix and arrays are pmatrix too); None if not one."""
    m = _MATRIX.match(answer.strip())
    if not m:
        return None
    rows = [r for r in m.group(1).split("\\\\") if r.strip()]
    return [[e.strip() for e in r.split("&")] for r in rows]


def matrices_equal(gold: str, answer: str, task: MathTask, inner_timeout: int | None) -> bool | None:
    """Two matrices entry by entry, each within the row's tolerance or precision; None unless both are
    matrices."""
    g, a = matrix_entries(normalize(gold)), matrix_entries(normalize(answer))
    if g is None or a is None:
        return None
    if [len(r) for r in g] != [len(r) for r in a]:
        return False
    for ge, ae in zip((e for r in g for e in r), (e for r in a for e in r), strict=True):
        same = same_text(ge, ae) or numbers_equal(ge, ae, task.tolerance, task.precision)
        if same is None and not task.tolerance:
            same = exactly_equal(ge, ae) if task.precision is None else None
        if same is None:
            same = math_equal(ge, ae, inner_timeout=inner_timeout, precision=task.precision)
        if not same:
            return False
    return True


def solution_items(answer: str) -> list[str]:
    """A set of solutions written as `\\{1, 2\\}`, `1; 2`, `1 \\text{ or } 2`: its items, for matching in any order."""
    s = normalize(answer).strip()
    if s.startswith("\\{") and s.endswith("\\}"):
        s = s[2:-2]
    s = _SOLUTION_JOINERS.sub(",", s)
    return split_top_level(s)


def _verdict(ok: bool, gold: str, answer: str) -> Verdict:
    if ok:
        return Verdict("correct", "matches reference", answer)
    return Verdict("wrong", f"extracted {answer[:200]!r} != reference {gold[:200]!r}", answer)
