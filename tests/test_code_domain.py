"""The procedural code family: generated problems with stdin/stdout tests, a teacher that works out
the program's constant (a sum, as in a math trace) and writes one program (slipping more with more
operands), verified in the sandbox."""

import json
import re

import polars as pl
import pytest

from redstar_assets.config.sources import source_of
from redstar_assets.problems.sources import load_source
from redstar_assets.traces.verification import verify_traces
from redstar_training.synthetic.procedural import ProceduralTeacherConfig
from redstar_training.synthetic.procedural_code import PROGRAMS, program, solve_code

pytestmark = pytest.mark.usefixtures("sandbox")


def test_generated_code_problems_carry_tests_the_verifier_reads():
    rows, quarantine = load_source(
        source_of({"name": "sum", "kind": "arithmetic_code", "count": 20, "operands": [2, 4], "seed": 3})
    )
    assert quarantine.is_empty() and rows.height == 20 and set(rows["domain"]) == {"code"}
    for r in rows.iter_rows(named=True):
        tests = json.loads(r["tests"])
        assert len(tests["inputs"]) == 3 and len({len(i.split()) for i in tests["inputs"]}) == 1
        offsets = {int(o) - sum(map(int, i.split())) for i, o in zip(tests["inputs"], tests["outputs"], strict=True)}
        a, b = map(int, re.search(r"plus (\d+) \+ (\d+)\.$", r["problem"]).groups())
        assert offsets == {a + b}  # one constant per problem, stated as a sum still to be done
        assert r["answer"] == program("correct", a + b) and r["level"] == max(len(str(a)), len(str(b)))
        assert f"reads {len(tests['inputs'][0].split())} integers" in r["problem"]
    again, _ = load_source(
        source_of({"name": "sum", "kind": "arithmetic_code", "count": 20, "operands": [2, 4], "seed": 3})
    )
    assert again.equals(rows)  # seeded


def test_the_code_teacher_slips_more_with_more_operands_and_the_sandbox_catches_it():
    rows, _ = load_source(
        source_of({"name": "sum", "kind": "arithmetic_code", "count": 60, "operands": [2, 4], "seed": 1})
    )
    cfg = ProceduralTeacherConfig(slip_per_column=0.06, slip_per_carry=0.05, catch_rate=0.3)
    traces = []
    for r in rows.iter_rows(named=True):
        for s in range(2):
            sample = solve_code(r["problem"], s, f"p{r['source_row']}", cfg)
            traces.append(
                {**r, "trace_id": f"{r['source_row']}-{s}", "problem_id": f"p{r['source_row']}", "text": sample.text,
                 "finish_reason": "stop", "error": None, "sample_index": s}
            )  # fmt: skip
    assert solve_code(rows["problem"][0], 0, "p0", cfg) == solve_code(rows["problem"][0], 0, "p0", cfg)
    programs = {t["trace_id"]: t["text"].split("```python\n")[1].split("\n```")[0] for t in traces}
    reference = {t["trace_id"]: t["answer"] for t in traces}
    shapes = {p.format(c="") for p in PROGRAMS.values()}
    assert {re.sub(r"\+-?\d+\)$", "+)", p) for p in programs.values()} <= shapes
    verified = verify_traces(pl.DataFrame(traces)).with_columns(
        pl.col("problem").str.extract(r"reads (\d+) integers").cast(pl.Int64).alias("operands")
    )
    statuses = dict(verified.select("trace_id", "status").rows())
    assert {statuses[t] for t, p in programs.items() if p == reference[t]} == {"correct"}
    # every slip fails a test: a wrong program shape, or a constant from a slipped sum
    assert {statuses[t] for t, p in programs.items() if p != reference[t]} == {"wrong"}
    assert any(p != reference[t] and p.startswith(PROGRAMS["correct"][:20]) for t, p in programs.items())
    by_k = verified.group_by("operands").agg((pl.col("status") == "correct").mean().alias("rate")).sort("operands")
    rates = by_k["rate"].to_list()
    assert len(rates) == 3 and 0 < min(rates) and rates[0] > rates[-1], by_k  # more operands, more program slips


@pytest.mark.slow
def test_a_code_only_and_a_mixed_experiment_run_end_to_end_through_benchmark_scores(tmp_path, monkeypatch):
    """code-math-tiny through `redstar run`'s own code on a fresh instance: the code traces are run in
    the sandbox (their verdicts counted in metadata), both arms are trained and scored on the math
    and the code held-out sets."""
    from support.fresh_run import run_profile

    from redstar_assets.lineage.records import latest_materialization
    from redstar_assets.storage import Store

    instance, data = run_profile("code-math-tiny", tmp_path, monkeypatch)

    def metadata(asset: str, partition: str) -> dict:
        record = latest_materialization(instance, asset, partition)
        assert record is not None, (asset, partition)
        return record.asset_materialization.metadata

    store = Store(str(data))
    code = metadata("verified_traces", "code-sum")["code_statuses"].value
    problems = store.read("problems", "code-sum").height  # 40 generated, less exact duplicates
    assert code.get("correct", 0) > 0 and sum(code.values()) == 2 * problems, code  # 2 samples each, all run
    assert metadata("verified_traces", "arith-add")["code_statuses"].value == {}
    for experiment in ("code-only-20", "mix-20"):
        scores = store.read("benchmark_scores", experiment)
        assert set(scores["benchmark"]) == {"arith-heldout", "arith-code-heldout"}, scores
    assert store.read("benchmark_scores", "untrained")["benchmark"].to_list() == ["arith-code-heldout"]
    # the report's by-benchmark matrix: the transfer cells beside the mixed arm's, "-" where not scored
    matrix = metadata("ablation_report", None)["by_benchmark"].value.splitlines()
    assert matrix[0] == "| arm | stage | mix | target_format | arith-heldout | arith-code-heldout |"
    rows = {line.split(" | ")[0].strip("| "): line for line in matrix[2:]}
    assert set(rows) == {"untrained", "code-only-20", "mix-20"}
    assert rows["untrained"].split(" | ")[4] == "-" and rows["code-only-20"].count(" / ") == 2
