"""Pure data logic of the stages, without Dagster: ingestion with quarantine, normalization and
dedupe, difficulty, subset selection, preference pairs and profiles."""

import json

import polars as pl
import pytest
from support.traces import generate_traces

from redstar_assets.config.errors import ProfileError
from redstar_assets.config.profile import load_profile
from redstar_assets.config.sections import DifficultySpec, SubsetRecipe
from redstar_assets.config.sources import source_of
from redstar_assets.curation.difficulty import score_difficulty
from redstar_assets.curation.subset_writer import write_subset
from redstar_assets.curation.subsets import SubsetTooSmall, select_traces, subset_hash, target_text
from redstar_assets.problems.normalize import normalize_problems, normalize_text, problem_id
from redstar_assets.problems.sources import arithmetic_problems, file_problems
from redstar_assets.storage import Store, TableWriter, frame_hash
from redstar_assets.traces.verification import verify_traces
from redstar_assets.training.pairs import PAIR_SCHEMA, pair_ids, write_pairs

TEACHER = {
    "backend": "procedural",
    "samples_per_problem": 4,
    "slip_per_column": 0.05,
    "slip_per_carry": 0.15,
    "catch_rate": 0.5,
    "seed": 0,
}


def preference_pairs(verified: pl.DataFrame, max_pairs: int | None = None) -> pl.DataFrame:
    """The pairs of an in-memory table of verified traces, with their texts, sorted by problem id: what
    the streamed `write_pairs` must produce."""
    ids = pair_ids(verified, max_pairs)
    text = verified.select("trace_id", "problem", "text")
    return (
        ids.join(text.rename({"trace_id": "chosen_id", "text": "chosen"}), on="chosen_id", how="left")
        .join(text.select(pl.col("trace_id").alias("rejected_id"), pl.col("text").alias("rejected")), on="rejected_id")
        .rename({"problem": "prompt"})
        .sort("problem_id")
        .select(list(PAIR_SCHEMA))
    )


@pytest.fixture(scope="module")
def verified():
    raw = arithmetic_problems("arith", count=200, digits=(1, 3), ops=["+", "-"], seed=3)
    problems, _ = normalize_problems(raw)
    return verify_traces(generate_traces(problems, TEACHER)[0])


def test_arithmetic_generator_is_seeded_and_levelled():
    a = arithmetic_problems("x", count=50, digits=(1, 3), ops=["+", "-"], seed=1)
    assert a.equals(arithmetic_problems("x", count=50, digits=(1, 3), ops=["+", "-"], seed=1))
    assert set(a["level"].to_list()) <= {1, 2, 3, 4}
    for row in a.iter_rows(named=True):
        expr = row["problem"].removeprefix("Compute ").rstrip(".")
        assert str(eval(expr)) == row["answer"] and eval(expr) >= 0


def test_malformed_file_rows_are_quarantined_with_line_field_and_reason(tmp_path):
    path = tmp_path / "pool.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps({"question": "What is 2+2?", "final": "4", "lvl": "Level 2"}),
                "{not json",
                json.dumps({"question": "", "final": "1"}),
                json.dumps({"question": "Solve x+1=3.", "final": None}),
                json.dumps({"question": "Find y.", "final": "3", "lvl": "hard"}),
                json.dumps(["a", "list"]),
                json.dumps({"question": "What is 3*3?", "final": 9}),
            ]
        )
        + "\n"
    )
    mapping = {"problem": "question", "answer": "final", "level": "lvl"}
    good, bad = file_problems(source_of({"name": "pool", "kind": "file", "path": str(path), "mapping": mapping}))
    assert good["problem"].to_list() == ["What is 2+2?", "What is 3*3?"]
    assert good["answer"].to_list() == ["4", "9"] and good["level"].to_list() == [2, None]
    assert good["source_row"].to_list() == [1, 7]
    assert bad.select("line", "field").rows() == [
        (2, "<record>"),
        (3, "question"),
        (4, "final"),
        (5, "lvl"),
        (6, "<record>"),
    ]
    assert all(bad["file"] == str(path)) and "empty problem" in bad["reason"][1]


def test_real_benchmark_file_loads_through_a_mapping(shared_data):
    mapping = {"problem": "problem", "answer": "answer", "level": "level", "subject": "subject"}
    path = str(shared_data / "benchmarks" / "math500.jsonl")
    good, bad = file_problems(source_of({"name": "math500", "kind": "file", "path": path, "mapping": mapping}))
    assert good.height == 500 and bad.height == 0
    assert good["level"].min() == 1 and good["level"].max() == 5


