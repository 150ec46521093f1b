"""Bring your own traces: a `traces` source imports a released Long-CoT dataset (its problems and its
traces) through a field mapping and a split rule or template alone, rewrites every trace to the
pipeline's `<think>` format, keeps rows without a reference answer as `unverified`, and passes the
traces through `teacher_traces` without calling a teacher."""

import json

import polars as pl
import pytest

from redstar_assets.config.errors import ProfileError
from redstar_assets.config.sources import source_of
from redstar_assets.curation.difficulty import score_difficulty
from redstar_assets.problems.normalize import normalize_problems
from redstar_assets.problems.sources import load_source
from redstar_assets.traces.imported import imported_trace_batches
from redstar_assets.traces.verification import verify_traces


def imported_traces(raw: pl.DataFrame, problems: pl.DataFrame, spec: dict) -> pl.DataFrame:
    """`imported_trace_batches` of one in-memory frame."""
    return pl.concat(list(imported_trace_batches([raw], problems, source_of(spec))))


def _write_jsonl(path, rows) -> str:
    path.write_bytes(b"".join(r if isinstance(r, bytes) else (json.dumps(r) + "\n").encode() for r in rows))
    return str(path)


def test_separate_reasoning_and_attempt_fields_become_one_think_trace(tmp_path):
    """s1K's layout: the thinking and the attempt in two fields, the answer boxed in a solution."""
    path = _write_jsonl(
        tmp_path / "s1k.jsonl",
        [
            {
                "question": "What is 2 + 3?",
                "solution": "Add: \\boxed{5}",
                "gemini_thinking_trajectory": "Two plus three.\nThat is five.",
                "gemini_attempt": "The sum is \\boxed{5}.",
            },
            {"question": "What is 7 * 6?", "solution": "\\boxed{42}", "gemini_attempt": "\\boxed{42}"},
        ],
    )
    spec = {
        "name": "s1k",
        "kind": "traces",
        "path": path,
        "mapping": {
            "problem": "question",
            "answer": "solution",
            "reasoning": "gemini_thinking_trajectory",
            "response": "gemini_attempt",
        },
        "answer_transform": "last_boxed",
    }
    rows, quarantine = load_source(source_of(spec))
    assert rows["trace"].to_list() == ["<think>\nTwo plus three.\nThat is five.\n</think>\n\nThe sum is \\boxed{5}."]
    assert rows["answer"].to_list() == ["5"] and rows["trace_finished"].to_list() == [True]
    assert json.loads(rows["trace_original"][0])["response"] == "The sum is \\boxed{5}."  # kept for audit
    assert quarantine.select("line", "field", "reason").row(0) == (
        2,
        "gemini_thinking_trajectory",
        "missing or empty reasoning (text expected)",
    )


def test_thought_output_tags_in_one_field_are_split_by_a_rule(tmp_path):
    """One field with `<Thought>`/`<Output>` tags, read through a list index; a trace cut off inside its
    thinking stays open (unfinished); an output without the tags is kept as written; a row without a
    reference answer is kept; a line that is not UTF-8 and an empty trace are quarantined with their
    line and field."""
    text = "<Thought>\nadd the units, carry one\n</Thought>\n<Output>\nSo the answer is \\boxed{{{a}}}.\n</Output>"
    path = _write_jsonl(
        tmp_path / "thoughts.jsonl",
        [
            {"id": 1, "q": "Compute 19 + 4.", "gold": "23", "outputs": [text.format(a=23)]},
            {"id": 2, "q": "Compute 8 + 8.", "gold": "16", "outputs": ["<Thought>\nhmm, eight and eight is"]},
            {"id": 3, "q": "Compute 5 + 5.", "outputs": [text.format(a=10)]},
            b'{"id": 4, "q": "Compute 1 + 1.", "gold": "2", "outputs": ["\xff\xfe"]}\n',
            {"id": 5, "q": "Compute 2 + 2.", "gold": "4", "outputs": [""]},
            {"id": "6", "q": "Compute 3 + 3.", "gold": "6", "outputs": ["No tags here: \\boxed{6}"]},
        ],
    )
    spec = {
        "name": "tho",
        "kind": "traces",
        "path": path,
        "mapping": {"problem": "q", "answer": "gold", "trace": "outputs[0]", "sample": "id"},
        "trace_split": "thought_output",
    }
    rows, quarantine = load_source(source_of(spec))
    assert rows["trace"][0] == "<think>\nadd the units, carry one\n</think>\n\nSo the answer is \\boxed{23}."
    assert rows["trace"][1] == "<think>\nhmm, eight and eight is" and rows["trace"][3] == "No tags here: \\boxed{6}"
    assert rows["trace_finished"].to_list() == [True, False, True, True]
    assert rows["answer"].to_list() == ["23", "16", None, "6"]
    assert quarantine.select("line", "field", "reason").rows() == [
        (4, "<record>", "not UTF-8"),
        (5, "outputs[0]", "missing or empty trace (text expected)"),
    ]

    # teacher_traces passes them through; the verifier judges them; the answerless one is `unverified`
    problems, _ = normalize_problems(rows.select(*[c for c in rows.columns if not c.startswith(("trace", "sample"))]))
    traces = imported_traces(rows, problems, spec)
    assert traces["teacher"].unique().to_list() == [f"file:{path}"] and set(traces["prompt_version"]) == {"import-v1"}
    assert traces["finish_reason"].to_list() == ["stop", "length", "stop", "stop"]
    assert traces["sample_index"].to_list() == [1, 2, 3, 6]  # the dataset's own sample ids, when mapped
    verified = verify_traces(traces)
    assert verified["status"].to_list() == ["correct", "no_answer", "unverified", "correct"]
    assert verified["quality_flags"][3].to_list() == ["no_think"]  # kept as written, flagged
    difficulty = score_difficulty(verified, {})
    unverified = difficulty.filter(pl.col("samples") == 0)
    assert unverified.height == 1 and unverified["bucket"].to_list() == ["unverified"]
    assert unverified["teacher_pass_rate"].to_list() == [None]  # left out of pass rates, not a failure

    # importing the same file again adds nothing: the traces are keyed by their content
    again = imported_traces(pl.concat([rows, rows]), problems, spec)
    assert again["trace_id"].to_list() == traces["trace_id"].to_list()


