"""The oracle test over every registry benchmark in the shared benchmark files (HumanEval aside): an
output that states an item's own gold answer is judged correct, and one that states another item's
gold answer (one not equivalent to this one) is judged wrong, in every mode, wherever the box stands."""

import pytest

from redstar_assets.problems.benchmark_files import read_benchmark
from redstar_training.verify.equivalence import MathTask, canonical_text, equation_sides, plain_number
from redstar_training.verify.items import gold
from redstar_training.verify.service import MathVerifier

BENCHMARKS = ("aime2024", "aime2025", "amc2023", "gsm8k", "math500", "olympiadbench")
WRAPPERS = ("So the answer is \\boxed{%s}.", "$\\boxed{%s}$", "<think>so 12?</think>\n\\boxed{%s}")
MODES = ("strict", "legacy", "lenient")


def _text(g) -> str:
    return g if isinstance(g, str) else ", ".join(g)


def _different(a: str, b: str) -> bool:
    """Not equivalent on their face: other text, other value side, other number."""
    if canonical_text(a) == canonical_text(b):
        return False
    if canonical_text(equation_sides(a)[1]) == canonical_text(equation_sides(b)[1]):
        return False
    na, nb = plain_number(a), plain_number(b)
    return na is None or nb is None or na != nb


@pytest.fixture(scope="module")
def verifier():
    with MathVerifier(workers=2) as v:
        yield v


@pytest.mark.parametrize("mode", MODES)
def test_own_gold_is_correct_and_another_items_gold_is_wrong(shared_data, verifier, mode):
    for name in BENCHMARKS:
        items = read_benchmark(name, shared_data / "benchmarks").items.to_dicts()
        assert items, name
        golds = [gold(item) for item in items]
        texts = [_text(g) for g in golds]
        own, other = [], []
        for i, item in enumerate(items):
            options = {"answer_format": item["answer_format"], "tolerance": item["tolerance"], "mode": mode}
            j = next(
                k % len(items) for k in range(i + 1, i + len(items)) if _different(texts[i], texts[k % len(items)])
            )
            for wrapper in WRAPPERS:
                own.append((i, MathTask(golds[i], wrapper % texts[i], **options)))
                other.append((i, j, MathTask(golds[i], wrapper % texts[j], **options)))
        judged = verifier.verify([t for _, t in own])
        wrong_own = [(texts[i], t.output, v.reason) for (i, t), v in zip(own, judged, strict=True) if not v.correct]
        assert not wrong_own, (name, mode, len(wrong_own), wrong_own[:5])
        judged = verifier.verify([t for _, _, t in other])
        credited = [
            (texts[i], texts[j], v.status) for (i, j, _), v in zip(other, judged, strict=True) if v.status != "wrong"
        ]
        assert not credited, (name, mode, len(credited), credited[:5])
