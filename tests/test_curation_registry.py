"""The benchmark registry loads the real benchmark files through YAML mappings; near-duplicate and
decontamination filters remove planted defects and keep clean problems."""

import json
import random

import polars as pl
import pytest

from redstar_assets.config.benchmark_registry import RegistryError, load_registry
from redstar_assets.config.sections import DifficultySpec, LearnedDifficulty
from redstar_assets.problems.benchmark_files import load_benchmark, read_benchmark
from redstar_assets.problems.decontaminate import ContaminationIndex, decontaminate
from redstar_assets.problems.dedupe import near_duplicates
from redstar_assets.problems.normalize import canonical

SHARED = ["math500", "aime2024", "aime2025", "amc2023", "gsm8k", "olympiadbench", "humaneval"]


@pytest.fixture(scope="module")
def benchmarks(shared_data):
    return {n: load_benchmark(n, shared_data / "benchmarks") for n in SHARED}


def test_registry_declares_the_papers_benchmarks():
    registry = load_registry()
    for name in (
        "math500",
        "math-hard",
        "aime2024",
        "aime2025",
        "amc2023",
        "gsm8k",
        "olympiadbench",
        "college-math",
        "minerva-math",
        "humaneval",
        "livecodebench",
        "geoqa",
        "mathvista-geo",
    ):
        assert name in registry, name
    assert registry["math-hard"].filter == {"level": 5} and registry["humaneval"].verifier == "code"


def test_registry_loads_the_shared_files_with_their_answer_types(benchmarks):
    assert {n: f.height for n, f in benchmarks.items()} == {
        "math500": 500,
        "aime2024": 30,
        "aime2025": 30,
        "amc2023": 40,
        "gsm8k": 1319,
        "olympiadbench": 675,
        "humaneval": 164,
    }
    aime = benchmarks["aime2024"]
    assert aime["item_id"].to_list()[:2] == ["60", "61"] and "025" in aime["answer"].to_list()
    assert benchmarks["amc2023"]["answer"][0] == "27.0" and benchmarks["amc2023"]["answer_format"][0] == "number"
    assert benchmarks["gsm8k"]["answer"][0] == "18"  # after "####"
    olympiad = benchmarks["olympiadbench"]
    assert json.loads(olympiad["answer"][0]) == ["2"] and olympiad.filter(pl.col("tolerance").is_not_null()).height == 1
    assert (
        benchmarks["math500"]["level"].min() == 1 and benchmarks["humaneval"]["entry_point"][0] == "has_close_elements"
    )


def test_a_new_benchmark_needs_only_a_yaml_entry(tmp_path):
    (tmp_path / "quiz.jsonl").write_text(
        json.dumps({"qid": "q1", "text": "What is 6*7?", "sol": "#### 42"})
        + "\n"
        + json.dumps({"qid": "q2", "text": ""})
        + "\n"
    )
    (tmp_path / "registry.yaml").write_text(
        "benchmarks:\n  quiz:\n    path: quiz.jsonl\n    mapping: {id: qid, problem: text, answer: sol}\n"
        "    answer_transform: gsm8k\n    answer_format: number\n"
    )
    registry = load_registry(tmp_path / "registry.yaml")
    with pytest.raises(RegistryError, match=r"quiz.jsonl:2: field 'text': missing or empty problem"):
        load_benchmark("quiz", tmp_path, registry)
    (tmp_path / "quiz.jsonl").write_text(json.dumps({"qid": "q1", "text": "What is 6*7?", "sol": "#### 42"}) + "\n")
    quiz = load_benchmark("quiz", tmp_path, registry)
    assert quiz.select("item_id", "problem", "answer").row(0) == ("q1", "What is 6*7?", "42")


def test_missing_file_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(RegistryError, match="math_test.jsonl does not exist and Hugging Face dataset"):
        load_benchmark("math-hard", tmp_path)


def _edit(text: str, rng: random.Random) -> str:
    """A small realistic edit: whitespace, a changed number, or one changed word."""
    kind = rng.choice(["space", "number", "word"])
    words = text.split(" ")
    if kind == "space":
        return "  ".join(words).replace("$", " $ ", 1)
    if kind == "number":
        return text.replace("1", "7", 1) if "1" in text else text + " "
    i = rng.randrange(len(words))
    words[i] = words[i].upper() if len(words[i]) > 3 else "the"
    return " ".join(words)