def test_normalization_ids_and_exact_dedupe():
    assert normalize_text("  Compute\n 1 +\t2. ") == "Compute 1 + 2."
    assert problem_id("math", "Compute 1 + 2.") == problem_id("math", " Compute  1 + 2.\n")
    assert problem_id("math", "x") != problem_id("code", "x")
    raw = pl.DataFrame(
        {
            "source": ["s"] * 5,
            "source_row": [0, 1, 2, 3, 4],
            "domain": ["math"] * 4 + ["code"],
            "problem": ["Compute 1 + 2.", "Compute  1 + 2. ", "Compute 2 + 2.", "COMPUTE 1 \\, + 2.", "Compute 1 + 2."],
            "answer": ["3", "3", "4", "3", "3"],
            "level": [1] * 5,
            "subject": [None] * 5,
        }
    )
    frame, removed = normalize_problems(raw)
    # one definition of "the same problem": case and LaTeX spacing aside, in the same domain
    assert removed == 2 and frame["source_row"].to_list() == [0, 2, 4]
    assert frame["problem_id"][0] == problem_id("math", "Compute 1 + 2.")


def test_verified_traces_and_difficulty(verified):
    assert set(verified["status"].unique()) <= {"correct", "wrong", "no_answer", "error"}
    assert (verified["status"] == "correct").mean() > 0.6 and (verified["status"] == "wrong").sum() > 0
    scores = score_difficulty(verified, DifficultySpec(easy=0.75, medium=0.4))
    assert scores.height == verified["problem_id"].n_unique()
    by_level = dict(scores.group_by("level").agg(pl.col("teacher_pass_rate").mean()).rows())
    assert by_level[1] > by_level[4] + 0.05  # one column vs three columns with borrows
    assert set(scores["bucket"].unique()) <= {"easy", "medium", "hard"}


def test_subset_selection_strategies_formats_and_hash(verified, tmp_path):
    scores = score_difficulty(verified)
    random_recipe = SubsetRecipe(name="r", scale=30, strategy="random", seed=0)
    picked = select_traces(verified, scores, random_recipe)
    assert picked.height == 30 and picked["problem_id"].n_unique() == 30
    assert (picked["status"] == "correct").all()
    assert picked["trace_id"].to_list() == sorted(picked["trace_id"].to_list())
    assert select_traces(verified, scores, random_recipe).equals(picked)
    hard = select_traces(verified, scores, SubsetRecipe(name="h", scale=30, strategy="hard_first"))
    rate = dict(scores.select("problem_id", "teacher_pass_rate").rows())
    assert sum(rate[p] for p in hard["problem_id"]) < sum(rate[p] for p in picked["problem_id"])
    # the subset file, streamed from the verified traces (split over two files): in the files' row
    # order, the trace as the assistant turn for long_cot and exactly `target_text`'s boxed answer
    # for answer_only
    verified = verified.sample(fraction=1.0, shuffle=True, seed=3)
    half = verified.height // 2
    verified.head(half).write_parquet(tmp_path / "verified-a.parquet")
    verified.slice(half).write_parquet(tmp_path / "verified-b.parquet")
    files = [tmp_path / "verified-a.parquet", tmp_path / "verified-b.parquet"]
    ids = picked["trace_id"].to_list()
    in_file_order = verified.filter(pl.col("trace_id").is_in(ids))
    assert in_file_order["trace_id"].to_list() != ids  # the order below is the files', not the ids'
    for fmt in ("answer_only", "long_cot"):
        writer = TableWriter(tmp_path / f"{fmt}.parquet")
        assert write_subset(files, ids, writer, fmt) == 30
        writer.close()
        written = pl.read_parquet(tmp_path / f"{fmt}.parquet")
        assert written["trace_id"].to_list() == in_file_order["trace_id"].to_list()
        assert [m[0]["content"] for m in written["messages"].to_list()] == in_file_order["problem"].to_list()
        expected = [target_text(t, fmt) for t in in_file_order["text"]]
        assert [m[1]["content"] for m in written["messages"].to_list()] == expected
        assert all(("<think>" in e) == (fmt == "long_cot") for e in expected)
    ids = picked["trace_id"].to_list()
    assert subset_hash(ids, random_recipe) != subset_hash(
        ids, SubsetRecipe(name="r", scale=30, target_format="answer_only")
    )


def test_recipe_larger_than_pool_names_recipe_and_both_counts(verified):
    with pytest.raises(SubsetTooSmall, match=r"'too-big' asks for 5000 traces but only \d+ are eligible"):
        select_traces(verified, score_difficulty(verified), SubsetRecipe(name="too-big", scale=5000))


