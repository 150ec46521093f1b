"""Rule-based rewards for RL in TRL's reward-function signature, judged by the shared verifier, so a
reward of 1 means exactly what `correct` means in the data and in the scores. TRL passes the
dataset's other columns as keyword arguments: the reference answers come in `answer`."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from redstar_training.verify import default_verifier

_THINK_THEN_BOXED = re.compile(r"^\s*<think>.+?</think>.*\\boxed\{.+\}", re.S)


def _text(completion) -> str:
    """A completion as text: a plain string, or the last message of a conversational completion."""
    if isinstance(completion, str):
        return completion
    return completion[-1]["content"] if completion else ""


def accuracy_reward(
    completions: list,
    answer: list[str],
    answer_format: list[str | None] | None = None,
    tolerance: list[float | None] | None = None,
    verify_mode: str | list[str | None] | None = None,
    **kwargs,
) -> list[float]:
    """1.0 when the verifier judges the completion correct against its reference answer, else 0.0
    (wrong, no final answer, timeout and error all earn nothing). Judged by `judge_outputs`, the
    evaluation's own judging, with the row's answer format, tolerance and verify mode when the
    dataset has those columns (TRL passes every column as a list), so a reward of 1 is a `correct`
    verdict in the benchmark's registry mode."""
    from redstar_training.verify.items import judge_outputs

    n = len(completions)
    formats, tolerances = answer_format or [None] * n, tolerance or [None] * n
    items = [
        {"answer": a, "answer_format": f, "tolerance": t} for a, f, t in zip(answer, formats, tolerances, strict=True)
    ]
    texts = [_text(c) for c in completions]
    if isinstance(verify_mode, str):  # one mode for every row, given by hand rather than as a column
        verify_mode = [verify_mode] * n
    modes = [m or "strict" for m in (verify_mode or [None] * n)]
    rewards = [0.0] * n
    for mode in set(modes):
        rows = [i for i in range(n) if modes[i] == mode]
        judged = judge_outputs([items[i] for i in rows], [texts[i] for i in rows], ["stop"] * len(rows), mode,
                               default_verifier())  # fmt: skip
        for i, (status, _, _) in zip(rows, judged, strict=True):
            rewards[i] = 1.0 if status == "correct" else 0.0
    return rewards


def format_reward(completions: list, **kwargs) -> list[float]:
    """1.0 for the trace format the pipeline trains: a closed think block, then a boxed answer."""
    return [1.0 if _THINK_THEN_BOXED.match(_text(c)) else 0.0 for c in completions]


class ShuffledRewards:
    """The online methods' control: every reward function's values permuted across the batch's
    completions by one permutation per batch, so the rewards keep their distribution (and TRL's logged
    mean) but lose their link to the completion that earned them."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._batch: tuple[str, ...] | None = None
        self._order: list[int] = []

    def order(self, completions: list) -> list[int]:
        """The batch's permutation: drawn at the first reward function's call on these completions,
        reused by the others (TRL calls each reward function once per batch, in turn)."""
        batch = tuple(_text(c) for c in completions)
        if batch != self._batch or len(self._order) != len(batch):
            self._batch, self._order = batch, list(range(len(batch)))
            self._rng.shuffle(self._order)
        return self._order

    def wrap(self, reward: Callable[..., list[float]]) -> Callable[..., list[float]]:
        def shuffled(completions: list, **kwargs) -> list[float]:
            values = reward(completions, **kwargs)
            return [values[j] for j in self.order(completions)]

        shuffled.__name__ = getattr(reward, "__name__", "reward")
        return shuffled
