"""Finding the final answer a model output commits to.

`strict` (the default, for training data, rewards and our own scores) reads only explicit
final-answer markers: the last `\\boxed{}`/`\\fbox{}`, "the final answer is ...", GSM8K's `#### n`,
in the answer region (after `</think>`, or the `<|begin_of_solution|>` block); failing that, the last
`\\boxed{}` anywhere (a model cut off after "**Final Answer** \\boxed{x}" in its thinking did commit),
but never a tentative "the answer is" inside the thinking. `legacy` falls back
to the last number anywhere, as the Qwen2.5-Math evaluation harness does, so published numbers
from such harnesses can be reproduced. `lenient` reads stored outputs as math-verify and lighteval
do (boxed, "answer is" phrases in several languages, the last math span, the last number): see
`lenient.py`. Every scan here is linear in the text, so a 1 MB output or
a million unbalanced braces cannot stall the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MODES = ("strict", "legacy", "lenient")

_BOX_START = re.compile(r"\\(?:boxed|fbox)\s*\{")
_FINAL_ANSWER = re.compile(r"(?:final answer|the answer) is\b[:\s]*", re.I)
_GSM8K = re.compile(r"####[ \t]*([^\n]+)")
_LAST_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")
_CHOICE = re.compile(  # bounded quantifiers only: no polynomial backtracking on long whitespace runs
    r"(?i:answer|choice|option)(?:\s{1,3}is)?\s{0,3}[:：]?\s{0,3}\(?\$?(?:\\text\{)?\(?([A-J])\)?(?![A-Za-z])"
    r"|^[ \t]{0,8}\(?([A-J])\)?[ \t]{0,8}$",
    re.M,
)
_NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}
_PAREN_LETTER = re.compile(r"\(([A-J])\)")


def _matching_braces(text: str) -> dict[int, int]:
    """Position of each `{` mapped to its closing `}`, found in one pass (unbalanced ones are absent)."""
    stack: list[int] = []
    pairs: dict[int, int] = {}
    for m in re.finditer(r"[{}]", text):
        if m.group() == "{":
            stack.append(m.start())
        elif stack:
            pairs[stack.pop()] = m.start()
    return pairs


def last_boxed(text: str) -> str | None:
    """Content of the last closed `\\boxed{...}` or `\\fbox{...}`, nested braces included; None if absent."""
    starts = [m.end() - 1 for m in _BOX_START.finditer(text)]
    if not starts:
        return None
    pairs = _matching_braces(text)
    for start in reversed(starts):
        if start in pairs:
            return text[start + 1 : pairs[start]].strip()
    return None


def answer_region(text: str) -> str | None:
    """The part of an output that states the answer: the solution block, or what follows the think
    block; None when the output stopped inside its thinking."""
    if "<|begin_of_solution|>" in text:
        return text.split("<|begin_of_solution|>", 1)[1].split("<|end_of_solution|>", 1)[0]
    if "</think>" in text:
        return text.rsplit("</think>", 1)[1]
    if "<think>" in text or "<|begin_of_thought|>" in text:
        return None
    return text


def final_answer_phrase(text: str) -> str | None:
    """What follows the last "the final answer is" up to the end of its line, `$` and a period trimmed."""
    matches = list(_FINAL_ANSWER.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end() :].split("\n", 1)[0].strip()
    rest = rest.removesuffix(".").strip().strip("$").strip()
    boxed = last_boxed(rest)
    if boxed:
        return boxed
    first = rest.split(" ", 1)[0].lower().strip(",.")
    if first in _NUMBER_WORDS and not re.search(r"\d", rest):  # "the answer is three boxes ..." -> 3
        return str(_NUMBER_WORDS[first])
    return rest or None


def gsm8k_answer(text: str) -> str | None:
    matches = _GSM8K.findall(text)
    return matches[-1].strip() if matches else None


def _lenient_reader(mode: str, name: str) -> Callable[[str, str | None], str | None] | None:
    """`lenient.py`'s reader `name` in lenient mode, None in the others; an unknown mode fails here."""
    if mode not in MODES:
        raise ValueError(f"unknown verification mode {mode!r}; known: {MODES}")
    if mode != "lenient":
        return None
    from redstar_training.verify import lenient

    return getattr(lenient, name)


def extract_answer(text: str, mode: str = "strict", language: str | None = None) -> str | None:
    """The final answer an output commits to (see the module docstring for the modes)."""
    lenient = _lenient_reader(mode, "lenient_answer")
    if lenient is not None:
        return lenient(text, language)
    region = answer_region(text)
    if region is not None:
        for find in (last_boxed, final_answer_phrase, gsm8k_answer):
            found = find(region)
            if found:
                return found
    found = last_boxed(text)  # a boxed answer inside the thinking still commits (cut off before the summary)
    if found:
        return found
    if mode == "legacy":
        numbers = _LAST_NUMBER.findall(text)
        return numbers[-1].replace(",", "") if numbers else None
    return None


def extract_choice(text: str, mode: str = "strict", language: str | None = None) -> str | None:
    """The option letter an output commits to: a boxed letter, "Answer: C", "the answer is (B)", or a
    bare "(B)" line; `legacy` also takes the last parenthesised letter anywhere; `lenient` also
    letters in sentences, in several languages (`lenient.py`)."""
    lenient = _lenient_reader(mode, "lenient_choice")
    if lenient is not None:
        return lenient(text, language)
    region = answer_region(text)
    if region is not None:
        boxed = last_boxed(region)
        if boxed is not None:
            letter = choice_letter(boxed)
            if letter:
                return letter
        found = [a or b for a, b in _CHOICE.findall(region)]
        if found:
            return found[-1].upper()
    if mode == "legacy":
        found = _PAREN_LETTER.findall(text)
        return found[-1].upper() if found else None
    return None


def answer_format_of(answer: str | None) -> str:
    """`choice` for a reference answer that is one option letter (generated geometry, GeoQA), else
    `math`: how a trace of a problem without a registered format is judged."""
    return "choice" if answer is not None and re.fullmatch(r"[A-J]", answer.strip()) else "math"


def choice_letter(answer: str) -> str | None:
    """A bare option letter from an extracted answer such as `B`, `(B)`, `\\text{(B)}` or `B. 12`."""
    m = re.fullmatch(r"\s*(?:\\text\{)?\s*\(?([A-Ja-j])\)?\s*\}?\s*(?:[.:)].*)?", answer, re.S)
    return m.group(1).upper() if m else None


_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.S | re.I)


def extract_code(text: str, mode: str = "strict") -> str | None:
    """The last fenced code block of the answer region (a ```python block, or an untagged one);
    `legacy` also looks inside an unfinished thinking block."""
    region = answer_region(text)
    if region is None and mode == "legacy":
        region = text
    blocks = _FENCE.findall(region or "")
    return blocks[-1].strip("\n") if blocks else None