def test_decontamination_catches_edited_benchmark_items_and_names_them(benchmarks):
    math = pl.concat([benchmarks[n] for n in ("math500", "aime2024", "aime2025", "amc2023", "olympiadbench")])
    index = ContaminationIndex(math)
    rng = random.Random(0)
    planted = math.sample(300, seed=7)
    rows = [
        {
            "problem_id": f"bad{i}",
            "problem": _edit(r["problem"], rng),
            "source_item": f"{r['benchmark']}:{r['item_id']}",
        }
        for i, r in enumerate(planted.iter_rows(named=True))
    ]
    clean_gsm = benchmarks["gsm8k"]["problem"].to_list()  # unrelated problems: none may be removed
    rows += [{"problem_id": f"ok{i}", "problem": p, "source_item": None} for i, p in enumerate(clean_gsm)]
    frame = pl.DataFrame(rows)
    kept, removed = decontaminate(frame.drop("source_item"), index)
    caught = set(removed["problem_id"])
    planted_ids = {f"bad{i}" for i in range(300)}
    print(
        f"decontamination: caught {len(caught & planted_ids)}/300 planted, {len(caught - planted_ids)} false removals"
    )
    assert len(caught & planted_ids) >= 297, f"recall {len(caught & planted_ids)}/300"
    assert not caught - planted_ids, f"false removals: {sorted(caught - planted_ids)[:5]}"
    named = dict(zip(removed["problem_id"], removed["benchmark"] + ":" + removed["item_id"], strict=True))
    expected = dict(zip(frame["problem_id"], frame["source_item"], strict=True))
    exact_names = sum(named[p] == expected[p] for p in caught)
    assert exact_names >= 0.97 * len(caught)  # duplicated items across benchmarks may name the other copy
    assert kept.height == len(clean_gsm) + 300 - len(caught)


@pytest.mark.parametrize("backend", ["rensa", "datasketch"])
def test_near_duplicates_keep_the_first_and_leave_short_distinct_problems(benchmarks, backend):
    texts = benchmarks["math500"]["problem"].to_list()[:200]
    variants = [
        t.replace(" ", "  ").replace("$", "$ ", 1) if i % 2 else t.replace("2", "3", 1)
        for i, t in enumerate(texts[:50])
    ]
    short = ["Compute 320 + 911.", "Compute 320 + 91.", "Compute 32 + 911."]
    ids = [f"m{i}" for i in range(200)] + [f"v{i}" for i in range(50)] + ["s0", "s1", "s2"]
    removed = near_duplicates(ids, texts + variants + short, backend=backend)
    print(f"near duplicates ({backend}): removed {len(removed)} of 50 variants (+3 short distinct problems kept)")
    assert {f"v{i}" for i in range(50) if len(texts[i]) >= 60} <= set(removed)
    assert all(removed[f"v{i}"] == f"m{i}" for i in range(50) if f"v{i}" in removed)
    assert not {k for k in removed if k.startswith(("m", "s"))}, "distinct problems were merged"
    assert canonical("Find \\, $\\dfrac{1}{2}$") == canonical("find \\frac{1}{2}")


def cross_validated_spearman(texts: list[str], levels: list[float], folds: int = 5, seed: int = 0) -> dict:
    """Held-out Spearman correlation with the true levels for the model and for the length baseline."""
    import numpy as np
    from scipy.stats import spearmanr
    from sklearn.model_selection import KFold

    from redstar_assets.curation.learned_difficulty import fit

    level_array = np.asarray(levels, dtype=float)
    predicted = np.zeros(len(texts))
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(texts):
        model = fit([texts[i] for i in train], level_array[train])
        predicted[test] = model.predict([texts[i] for i in test])
    lengths = np.array([len(t) for t in texts], dtype=float)
    return {
        "model_spearman": round(float(spearmanr(predicted, level_array).statistic), 4),
        "length_spearman": round(float(spearmanr(lengths, level_array).statistic), 4),
    }


def test_learned_difficulty_beats_the_length_baseline(benchmarks):
    """Offline stand-in for MATH train: 5-fold cross-validation on MATH-500's levels (marked as such:
    MATH-500 is an evaluation set, so a real run trains on MATH train or Omni-MATH instead)."""
    math = benchmarks["math500"]
    result = cross_validated_spearman(math["problem"].to_list(), math["level"].to_list(), folds=5, seed=0)
    print(f"learned difficulty on MATH-500 levels (5-fold CV): {result}")
    assert result["model_spearman"] > result["length_spearman"] + 0.05


