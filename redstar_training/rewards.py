"""Rule-based rewards for RL (TRL's reward-function signature), judged by the shared verifier, so
a reward of 1 means exactly what `correct` means in the data and in the scores.

    GRPOTrainer(..., reward_funcs=[accuracy_reward, format_reward])

TRL passes the dataset's other columns as keyword arguments: the reference answers come in `answer`.
"""

from __future__ import annotations

import re

from redstar_training.verify import MathTask, default_verifier

_THINK_THEN_BOXED = re.compile(r"^\s*<think>.+?</think>.*\\boxed\{.+\}", re.S)


def _text(completion) -> str:
    """A completion as text: a plain string, or the last message of a conversational completion."""
    if isinstance(completion, str):
        return completion
    return completion[-1]["content"] if completion else ""


def accuracy_reward(completions: list, answer: list[str], **kwargs) -> list[float]:
    """1.0 when the verifier judges the completion correct against its reference answer, else 0.0
    (wrong, no final answer, timeout and error all earn nothing)."""
    mode = kwargs.get("verify_mode", "strict")
    tasks = [MathTask(str(a), _text(c), mode=mode) for c, a in zip(completions, answer, strict=True)]
    return [1.0 if v.correct else 0.0 for v in default_verifier().verify(tasks)]


def format_reward(completions: list, **kwargs) -> list[float]:
    """1.0 for the trace format the pipeline trains: a closed think block, then a boxed answer."""
    return [1.0 if _THINK_THEN_BOXED.match(_text(c)) else 0.0 for c in completions]