@pytest.mark.parametrize(
    ("split", "message"),
    [("(?P<answer>.*)", r"needs a named group \(\?P<reasoning>"), ("(unclosed", "is not a regex")],
)
def test_a_split_rule_that_cannot_work_fails_at_load(tmp_path, split, message):
    spec = {"name": "x", "kind": "traces", "path": str(tmp_path / "none.jsonl"), "mapping": {"trace": "t"}}
    with pytest.raises(ProfileError, match=message):
        source_of({**spec, "trace_split": split})


def test_released_sky_t1_traces_go_through_the_assets_to_a_subset(shared_data, tmp_path, monkeypatch):
    """The 570 Sky-T1 outputs in shared/data/traces as a `traces` source of a test profile, beside a
    generated problem source, through raw_problems .. sft_subsets on a fresh instance. The profile
    decontaminates against none of MATH-500, AIME 2024 or AMC 2023: these traces' problems are those
    benchmarks' own. The verdicts
    (legacy mode, as the harness read answers) are compared with the files' harness `score`, and
    equal the verifier's on the raw outputs: the rewrite to `<think>` form changes no verdict."""
    from support.fresh_run import run_profile

    from redstar_assets.lineage.records import latest_materialization
    from redstar_assets.storage import Store
    from redstar_training.verify import MathTask, MathVerifier

    profile_path = tmp_path / "sky.yaml"
    profile_path.write_text(
        "extends: demo-tiny\nname: sky-import\nreplace: [sources, subset_recipes, experiments, curation]\n"
        "sources:\n"
        "  - name: sky-t1\n    kind: traces\n"
        f"    path: {shared_data / 'traces' / '*.jsonl'}\n"
        "    mapping: {problem: question, answer: answer, trace: 'code[0]'}\n"
        "    trace_split: begin_of_thought\n    verify_mode: legacy\n"
        "    teacher: Sky-T1-math-correct-5K (14B, 27B, 32B ablations)\n"
        "  - {name: arith, kind: arithmetic, count: 30, seed: 1}   # a traces source beside a problem source\n"
        "curation: {near_duplicates: false}   # and no decontaminate: the problems are the benchmarks'\n"
        "subset_recipes:\n  sky-hard-40: {scale: 40, strategy: hard_first, target_format: long_cot, seed: 0}\n"
        "experiments:\n  - {name: untrained, base_model: tiny-qwen2, stages: [base]}\n"
    )
    instance, data = run_profile(str(profile_path), tmp_path, monkeypatch, "sft_subsets")

    store = Store(str(data))
    raw = [json.loads(line) for f in sorted((shared_data / "traces").glob("*.jsonl")) for line in f.open()]
    verified = store.read("verified_traces", "sky-t1")
    assert verified.height == len(raw) == 570 and store.read("raw_problems", "sky-t1", name="quarantine").height == 0
    meta = latest_materialization(instance, "teacher_traces", "sky-t1").asset_materialization.metadata
    assert meta["imported"].value is True and meta["requests_made"].value == 0
    assert meta["config"].value["imported_from"]["teacher"].startswith("Sky-T1")
    assert meta["config"].value["backend"] == "imported" and meta["config"].value["model"].startswith("Sky-T1")

    score = {r["code"][0]: bool(r["score"][0]) for r in raw}
    ours = dict(zip(verified["original_text"], verified["status"] == "correct", strict=True))
    agreement = sum(ours[t] == score[t] for t in score) / len(score)
    with MathVerifier() as verifier:
        direct = verifier.verify([MathTask(str(r["answer"]), r["code"][0], mode="legacy") for r in raw])
    direct_agreement = sum(v.correct == bool(r["score"][0]) for v, r in zip(direct, raw, strict=True)) / len(raw)
    print(f"\nSky-T1 import: agreement with the harness {agreement:.4f} (raw outputs: {direct_agreement:.4f})")
    assert agreement == direct_agreement and agreement >= 0.98

    scores = store.read("difficulty_scores", "sky-t1")
    assert scores["samples"].sum() == 570 and scores.filter(pl.col("bucket") == "unverified").is_empty()
    subset = store.read("sft_subsets", "sky-hard-40")
    assert subset.height == 40
    assert store.read("teacher_traces", "arith")["teacher"].unique().to_list() != [meta["teacher"].value]
