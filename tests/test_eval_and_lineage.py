"""`redstar eval score` on real stored outputs, the metrics, and lineage read from the instance."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from redstar_training.generation.metrics import majority_correct, pass_at_k, problem_metrics

ROOT = Path(__file__).resolve().parents[1]
REDSTAR = Path(sys.executable).parent / "redstar"
FILES = {
    "skythought_sky-t1-math-32b_aime24.jsonl": "aime2024",
    "skythought_sky-t1-math-14b_amc23.jsonl": "amc2023",
    "skythought_sky-t1-math-27b_math500_part1.jsonl": "math500",
    "skythought_sky-t1-math-27b_math500_part2.jsonl": "math500",
}


def _score(shared, name, bench, mode, tmp_path, *extra):
    verdicts = tmp_path / f"{name}.{mode}.jsonl"
    cmd = [
        REDSTAR,
        "eval",
        "score",
        "--benchmark",
        bench,
        "--data",
        str(shared / "benchmarks"),
        "--predictions",
        str(shared / "traces" / name),
        "--output-field",
        "code",
        "--mode",
        mode,
        "--json",
        "--verdicts",
        str(verdicts),
        *extra,
    ]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout), [json.loads(line) for line in verdicts.read_text().splitlines()]


def test_scoring_the_570_stored_outputs_against_the_benchmark_files(shared_data, tmp_path):
    strict_differences = set()
    for name, bench in FILES.items():
        rows = [json.loads(line) for line in (shared_data / "traces" / name).open()]
        harness = sum(r["score"][0] for r in rows) / len(rows)
        legacy, _ = _score(shared_data, name, bench, "legacy", tmp_path, "--problem-field", "question")
        assert legacy["matched"] == len(rows) and legacy["unmatched"] == 0
        if bench == "math500":  # MATH-500 carries level and subject: breakdowns come with the score
            assert set(legacy["by_level"]) == {"1", "2", "3", "4", "5"} and len(legacy["by_subject"]) == 7
        assert abs(legacy["accuracy"] - harness) <= 0.02, (name, legacy["accuracy"], harness)
        strict, verdicts = _score(shared_data, name, bench, "strict", tmp_path, "--problem-field", "question")
        assert strict["matched"] == len(rows)
        for v in verdicts:
            credited = bool(rows[v["line"] - 1]["score"][0])
            if v["correct"] != credited:
                kind = "no_answer" if v["status"] == "no_answer" else "judged"
                strict_differences.add((bench, rows[v["line"] - 1]["idx"], kind))
    judged = {(b, i) for b, i, k in strict_differences if k == "judged"}
    assert judged == {("math500", 278), ("math500", 284)}  # adjudicated in the verifier tests: the harness errs
    assert sum(k == "no_answer" for _, _, k in strict_differences) == 76  # credited by the harness, no final answer


def test_unmatched_predictions_are_counted_and_listed(shared_data, tmp_path):
    preds = tmp_path / "p.jsonl"
    preds.write_text(
        json.dumps({"id": 60, "out": "\\boxed{204}"})
        + "\n"
        + json.dumps({"id": 7, "out": "\\boxed{1}"})
        + "\n"
        + json.dumps({"id": 61, "out": "the answer is 113"})
        + "\n"
    )
    cmd = [
        REDSTAR,
        "eval",
        "score",
        "--benchmark",
        "aime2024",
        "--data",
        str(shared_data / "benchmarks"),
        "--predictions",
        str(preds),
        "--output-field",
        "out",
        "--id-field",
        "id",
        "--json",
    ]
    out = json.loads(subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout)
    assert (out["matched"], out["unmatched"], out["unmatched_keys"]) == (2, 1, [7])
    assert out["accuracy"] == 1.0 and out["items_scored"] == 2 and out["benchmark_items"] == 30


def test_a_benchmark_file_lacking_a_mapped_field_is_a_clear_error(tmp_path):
    (tmp_path / "aime2024.jsonl").write_text(json.dumps({"id": 1, "question": "What?", "answer": "3"}) + "\n")
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"problem": "What?", "output": "\\boxed{3}"}) + "\n")
    cmd = [REDSTAR, "eval", "score", "--benchmark", "aime2024", "--data", str(tmp_path), "--predictions", str(preds)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2
    assert (
        "aime2024.jsonl:1: field 'problem': missing or empty problem (benchmark 'aime2024' maps problem <- 'problem')"
        in out.stderr
    )


def test_metrics_follow_the_published_definitions():
    assert pass_at_k(n=4, c=0, k=1) == 0 and pass_at_k(n=4, c=4, k=2) == 1
    assert pass_at_k(n=4, c=1, k=1) == pytest.approx(0.25) and pass_at_k(n=4, c=1, k=2) == pytest.approx(0.5)
    assert pass_at_k(n=10, c=3, k=5) == pytest.approx(1 - (7 * 6 * 5 * 4 * 3) / (10 * 9 * 8 * 7 * 6))
    assert majority_correct(["5", "6", "6", None], [True, False, False, False], 4) is False
    assert majority_correct(["5", "6", "5"], [True, False, True], 3) is True
    one = problem_metrics({"a": [("1", True)], "b": [("2", False)]})
    assert one["avg@1"] == 0.5 and one["stderr"] is None
    many = problem_metrics({"a": [("1", True), ("1", True)], "b": [("2", False), ("3", True)]}, ks=(1, 2))
    assert many["avg@2"] == 0.75 and many["stderr"] == pytest.approx(0.25) and many["pass@2"] == 1.0
    assert many["maj@2"] == 0.5  # b's vote is a tie between 2 and 3: the first answer, 2, wins and is wrong


def test_the_heldout_check_reads_problem_ids_of_code_problems_in_subsets_and_grpo_files(
    shared_data, tmp_path, monkeypatch
):
    """A code benchmark item planted in a subset's ids and in a GRPO problem file, past `problems`'
    overlap removal, is found by id: hashing prompts as math text never matched a code problem."""
    import polars as pl

    from redstar_assets.config.evaluation_suite import eval_benchmarks
    from redstar_assets.config.sections import Experiment
    from redstar_assets.evaluation.assets import trained_problem_ids
    from redstar_assets.evaluation.heldout import build_benchmark
    from redstar_assets.storage import Store

    monkeypatch.setenv("REDSTAR_BENCHMARKS", str(shared_data / "benchmarks"))
    (spec,) = eval_benchmarks([{"name": "humaneval", "count": 3}], "test")
    held = build_benchmark(spec, set())
    bench = held.items
    assert bench.height == 3 and held.overlap_removed == 0
    planted_sft, planted_grpo = bench["problem_id"][0], bench["problem_id"][2]

    store = Store(tmp_path / "data")
    store.write(pl.DataFrame({"trace_id": ["t1"], "problem_id": [planted_sft]}), "sft_subsets", "code-mix", name="ids")
    store.write(
        pl.DataFrame({"problem_id": [planted_grpo], "problem": [bench["problem"][2]], "answer": [""]}),
        "rl_checkpoints",
        "code-arm",
        name="rl_problems",
    )
    exp = Experiment(
        name="code-arm", base_model="tiny", subset="code-mix", training="sft", rl="grpo", stages=("sft", "rl")
    )
    trained = trained_problem_ids(store, exp)
    assert trained == {planted_sft, planted_grpo}
    assert len(set(bench["problem_id"]) & trained) == 2  # what heldout_disjoint_from_training counts


def test_an_unusable_benchmark_row_is_left_out_and_named_not_fatal(tmp_path):
    rows = [{"id": 1, "problem": "One?", "answer": "1"}, {"id": 2, "problem": "Two?", "answer": ""}]
    rows.append({"id": 3, "problem": "Three?", "answer": "3"})
    (tmp_path / "aime2024.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    preds = tmp_path / "p.jsonl"
    preds.write_text(
        "".join(
            json.dumps({"problem": p, "output": o}) + "\n"
            for p, o in [("One?", "\\boxed{1}"), ("Three?", "\\boxed{4}")]
        )
    )
    cmd = [
        REDSTAR,
        "eval",
        "score",
        "--benchmark",
        "aime2024",
        "--data",
        str(tmp_path),
        "--predictions",
        str(preds),
        "--json",
    ]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["benchmark_items"] == 2 and summary["items_scored"] == 2 and summary["accuracy"] == 0.5
    assert [r["row"] for r in summary["left_out"]] == [2]
    assert "aime2024.jsonl:2: field 'answer': missing or empty answer" in out.stderr


def test_judging_follows_each_items_registered_verifier_format_and_tolerance(shared_data, sandbox):
    """HumanEval items run in the sandbox (a completion continues its prompt; a fenced block that
    defines the entry point is the program), OlympiadBench-style list answers match in any order and
    within their tolerance, and an item with no registry fields is plain math."""
    from redstar_assets.problems.benchmark_files import load_benchmark
    from redstar_training.verify import MathVerifier
    from redstar_training.verify.items import judge_outputs

    he = load_benchmark("humaneval", shared_data / "benchmarks").head(2).to_dicts()
    solution = json.loads((shared_data / "benchmarks" / "humaneval.jsonl").open().readline())["canonical_solution"]
    fenced = f"Here it is:\n```python\n{he[0]['problem']}{solution}\n```"
    olympiad = {"answer": json.dumps(["2", "3.5"]), "answer_format": "list", "tolerance": 0.01, "verifier": "math"}
    items = [he[0], he[0], he[1], olympiad, olympiad, {"answer": "7"}]
    outputs = [solution, fenced, "    return 0\n", "\\boxed{3.502, 2}", "\\boxed{3.6, 2}", "so \\boxed{7}"]
    with MathVerifier(workers=1) as verifier:
        judged = judge_outputs(items, outputs, ["stop"] * len(items), "strict", verifier)
    assert [j[0] for j in judged] == ["correct", "correct", "wrong", "correct", "wrong", "correct"]