def test_difficulty_scores_use_the_scorer_and_the_learned_model(tmp_path, benchmarks):
    from redstar_assets.curation.assets import learned_model
    from redstar_assets.curation.difficulty import score_difficulty, with_learned_difficulty

    verified = pl.DataFrame(
        {
            "problem_id": ["a", "a", "b", "b"],
            "status": ["correct", "correct", "correct", "wrong"],
            "text": ["x"] * 4,
            "completion_tokens": [1] * 4,
            "level": [1, 1, 5, 5],
        }
    )
    scorer = pl.DataFrame({"problem_id": ["a", "a", "b", "b"], "status": ["wrong", "wrong", "correct", "correct"]})
    scores = score_difficulty(verified, DifficultySpec(easy=0.75, medium=0.4), scorer)
    assert dict(scores.select("problem_id", "bucket").rows()) == {"a": "hard", "b": "easy"}  # the scorer's rates
    train = benchmarks["math500"].select("problem", "level")
    train.write_ndjson(tmp_path / "levels.jsonl")
    levels_file = LearnedDifficulty(train_on=str(tmp_path / "levels.jsonl"))
    model, meta = learned_model(levels_file, str(tmp_path))
    assert meta["train_rows"] == 500 and (tmp_path / "cache").exists()
    problems = pl.DataFrame(
        {"problem_id": ["a", "b"], "problem": ["What is $1+1$?", benchmarks["math500"]["problem"][0]]}
    )
    learned = with_learned_difficulty(scores, problems, model)
    assert learned["learned_difficulty"].is_not_null().all()
    again, _ = learned_model(levels_file, str(tmp_path))  # reused from the cache
    assert again.predict(["What is $1+1$?"])[0] == model.predict(["What is $1+1$?"])[0]


def test_math_hard_keeps_level_5_rows_of_a_math_style_file(tmp_path, benchmarks):
    """MATH's files say "Level 5"; the registry's `filter: {level: 5}` compares normalized values."""
    rows = benchmarks["math500"].head(40).to_dicts()
    (tmp_path / "math_test.jsonl").write_text(
        "".join(
            json.dumps(
                {"problem": r["problem"], "solution": f"so \\boxed{{{r['answer']}}}", "level": f"Level {r['level']}"}
            )
            + "\n"
            for r in rows
        )
    )
    hard = load_benchmark("math-hard", tmp_path)
    expected = sum(r["level"] == 5 for r in rows)
    assert expected > 0 and hard.height == expected and set(hard["level"].to_list()) == {5}


def test_mappings_build_fields_from_templates_and_dotted_paths_and_bad_rows_are_left_out(tmp_path):
    (tmp_path / "nested.jsonl").write_text(
        "".join(
            json.dumps({**r, "Question": "How many?", "src": "s"}) + "\n"
            for r in [
                {"Body": "Ann has 3 apples.", "ans": "3", "n": 1, "meta": {"task": "Count"}},
                {"Body": "Bo has 2.", "ans": "", "n": 2, "meta": {"task": "count"}},
                {"Body": "Cy has 4.", "ans": "4", "n": 3, "meta": {"task": "sort"}},
                {"Body": "Di has 5.", "ans": "5", "n": 4, "meta": {"task": "count "}},
            ]
        )
    )
    (tmp_path / "registry.yaml").write_text(
        "benchmarks:\n  mini:\n    path: nested.jsonl\n"
        "    mapping: {problem: '{Body} {Question}', answer: ans, id: '{src}/{n}'}\n"
        "    filter: {meta.task: count}\n"
    )
    registry = load_registry(tmp_path / "registry.yaml")
    read = read_benchmark("mini", tmp_path, registry)
    assert read.items.select("item_id", "problem", "answer").rows() == [
        ("s/1", "Ann has 3 apples. How many?", "3"),
        ("s/4", "Di has 5. How many?", "5"),
    ]
    assert len(read.left_out) == 1 and read.left_out[0]["row"] == 2
    assert "nested.jsonl:2: field 'ans': missing or empty answer" in read.left_out[0]["reason"]
    with pytest.raises(RegistryError, match=r"nested.jsonl:2: field 'ans'"):
        load_benchmark("mini", tmp_path, registry)  # decontamination's strict read


def test_a_registry_entry_may_name_the_lenient_mode_and_an_unknown_one_is_refused(tmp_path):
    entry = "benchmarks:\n  quiz:\n    path: quiz.jsonl\n    answer_format: number\n    mode: {mode}\n"
    (tmp_path / "registry.yaml").write_text(entry.format(mode="lenient"))
    assert load_registry(tmp_path / "registry.yaml")["quiz"].mode == "lenient"
    (tmp_path / "registry.yaml").write_text(entry.format(mode="generous"))
    with pytest.raises(RegistryError, match=r"benchmark 'quiz': mode 'generous' not one of"):
        load_registry(tmp_path / "registry.yaml")
