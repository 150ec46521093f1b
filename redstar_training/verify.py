"""Answer extraction and verification: one verdict for rejection sampling, rewards and evaluation.

A trace is `correct` only when its final-answer marker (the last `\\boxed{}` after the think block)
matches the reference; without a marker it is `no_answer`, never a guess from the last number.
Plain numbers are compared exactly without sympy; anything else goes to math-verify.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from fractions import Fraction

VERIFIER_VERSION = "verify-v1"
STATUSES = ("correct", "wrong", "no_answer", "timeout", "error")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


@dataclass(frozen=True)
class Verdict:
    status: str
    reason: str
    extracted: str | None


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` or `\\fbox{...}`, nested braces included; None if absent."""
    starts = [m.end() for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", text)]
    for start in reversed(starts):
        depth = 1
        for i in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                return text[start:i].strip()
    return None


_FINAL_ANSWER = re.compile(r"(?:final answer|the answer) is[:\s]*\$?([^\n$]+?)\$?\s*(?:\.\s*)?(?:\n|$)", re.I)
_GSM8K = re.compile(r"####\s*([^\n]+)")
_LAST_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")
MODES = ("strict", "legacy")


def answer_region(text: str) -> str | None:
    """The part of a completion that states the answer: the solution block, or what follows the
    think block; None when the completion stopped inside its thinking."""
    if "<|begin_of_solution|>" in text:
        return text.split("<|begin_of_solution|>", 1)[1].split("<|end_of_solution|>", 1)[0]
    if "</think>" in text:
        return text.rsplit("</think>", 1)[1]
    if "<think>" in text or "<|begin_of_thought|>" in text:
        return None
    return text


def extract_answer(text: str, mode: str = "strict") -> str | None:
    """The final answer a completion commits to: the last `\\boxed{}`/`\\fbox{}`, else "the final answer
    is ...", else GSM8K's `#### n`. `legacy` mode falls back to the last number anywhere in the text,
    as the Qwen2.5-Math evaluation harness does; `strict` never guesses."""
    if mode not in MODES:
        raise ValueError(f"unknown verification mode {mode!r}; known: {MODES}")
    region = answer_region(text)
    if region is not None:
        for find in (last_boxed, _final_answer_phrase, _gsm8k_answer):
            found = find(region)
            if found:
                return found
    if mode == "legacy":
        found = last_boxed(text)
        if found:
            return found
        numbers = _LAST_NUMBER.findall(text)
        return numbers[-1].replace(",", "") if numbers else None
    return None


def _final_answer_phrase(text: str) -> str | None:
    matches = _FINAL_ANSWER.findall(text)
    return matches[-1].strip() if matches else None


def _gsm8k_answer(text: str) -> str | None:
    matches = _GSM8K.findall(text)
    return matches[-1].strip() if matches else None


def _as_number(s: str) -> Fraction | None:
    s = s.replace(",", "").replace(" ", "").strip("$")
    return Fraction(s) if _NUMBER.match(s) else None


def answers_match(gold: str, predicted: str) -> bool:
    """Exact for plain numbers ("025" = 25, 27.0 = 27); symbolic equivalence through math-verify otherwise."""
    g, p = _as_number(gold), _as_number(predicted)
    if g is not None and p is not None:
        return g == p
    from math_verify import parse, verify

    on_main = threading.current_thread() is threading.main_thread()
    timeout = 5 if on_main else None  # math-verify's alarm-based timeout raises off the main thread
    gold_parsed = parse(f"${gold}$", parsing_timeout=timeout)
    pred_parsed = parse(f"\\boxed{{{predicted}}}", parsing_timeout=timeout)
    return bool(gold_parsed and pred_parsed and verify(gold_parsed, pred_parsed, timeout_seconds=timeout))


def verify_completion(gold: str, completion: str, finish_reason: str = "stop", mode: str = "strict") -> Verdict:
    """Verdict for one completion against one reference answer."""
    extracted = extract_answer(completion, mode)
    if extracted is None:
        why = "truncated before a final answer" if finish_reason == "length" else "no \\boxed{} final answer"
        return Verdict("no_answer", why, None)
    try:
        ok = answers_match(gold, extracted)
    except TimeoutError:
        return Verdict("timeout", "math-verify timed out", extracted)
    except Exception as exc:  # a verifier bug must not lose the trace: record it
        return Verdict("error", f"{type(exc).__name__}: {exc}", extracted)
    if ok:
        return Verdict("correct", "matches reference", extracted)
    return Verdict("wrong", f"extracted {extracted!r} != reference {gold!r}", extracted)
