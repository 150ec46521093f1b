"""The procedural teacher must behave like a real one (more slips on harder problems, some caught),
and the shared verifier must judge its traces and real model outputs the same way."""

import json

import pytest

from redstar_training.synthetic.procedural import ProceduralTeacherConfig, parse_problem, solve
from redstar_training.verify import extract_answer, last_boxed, verify_completion


def _accuracy(problems, cfg, n=8):
    results = [
        verify_completion(str(eval(p.removeprefix("Compute ").rstrip("."))), solve(p, i, p, cfg).text).status
        for p in problems
        for i in range(n)
    ]
    return results.count("correct") / len(results)


def test_trace_format_and_seeding():
    cfg = ProceduralTeacherConfig(slip_per_column=0, slip_per_carry=0)
    text = solve("Compute 348 + 275.", 0, "p", cfg).text
    assert text.startswith("<think>\n348+275\n8+5=13\n4+7+1=12\n3+2+1=6\n=623\ncheck 623-275=348 ok")
    assert text.endswith("</think>\n\\boxed{623}")
    noisy = ProceduralTeacherConfig(slip_per_column=0.3, slip_per_carry=0.3)
    assert solve("Compute 99 + 1.", 3, "p", noisy) == solve("Compute 99 + 1.", 3, "p", noisy)
    assert solve("Compute 38 - 9.", 0, "p", cfg).text.endswith("\\boxed{29}")


def test_harder_problems_fail_more_and_some_slips_are_caught():
    cfg = ProceduralTeacherConfig(slip_per_column=0.05, slip_per_carry=0.1, catch_rate=0.5)
    easy = [f"Compute {a} + {b}." for a, b in [(1, 2), (3, 4), (2, 5), (4, 4), (1, 1), (6, 2)]]
    hard = [f"Compute {a} + {b}." for a, b in [(987, 654), (876, 945), (999, 999), (768, 857), (589, 678), (994, 877)]]
    assert _accuracy(hard, cfg) < _accuracy(easy, cfg) - 0.1
    traces = [solve(p, i, p, cfg).text for p in hard for i in range(20)]
    corrected = [t for t in traces if "no, redo" in t]
    assert corrected, "the teacher never caught a slip"
    assert all(
        verify_completion(str(eval(t.split("\n")[1].lstrip("0") or "0")), t).status == "correct"
        for t in corrected
        if "+" in t.split("\n")[1]
    )


def test_parse_problem_rejects_other_text():
    assert parse_problem("Compute 3 + 4.") == (3, "+", 4)
    with pytest.raises(ValueError, match="cannot read problem"):
        parse_problem("What is the integral of x?")


def test_extraction_and_verdicts():
    assert last_boxed(r"a \boxed{1} b \boxed{\frac{1}{2}} c") == r"\frac{1}{2}"
    assert last_boxed(r"\boxed{\{1,2\}}") == r"\{1,2\}"
    assert extract_answer("<think>\\boxed{3}</think> so \\boxed{4}") == "4"
    assert extract_answer("<think> unfinished, maybe the answer is 3") is None
    assert extract_answer("<think> cut off after **Final Answer** \\boxed{3}") == "3"
    assert verify_completion("025", r"\boxed{25}").status == "correct"
    assert verify_completion("27.0", r"\boxed{27}").status == "correct"
    assert verify_completion(r"\frac{1}{2}", r"\boxed{0.5}").status == "correct"
    assert verify_completion("5", r"\boxed{6}").status == "wrong"
    v = verify_completion("5", "<think>5", "length")
    assert v.status == "no_answer" and "truncated" in v.reason


@pytest.mark.parametrize("name", ["skythought_sky-t1-math-32b_aime24.jsonl", "skythought_sky-t1-math-14b_amc23.jsonl"])
def test_verifier_agrees_with_original_harness_on_real_outputs(shared_data, name):
    """Real Sky-T1 outputs carry the harness's verdict (`score`); where the solution block has a boxed
    answer, our verdict on it must agree with the harness's (AIME integers, AMC floats like 27.0)."""
    rows = [json.loads(line) for line in (shared_data / "traces" / name).open()]
    agree = total = 0
    for row in rows:
        solution = row["code"][0].split("<|begin_of_solution|>")[-1]
        boxed = last_boxed(solution)
        if boxed is None:
            continue
        total += 1
        ours = verify_completion(str(row["answer"]), "\\boxed{" + boxed + "}").status == "correct"
        agree += ours == bool(row["score"][0])
    assert total >= 10
    assert agree == total, f"{total - agree} of {total} verdicts differ from the harness"


def test_the_synthetic_teacher_writes_long_traces_with_its_answer_mix():
    """Scale runs' problems and teacher: ~8 KB traces, the fixed answer mix, about 40% of (gold,
    prediction) pairs unique, and each spelling judged as what it is (equivalent or wrong)."""
    from collections import Counter

    from support.traces import generate_traces

    from redstar_assets.config.sources import source_of
    from redstar_assets.problems.normalize import normalize_problems
    from redstar_assets.problems.sources import load_source
    from redstar_assets.traces.verification import verify_traces
    from redstar_training.synthetic.synthetic import variants

    raw, _ = load_source(source_of({"name": "syn", "kind": "synthetic", "count": 2000, "seed": 3}))
    problems, _ = normalize_problems(raw)
    kinds = Counter(raw["subject"])
    assert 0.45 < kinds["integer"] / 2000 < 0.55 and 0.07 < kinds["choice"] / 2000 < 0.13
    traces, stats = generate_traces(problems.head(500), {"backend": "synthetic", "samples_per_problem": 4})
    assert traces.height == 2000 and stats["samples_requested"] == 2000
    assert 7000 < traces["text"].str.len_chars().mean() < 10000
    verified = verify_traces(traces)
    pairs = list(zip(verified["answer"], verified["extracted"], strict=True))
    assert 0.3 < len(set(pairs)) / len(pairs) < 0.5
    expected = ["correct" if p == g or p in variants(g)[0] else "wrong" for g, p in pairs]
    assert verified["status"].to_list() == expected