def test_preference_pairs_pair_correct_with_wrong(verified, tmp_path):
    pairs = preference_pairs(verified)
    assert pairs.height > 0 and pairs["problem_id"].n_unique() == pairs.height
    status = dict(verified.select("trace_id", "status").rows())
    assert all(
        status[c] == "correct" and status[r] == "wrong" for c, r in pairs.select("chosen_id", "rejected_id").rows()
    )
    text = dict(verified.select("trace_id", "text").rows())
    assert all(text[c] == t for c, t in pairs.select("chosen_id", "chosen").rows())
    # streamed from two files in batches of 7 rows (a problem's samples fall in different batches):
    # the same pairs, texts included, in the files' order
    half = verified.height // 2
    verified.head(half).write_parquet(tmp_path / "a.parquet")
    verified.slice(half).write_parquet(tmp_path / "b.parquet")
    files = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    verdicts = pl.concat([pl.scan_parquet(f) for f in files])
    writer = Store(tmp_path).writer("rl", "x", name="pairs")
    assert write_pairs(files, pair_ids(verdicts, max_pairs=9), writer, batch_rows=7) == 9
    writer.close()
    streamed = Store(tmp_path).read("rl", "x", name="pairs")
    assert streamed.sort("problem_id").equals(preference_pairs(verified, max_pairs=9))


def test_store_writes_atomically_with_content_hash(tmp_path):
    store = Store(tmp_path)
    frame = pl.DataFrame({"a": [1, 2]})
    version = store.write(frame, "t", "p")
    assert version == frame_hash(frame) == store.version("t", "p")
    assert store.read("t", "p").equals(frame) and store.partitions("t") == ["p"]
    assert not list(tmp_path.rglob("*.tmp"))
    with pytest.raises(FileNotFoundError, match="materialize t partition 'q' first"):
        store.read("t", "q")


def test_streamed_table_has_the_hash_of_the_whole_and_surfaces_a_failed_part(tmp_path):
    store = Store(tmp_path)
    parts = [pl.DataFrame({"a": list(range(i * 3, i * 3 + 3)), "b": ["x" * i] * 3}) for i in range(4)]
    writer = store.writer("t", "p")
    for part in parts:
        writer.write(part)  # encoded and hashed on the writer's thread while the next part is built
    version = writer.close()
    whole = pl.concat(parts)
    assert version == frame_hash(whole) == store.version("t", "p") and writer.rows == 12
    assert store.read("t", "p").equals(whole) and not list(tmp_path.rglob("*.tmp"))
    writer = store.writer("t", "q")
    with pytest.raises(ValueError, match="differ from the first"):
        writer.write(parts[0])
        writer.write(pl.DataFrame({"a": ["not a number"]}))
    (tmp_path / "t" / "r").write_text("a file where the partition's folder should be")
    writer = store.writer("t", "r")
    writer.write(parts[0])  # fails on the writer's thread
    with pytest.raises(OSError):
        writer.close()  # ... and the error reaches the caller; nothing is put in place
    assert not store.exists("t", "r")


def test_profiles_validate_with_file_and_key(tmp_path):
    demo = load_profile("demo")
    assert demo.experiment("cot-random-1k@s1").stages == ("sft",) and demo.experiment("cot-random-1k@s1").seed == 1
    tiny = load_profile("demo-tiny")
    assert tiny.subset_recipes.keys().isdisjoint({"cot-random-1k"}) and tiny.teacher.kind == "procedural"
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "extends: demo\nreplace: [experiments]\nexperiments:\n"
        "  - {name: x, base_model: nope, stages: [sft], subset: cot-random-1k, training: sft-tiny}\n"
    )
    with pytest.raises(ProfileError, match=r"bad.yaml: experiments.x.base_model 'nope'"):
        load_profile(str(bad))
    with pytest.raises(ProfileError, match="unknown profile 'missing'"):
        load_profile("missing")


