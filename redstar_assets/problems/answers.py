"""Reading a reference answer out of the field that holds it: one set of transforms for problem
sources and the benchmark registry, so a dataset reads the same way in either place."""

from __future__ import annotations

import re
import typing

from redstar_assets.config.sources import AnswerTransform
from redstar_training.verify import last_boxed

ANSWER_TRANSFORMS = (None, *typing.get_args(AnswerTransform))
_ANSWER_IS = re.compile(r"The answer is:?\s*(.+?)\s*$", re.S)
_ANSWER_TAG = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.S | re.I)
_ANSWER_LINE = re.compile(r"(?:answer is|answer:)\s*:?\s*(.+?)\s*\.?\s*$", re.S | re.I)
_SHORT_LAST_LINE = 40


class AnswerError(ValueError):
    """The mapped field holds no answer in the form the transform reads (the caller names the field)."""


def transformed_answer(text: str, transform: str | None) -> str:
    """The answer `transform` reads from `text` (the text itself without one)."""
    if transform is None:
        return text
    if transform == "last_boxed":
        boxed = last_boxed(text)
        if boxed is None:
            raise AnswerError("no \\boxed{} answer in the mapped field")
        return boxed
    if transform == "gsm8k":
        if "####" not in text:
            raise AnswerError("no '#### n' final line in the mapped field")
        return text.rsplit("####", 1)[1].strip().replace(",", "")
    if transform == "answer_is":
        found = _ANSWER_IS.search(text)
        if found is None:
            raise AnswerError("no 'The answer is' line in the mapped field")
        return found.group(1).strip()
    if transform == "final_answer":
        return final_answer(text)
    raise AnswerError(f"unknown answer_transform {transform!r}; known: {ANSWER_TRANSFORMS}")


def final_answer(text: str) -> str:
    """A solution's final letter or value (GeoQA-style): an `<answer>` tag, a `\\boxed{}`, an
    "answer is" / "Answer:" ending, or a short last line."""
    tags = _ANSWER_TAG.findall(text)
    if tags and tags[-1].strip():
        return tags[-1].strip()
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if lines:
        said = _ANSWER_LINE.search(lines[-1])
        if said:
            return said.group(1).strip()
        if len(lines[-1]) <= _SHORT_LAST_LINE:
            return lines[-1].rstrip(".")
    raise AnswerError("no final answer (an <answer> tag, \\boxed{}, 'Answer:' or a short last line)")


NOT_VALUES = {"nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


def not_a_value(value: object) -> bool:
    """NaN or an infinity, as a float or as the text a dataframe writes for one: a missing or
    broken value, never a problem's answer."""
    if isinstance(value, float):
        return value != value or value in (float("inf"), float("-inf"))
    return isinstance(value, str) and value.strip().lower() in NOT_VALUES
