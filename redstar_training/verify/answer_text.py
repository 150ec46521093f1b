"""The parts of a model output that every answer reader looks at: the answer region after the
thinking, the last boxed span, and a bare option letter."""

from __future__ import annotations

import re

BOX_START = re.compile(r"\\(?:boxed|fbox)\s*\{")
NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}


def matching_braces(text: str) -> dict[int, int]:
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
    starts = [m.end() - 1 for m in BOX_START.finditer(text)]
    if not starts:
        return None
    pairs = matching_braces(text)
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


def choice_letter(answer: str) -> str | None:
    """A bare option letter from an extracted answer such as `B`, `(B)`, `\\text{(B)}` or `B. 12`."""
    m = re.fullmatch(r"\s*(?:\\text\{)?\s*\(?([A-Ja-j])\)?\s*\}?\s*(?:[.:)].*)?", answer, re.S)
    return m.group(1).upper() if m else None
