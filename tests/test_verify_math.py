"""The shared math/choice verifier: extraction, answer formats, the cache, and agreement with the
original harness on 570 real model outputs (every disagreement adjudicated below)."""

import json
import threading

import pytest

from redstar_training.verify import MathTask, MathVerifier, extract_answer, extract_choice, verify_completion
from redstar_training.verify.cache import VerdictCache, cache_key
from redstar_training.verify.equivalence import plain_number


@pytest.fixture(scope="module")
def verifier():
    with MathVerifier(workers=2, deadline_s=10) as v:
        yield v


def _answers(verifier, pairs, **kwargs):
    return [v.status for v in verifier.verify([MathTask(g, p, extracted=True, **kwargs) for g, p in pairs])]


def test_benchmark_answer_formats(verifier):
    pairs = [
        ("025", "25"),  # AIME 2024 golds are zero-padded strings
        ("27.0", "27"),  # AMC 2023 golds are floats
        ("1,234", "1234"),
        ("50\\%", "50"),
        ("90^\\circ", "\\frac{\\pi}{2}"),  # degrees in the reference also accept radians
        ("0.001", "1e-3"),
        ("i", "\\sqrt{-1}"),
        ("\\emptyset", "\\varnothing"),
        ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "(1,2)"),  # math-verify alone reads (1,2) as an interval
        ("3 \\pm 2\\sqrt{2}", "3 + 2\\sqrt{2}, 3 - 2\\sqrt{2}"),
        ("\\frac 34", "0.75"),
        ("\\dfrac{2}{21}", "2/21"),
    ]
    assert _answers(verifier, pairs) == ["correct"] * len(pairs)
    wrong = [("025", "250"), ("90^\\circ", "\\pi"), ("(1,3]", "[1,3)"), ("84,69", "8469"), ("\\frac{1}{2}", "2")]
    assert _answers(verifier, wrong) == ["wrong"] * len(wrong)


def test_olympiadbench_lists_intervals_and_tolerance(verifier):
    golds = ("$69$", "$84$")
    assert _answers(verifier, [(golds, "84, 69"), (golds, "69"), (golds, "69, 85")], answer_format="list") == [
        "correct",
        "wrong",
        "wrong",
    ]
    assert _answers(verifier, [("(1,3)", "1<x<3")], answer_format="interval") == ["correct"]
    assert _answers(verifier, [("(1,3)", "1<x<3")]) == ["wrong"]  # only where the benchmark means a set
    assert _answers(verifier, [("3.14", "3.1")], tolerance=0.1) == ["correct"]
    assert _answers(verifier, [("3.14", "3.1")]) == ["wrong"]


def test_extraction_formats_and_modes():
    sky = "<|begin_of_thought|>try 3<|end_of_thought|><|begin_of_solution|>So \\boxed{7}<|end_of_solution|>"
    assert extract_answer(sky) == "7"
    assert extract_answer("<think>\\boxed{3}</think> so \\boxed{\\frac{1}{\\sqrt{2}}}") == "\\frac{1}{\\sqrt{2}}"
    assert extract_answer("\\fbox{12}") == "12"
    assert extract_answer("<|begin_of_thought|>cut off at 42") is None
    assert extract_answer("<|begin_of_thought|>cut off at 42", mode="legacy") == "42"
    assert extract_answer("Thus the final answer is $12$.\n") == "12"
    assert extract_answer("I'm confident that the answer is three boxes.") == "3"
    assert extract_answer("Natalia sold 48+24 = 72 clips.\n#### 72") == "72"
    assert extract_answer("we get 1,234 in the end") is None
    assert extract_answer("we get 1,234 in the end", mode="legacy") == "1234"
    assert extract_answer("\\boxed{" * 100_000) is None  # unbalanced: linear scan, no answer
    with pytest.raises(ValueError, match="unknown verification mode"):
        extract_answer("x", mode="generous")