def test_band_stratified_mix_and_cap_recipes(verified):
    scores = score_difficulty(verified, DifficultySpec(easy=0.75, medium=0.4))
    rate = dict(scores.select("problem_id", "teacher_pass_rate").rows())
    bucket = dict(scores.select("problem_id", "bucket").rows())
    band = select_traces(verified, scores, SubsetRecipe(name="b", scale=10, strategy="band", band=(0.1, 0.6)))
    assert band.height == 10 and all(0.1 <= rate[p] <= 0.6 for p in band["problem_id"])
    strat = select_traces(verified, scores, SubsetRecipe(name="s", scale=12, strategy="stratified", seed=2))
    counts = {b: sum(bucket[p] == b for p in strat["problem_id"]) for b in ("easy", "medium", "hard")}
    available = {
        b: sum(1 for p in set(verified.filter(pl.col("status") == "correct")["problem_id"]) if bucket[p] == b)
        for b in counts
    }
    assert all(counts[b] == min(4, available[b]) or available[b] < 4 for b in counts) and strat.height == 12
    mixed = verified.with_columns(
        pl.when(pl.col("problem").str.contains("-")).then(pl.lit("code")).otherwise(pl.lit("math")).alias("domain")
    )  # stand-in domains: subtraction problems labelled "code"
    mix = select_traces(mixed, scores, SubsetRecipe(name="m", scale=20, mix={"math": 0.7, "code": 0.3}))
    assert mix.group_by("domain").len().sort("domain").rows() == [("code", 6), ("math", 14)]
    with pytest.raises(SubsetTooSmall, match=r"asks for 5000 code traces"):
        select_traces(mixed, scores, SubsetRecipe(name="m", scale=10000, mix={"math": 0.5, "code": 0.5}))
    capped = select_traces(verified, scores, SubsetRecipe(name="c", scale=100_000, cap=True))
    assert 0 < capped.height < 100_000
    again = select_traces(verified, scores, SubsetRecipe(name="c", scale=100_000, cap=True))
    assert subset_hash(capped["trace_id"].to_list(), SubsetRecipe(name="c", scale=100_000, cap=True)) == subset_hash(
        again["trace_id"].to_list(), SubsetRecipe(name="c", scale=100_000, cap=True)
    )


def test_quality_flags_and_filtering(verified):
    from redstar_assets.config.errors import ProfileError
    from redstar_assets.config.section import build
    from redstar_assets.config.sections import QualitySpec
    from redstar_assets.traces.quality import compression_ratio, quality_flags
    from redstar_assets.traces.verification import flag_counts

    spec = QualitySpec()
    good = "<think>\n12+30=42\ncheck 42-30=12 ok\n</think>\n\\boxed{42}"
    assert quality_flags(good, "Compute 12 + 30.", "stop", "correct", spec) == []
    loop = "<think>" + "wait, let me recompute the sum again. " * 40 + "</think>\\boxed{42}"
    assert compression_ratio(loop) < 0.1 and "repetitive" in quality_flags(loop, "x", "stop", "correct", spec)
    mixed = "<think>" + "我们计算一下这个和" * 5 + " 12+30=42 </think>\\boxed{42}"
    assert "language_mixed" in quality_flags(mixed, "Compute 12 + 30.", "stop", "correct", spec)
    assert "language_mixed" not in quality_flags(mixed, "计算 12 + 30", "stop", "correct", spec)
    cut = quality_flags("<think>12+30=", "Compute 12 + 30.", "length", "no_answer", spec)
    assert {"truncated", "no_think", "too_short"} <= set(cut)
    assert set(flag_counts(verified)) == {
        "truncated",
        "no_think",
        "repetitive",
        "language_mixed",
        "too_short",
        "too_long",
    }
    flagged = verified.with_columns(
        pl.when(pl.col("sample_index") == 0).then(False).otherwise(pl.col("quality_ok")).alias("quality_ok")
    )
    picked = select_traces(flagged, score_difficulty(verified), SubsetRecipe(name="q", scale=20))
    assert (picked["sample_index"] > 0).all()
    with pytest.raises(ProfileError, match=r"p\.yaml: quality: unknown key 'colour'"):
        build(QualitySpec, {"colour": 1}, "p.yaml", "quality")


