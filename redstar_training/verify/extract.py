"""Finding the final answer a model output commits to. `strict` (training data, rewards, our scores) reads
only explicit markers (the last `\\boxed{}`, "the final answer is", GSM8K's `#### n`) in the answer region,
else the last `\\boxed{}` anywhere, never a tentative "the answer is" inside the thinking. `legacy` falls
back to the last number, as the Qwen2.5-Math harness does; `lenient` reads as math-verify and lighteval do
(lenient.py). Every scan is linear in the text, so a huge output or unbalanced braces cannot stall it."""

from __future__ import annotations

import re
from collections.abc import Callable

from redstar_training.verify import lenient
from redstar_training.verify.answer_text import (
    NUMBER_WORDS,
    answer_region,
    choice_letter,
    last_boxed,
)

MODES = ("strict", "legacy", "lenient")

_FINAL_ANSWER = re.compile(r"(?:final answer|the answer) is\b[:\s]*", re.I)
_GSM8K = re.compile(r"####[ \t]*([^\n]+)")
_LAST_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")
_CHOICE = re.compile(  # bounded quantifiers only: no polynomial backtracking on long whitespace runs
    r"(?i:answer|choice|option)(?:\s{1,3}is)?\s{0,3}[:：]?\s{0,3}\(?\$?(?:\\text\{)?\(?([A-J])\)?(?![A-Za-z])"
    r"|^[ \t]{0,8}\(?([A-J])\)?[ \t]{0,8}$",
    re.M,
)
_PAREN_LETTER = re.compile(r"\(([A-J])\)")


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
    if first in NUMBER_WORDS and not re.search(r"\d", rest):  # "the answer is three boxes ..." -> 3
        return str(NUMBER_WORDS[first])
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


_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.S | re.I)


def extract_code(text: str, mode: str = "strict") -> str | None:
    """The last fenced code block of the answer region (a ```python block, or an untagged one);
    `legacy` also looks inside an unfinished thinking block."""
    region = answer_region(text)
    if region is None and mode == "legacy":
        region = text
    blocks = _FENCE.findall(region or "")
    return blocks[-1].strip("\n") if blocks else None