def test_choice_letters(verifier):
    assert extract_choice("Looking at the figure... Answer: C") == "C"
    assert extract_choice("<think>maybe (A)</think>The answer is (B).") == "B"
    assert extract_choice("so \\boxed{\\text{(D)}}") == "D"
    assert extract_choice("the answer is a triangle") is None
    assert extract_choice("I think it's (E) or so") is None
    assert extract_choice("I think it's (E) or so", mode="legacy") == "E"
    tasks = [MathTask(g, p, answer_format="choice") for g, p in [("B", "Answer: B"), ("(C)", "Answer: D"), ("A", "")]]
    assert [v.status for v in verifier.verify(tasks)] == ["correct", "wrong", "no_answer"]


def test_verdicts_from_threads_without_signal_errors(verifier):
    """math-verify's own timeout raises off the main thread; the pool must not care which thread calls."""
    results = {}

    def call(i):
        results[i] = verifier.verify([MathTask("\\frac{1}{2}", f"\\boxed{{\\frac{{{i}}}{{{2 * i}}}}}")])[0].status

    threads = [threading.Thread(target=call, args=(i,)) for i in range(1, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: "correct" for i in range(1, 7)}
    assert verify_completion("5", "<think>5", "length").reason == "truncated before a final answer"


def test_verdict_cache_hits_and_keys(tmp_path):
    tasks = [MathTask("\\frac{x}{2}", "\\boxed{0.5x}"), MathTask("\\sqrt{2}", "\\boxed{2^{1/2}}")]
    with MathVerifier(workers=1, cache=tmp_path / "v.sqlite") as v:
        first = v.verify(tasks)
        assert v.counts["pooled"] == 2
    with MathVerifier(workers=1, cache=tmp_path / "v.sqlite") as v:
        assert v.verify(tasks) == first
        assert v.counts == {"quick": 0, "cached": 2, "pooled": 0, "deduped": 0}
    assert cache_key(tasks[0]) != cache_key(MathTask("\\frac{x}{2}", "\\boxed{0.5x}", mode="legacy"))
    cache = VerdictCache(tmp_path / "v.sqlite")
    from redstar_training.verify import Verdict

    cache.put_many({"k": Verdict("timeout", "slow", None)})  # machine-dependent verdicts are not kept
    assert cache.get_many(["k"]) == {}


def test_plain_numbers_never_parse_huge_strings():
    assert plain_number("1" * 100_000) is None
    assert plain_number("025") == 25 and plain_number("-1,234.50") == plain_number("-1234.5")


# Where our verdict differs from the harness's on the 570 outputs, and why (acceptance 1 of the issue).
HARNESS_WRONG = {
    153: "legacy: the last value stated is 2/21 (= gold); the harness's number regex split it and read 21",
    278: "the output says 'the answer is 255'; the harness extracted the whole rest of the sentence",
    284: "boxed '3 + 2\\sqrt{2}, 3 - 2\\sqrt{2}' equals gold 3 \\pm 2\\sqrt{2}; the harness's gold read 32\\sqrt{2}",
    355: "legacy: cut-off output whose last number is 1; the harness credited 1 for gold 100 via its percent rule",
    393: "legacy: the last value stated is 3/4 (= gold); the harness read 4",
}
OURS_WRONG = {
    444: "legacy: cut off mid-formula '(y - 1/2)'; our last-number fallback reads 1/2 and equals gold by luck",
}


def test_agreement_with_the_harness_on_all_570_real_outputs(shared_data, verifier):
    """legacy (the harness's fallback rules) and strict (markers only) against the original verdicts;
    every disagreement must be one adjudicated above, so a new one fails the test."""
    rows = [json.loads(line) for f in sorted((shared_data / "traces").glob("*.jsonl")) for line in f.open()]
    assert len(rows) == 570
    for mode in ("legacy", "strict"):
        verdicts = verifier.verify([MathTask(str(r["answer"]), r["code"][0], mode=mode) for r in rows])
        judged = [(r, v) for r, v in zip(rows, verdicts, strict=True) if v.status != "no_answer"]
        differ = {r["idx"] for r, v in judged if v.correct != bool(r["score"][0])}
        assert differ <= set(HARNESS_WRONG) | set(OURS_WRONG), (mode, differ)
        assert (len(judged) - len(differ)) / len(judged) >= 0.96
        assert all(v.status in ("correct", "wrong", "no_answer") for v in verdicts)
        if mode == "legacy":
            assert len(judged) == 570
        else:
            assert len(judged) == 295
            credited_without_marker = sum(
                bool(r["score"][0]) for r, v in zip(rows, verdicts, strict=True) if v.status == "no_answer"
            )
            assert credited_without_marker == 76


def test_rl_rewards_use_the_same_verdicts():
    from redstar_training.trainers.rewards import accuracy_reward, format_reward

    completions = [
        "<think>12*2</think>\n\\boxed{24}",
        [{"role": "assistant", "content": "<think>hm</think> \\boxed{\\frac{48}{2}}"}],
        "<think>24 maybe",
        "\\boxed{25}",
    ]
    assert accuracy_reward(completions, answer=["24"] * 4) == [1.0, 1.0, 0.0, 0.0]
    assert format_reward(completions) == [1.0, 1.0, 0.0, 0.0]


def test_identical_pairs_in_a_batch_are_judged_once_with_the_same_verdicts():
    pairs = [("\\frac{x}{2}", "\\boxed{0.5x}"), ("\\sqrt{2}", "\\boxed{2^{1/2}}"), ("x+1", "\\boxed{x+2}")]
    tasks = [MathTask(g, f"<think>try {k}</think> {o}") for k in range(3) for g, o in pairs]  # texts differ
    tasks += [MathTask("\\sqrt{2}", "\\boxed{2^{1/2}}", mode="legacy"), MathTask("7", "\\boxed{7}")]
    with MathVerifier(workers=1) as deduped, MathVerifier(workers=1, dedupe=False) as plain:
        verdicts = deduped.verify(tasks)
        assert verdicts == plain.verify(tasks)
        assert [v.status for v in verdicts[:3]] == ["correct", "correct", "wrong"]
        # 3 distinct extracted pairs judged once each, 6 copies, the legacy-mode pair on its own, 7 = 7 quick
        assert deduped.counts == {"quick": 1, "cached": 0, "pooled": 4, "deduped": 6}
        assert plain.counts["pooled"] == 10


@pytest.mark.parametrize(
    "gold, pred, verdict",
    [
        ("\\frac{7}{4}", "1.75", True),
        ("\\frac{7}{4}", "7/4", True),
        ("-\\frac{7}{4}", "\\dfrac{-7}{4}", True),
        ("\\frac{7}{4}", "\\frac{4}{7}", False),
        ("2\\sqrt{3}", "\\sqrt{12}", True),
        ("2\\sqrt{3}", "3\\sqrt{3}", False),
        ("\\frac{3\\pi}{4}", "\\frac{3}{4}\\pi", True),
        ("\\frac{3\\pi}{4}", "3\\pi/4", True),
        ("\\pi", "\\frac{22}{7}", False),
        ("(1, 20)", "\\left(1, 20\\right)", True),
        ("[1, 20)", "(1, 20]", False),
        ("(1, 20)", "(20, 1)", False),
        ("(1, 2, 3)", "(1,2,3)", True),
    ],
)
def test_exact_forms_are_judged_without_sympy_as_math_verify_judges_them(gold, pred, verdict):
    """Rationals, rational multiples of pi and of square roots, and tuples/intervals of them: the
    caller's exact path gives math-verify's verdict, and anything outside that grammar is left to it."""
    from redstar_training.verify.equivalence import math_equal
    from redstar_training.verify.exact import exactly_equal

    assert exactly_equal(gold, pred) is verdict
    assert math_equal(gold, pred, inner_timeout=5) is verdict
    assert exactly_equal("2\\sqrt{3}", "2\\sqrt3") is None and exactly_equal("\\pi", "3.14159") is None