def test_presets_csv_code_problems_and_a_broken_file_among_good_ones(tmp_path):
    from redstar_assets.problems.sources import load_source

    (tmp_path / "a.jsonl").write_text(
        json.dumps({"query": "What is 2+3?", "response": "2+3=5. The answer is: 5", "type": "GSM_Rephrased"})
        + "\n"
        + json.dumps({"query": "What is 1+1?", "response": "It is two."})
        + "\n"
    )
    (tmp_path / "b.parquet").write_text("not a parquet file")
    rows, quarantine = load_source(
        source_of({"name": "mm", "kind": "file", "preset": "metamathqa", "path": str(tmp_path / "*.*")})
    )
    assert rows.select("problem", "answer", "subject").rows() == [("What is 2+3?", "5", "GSM_Rephrased")]
    reasons = dict(zip(quarantine["field"], quarantine["reason"], strict=True))
    assert reasons["response"] == "no 'The answer is' line in the mapped field"
    assert reasons["<file>"].startswith("unreadable:") and quarantine.filter(pl.col("field") == "<file>")["file"][
        0
    ].endswith("b.parquet")
    (tmp_path / "c.csv").write_text('question,answer\n"Natalia sold 48 clips, then half as many. Total?","#### 72"\n')
    csv_rows, _ = load_source(
        source_of({"name": "g", "kind": "file", "preset": "gsm8k", "path": str(tmp_path / "c.csv")})
    )
    assert csv_rows.select("answer", "source_row").row(0) == ("72", 2)
    io = {"inputs": ["1 2\n"], "outputs": ["3\n"]}
    (tmp_path / "t.jsonl").write_text(
        json.dumps({"question": "Add two numbers.", "input_output": io, "difficulty": 1}) + "\n"
    )
    code, _ = load_source(
        source_of({"name": "taco", "kind": "file", "preset": "taco", "path": str(tmp_path / "t.jsonl")})
    )
    assert code.select("domain", "tests").row(0) == ("code", json.dumps(io))
    normalized, _ = normalize_problems(code)
    assert normalized["tests"][0] == json.dumps(io)


@pytest.mark.usefixtures("sandbox")
def test_code_traces_are_verified_by_running_them_against_the_problem_tests():
    io = json.dumps({"inputs": ["1 2\n", "5 7\n"], "outputs": ["3\n", "12\n"]})
    texts = {
        "ok": "<think>add them</think>\n```python\na, b = map(int, input().split())\nprint(a + b)\n```",
        "wrong": "<think>hm</think>\n```python\nprint(0)\n```",
        "none": "<think>hm</think> I would print the sum.",
    }
    traces = pl.DataFrame(
        [
            {
                "trace_id": k,
                "problem_id": "p",
                "domain": "code",
                "problem": "Add two numbers.",
                "answer": "",
                "tests": io,
                "text": t,
                "finish_reason": "stop",
                "error": None,
                "sample_index": 0,
            }
            for k, t in texts.items()
        ]
    )
    verdicts = dict(verify_traces(traces).select("trace_id", "status").rows())
    assert verdicts == {"ok": "correct", "wrong": "wrong", "none": "no_answer"}


def test_a_source_maps_fields_by_template_and_dotted_path_as_the_registry_does(tmp_path):
    from redstar_assets.problems.sources import load_source

    (tmp_path / "n.jsonl").write_text(
        json.dumps({"Body": "Ann has 3 apples.", "Question": "How many?", "meta": {"gold": "3"}}) + "\n"
    )
    spec = {"name": "n", "kind": "file", "path": str(tmp_path / "n.jsonl")}
    rows, quarantine = load_source(
        source_of({**spec, "mapping": {"problem": "{Body} {Question}", "answer": "meta.gold"}})
    )
    assert rows.select("problem", "answer").rows() == [("Ann has 3 apples. How many?", "3")] and quarantine.is_empty()


def test_a_code_problem_whose_tests_do_not_parse_is_quarantined_with_its_row_and_field(tmp_path):
    from redstar_assets.problems.sources import load_source

    good = {"inputs": ["1 2\n"], "outputs": ["3\n"]}
    rows_in = [
        {"question": "Add.", "input_output": json.dumps(good)},
        {"question": "Broken JSON.", "input_output": '{"inputs": ["1"'},
        {"question": "Uneven.", "input_output": json.dumps({"inputs": ["1", "2"], "outputs": ["1"]})},
        {"question": "No tests kind.", "input_output": json.dumps({"cases": []})},
    ]
    (tmp_path / "taco.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows_in))
    rows, quarantine = load_source(
        source_of({"name": "t", "kind": "file", "path": str(tmp_path / "taco.jsonl"), "preset": "taco"})
    )
    assert rows["problem"].to_list() == ["Add."]
    assert quarantine["line"].to_list() == [2, 3, 4] and set(quarantine["field"]) == {"input_output"}
    assert all(r.startswith("tests do not parse") for r in quarantine["reason"])


def test_answer_only_targets_are_the_boxed_answer_or_the_program_alone():
    from redstar_assets.curation.subsets import target_text

    code = "<think>loop over it</think>\nHere:\n```python\nprint(sum(map(int, input().split())))\n```"
    assert target_text(code, "answer_only", "code") == "```python\nprint(sum(map(int, input().split())))\n```"
    assert target_text("<think>2+2</think> \\boxed{4}", "answer_only") == "\\boxed{4}"
    assert target_text(code, "long_cot", "code") == code
