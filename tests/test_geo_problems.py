"""Image problems: the registry reads GeoQA- and MathVista-format files with embedded figures through
its mappings alone, bad figures are left out or quarantined with their reason, the content id and
decontamination see the figure, and the generated geometry problems need their figure."""

from __future__ import annotations

import base64
import io
import json
import random
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import polars as pl
import pytest
import yaml
from PIL import Image, ImageDraw

from redstar_assets.config.benchmark_registry import load_registry
from redstar_assets.config.sources import source_of
from redstar_assets.problems.benchmark_files import read_benchmark
from redstar_assets.problems.decontaminate import ContaminationIndex, decontaminate
from redstar_assets.problems.dedupe import near_duplicates
from redstar_assets.problems.images import ImageError, figure_hashes, read_image
from redstar_assets.problems.normalize import problem_id
from redstar_assets.problems.sources import load_source
from redstar_training.synthetic.geometry import GeoTeacherConfig, figure_facts, make_problem, solve
from redstar_training.verify import MathVerifier
from redstar_training.verify.equivalence import MathTask

REGISTRY = Path(__file__).resolve().parents[1] / "configs" / "benchmarks.yaml"


def figure(label: str, size: int = 96, fmt: str = "PNG", apex: float = 0.33) -> bytes:
    """A small line drawing (a triangle whose apex sits at `apex` of the width) with a printed label."""
    im = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(im)
    d.polygon([(8, size - 8), (size - 8, size - 8), (int(size * apex), 10)], outline="black", width=2)
    d.text((size // 2, size // 2), label, fill="blue")
    out = io.BytesIO()
    im.save(out, format=fmt)
    return out.getvalue()


def bomb(side: int = 60_000) -> bytes:
    """A 1x1 PNG whose header claims side x side pixels (3.6 gigapixels by default): a decompression
    bomb. Pillow refuses over 179M pixels itself; under that, our own limit must."""
    data = bytearray(figure("x", size=1))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", side, side)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17]))
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


def test_geoqa_jsonl_and_parquet_layouts_load_through_the_registry_mapping(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "1.png").write_bytes(figure("40"))
    rows = [
        {
            "problem": "As shown, AB ∥ CD and ∠1 = 40°. Find ∠2.",
            "solution": "<answer>140°</answer>",
            "image": "img/1.png",
        },
        {
            "problem": "In circle O, ∠AOB = 80°. Find ∠ACB. Choices: A:40° B:80° C:160° D:20°",
            "solution": "The inscribed angle is half the central angle.\nAnswer: A",
            "image": base64.b64encode(figure("80")).decode(),
        },
        {"problem": "A broken figure.", "solution": "<answer>B</answer>", "image": "img/missing.png"},
    ]
    (tmp_path / "geoqa.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    read = read_benchmark("geoqa", tmp_path)
    items = read.items.to_dicts()
    assert [(i["answer"], i["answer_format"], i["verifier"]) for i in items] == [
        ("140°", "math", "math"),
        ("A", "choice", "choice"),
    ]
    assert Image.open(io.BytesIO(items[0]["image"])).size == (96, 96)
    assert len(read.left_out) == 1 and "geoqa.jsonl:3" in read.left_out[0]["reason"]
    assert "field 'image'" in read.left_out[0]["reason"] and "does not exist" in read.left_out[0]["reason"]

    # the Hugging Face layout: Parquet with the Image feature's {bytes, path} struct
    pl.DataFrame(
        {
            "problem": [rows[0]["problem"]],
            "solution": ["\\boxed{140}"],
            "image": [{"bytes": figure("40"), "path": "1.png"}],
        }
    ).write_parquet(tmp_path / "geoqa.parquet")
    registry = {
        **load_registry(),
        "geoqa": load_registry()["geoqa"].__class__(**{**load_registry()["geoqa"].__dict__, "path": "geoqa.parquet"}),
    }
    item = read_benchmark("geoqa", tmp_path, registry).items.row(0, named=True)
    assert item["answer"] == "140" and item["image"] == items[0]["image"]


def test_mathvista_testmini_rows_keep_geometry_and_score_choices_and_precision(tmp_path):
    def row(pid, task, question_type, answer, choices, precision, answer_type):
        return {
            "pid": pid,
            "question": "Find x.",
            "query": f"Hint: answer the question. Question {pid}: find x.",
            "choices": choices,
            "answer": answer,
            "answer_type": answer_type,
            "question_type": question_type,
            "precision": precision,
            "metadata": {"task": task, "category": "math-targeted-vqa", "skills": ["geometry reasoning"]},
            "decoded_image": {"bytes": figure(pid), "path": f"{pid}.png"},
        }

    rows = [
        row("1", "geometry problem solving", "multi_choice", "145°", ["35°", "55°", "145°", "125°"], None, "text"),
        row("2", "figure question answering", "free_form", "3", None, None, "integer"),
        row("3", "geometry problem solving", "free_form", "1.45", None, 2.0, "float"),
        row("4", "geometry problem solving", "multi_choice", "99°", ["35°", "55°"], None, "text"),
    ]
    pl.DataFrame(rows).write_parquet(tmp_path / "mathvista_geo.parquet")
    registry = load_registry()
    entry = registry["mathvista-geo"]
    registry["mathvista-geo"] = entry.__class__(**{**entry.__dict__, "path": "mathvista_geo.parquet"})
    read = read_benchmark("mathvista-geo", tmp_path, registry)
    items = {i["item_id"]: i for i in read.items.to_dicts()}
    assert sorted(items) == ["1", "3"]  # pid 2 is not geometry; pid 4's answer is not among its choices
    assert (items["1"]["answer"], items["1"]["verifier"]) == ("C", "choice")
    assert items["3"]["verifier"] == "math" and items["3"]["tolerance"] == pytest.approx(0.005)
    assert "not one of the 2 choices" in read.left_out[0]["reason"]
    with MathVerifier(workers=1) as verifier:
        verdicts = verifier.verify(
            [
                MathTask(items["1"]["answer"], "The answer is (C).", answer_format="choice"),
                MathTask(items["3"]["answer"], "\\boxed{1.449}", tolerance=items["3"]["tolerance"]),
                MathTask(items["3"]["answer"], "\\boxed{1.46}", tolerance=items["3"]["tolerance"]),
            ]
        )
    assert [v.status for v in verdicts] == ["correct", "correct", "wrong"]


def test_eval_score_works_on_a_geo_benchmark_with_stored_predictions(tmp_path):
    rows = [
        {
            "problem": f"Figure {k}: find angle 2.",
            "solution": f"<answer>{a}</answer>",
            "image": base64.b64encode(figure(str(k))).decode(),
        }
        for k, a in [(1, "B"), (2, "120°"), (3, "D")]
    ]
    (tmp_path / "geoqa.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    predictions = tmp_path / "predictions.jsonl"
    outputs = ["Answer: B", "so angle 2 is \\boxed{120}", "Answer: A"]
    predictions.write_text(
        "\n".join(json.dumps({"problem": r["problem"], "output": o}) for r, o in zip(rows, outputs, strict=True))
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "redstar_assets.cli.main",
            "eval",
            "score",
            "--benchmark",
            "geoqa",
            "--data",
            str(tmp_path),
            "--predictions",
            str(predictions),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["matched"] == 3 and summary["accuracy"] == pytest.approx(2 / 3, abs=1e-3)


@pytest.mark.parametrize(
    "value, reason",
    [
        (b"", "empty image"),
        (b"GIF89a not really a gif", "not an image Pillow can read"),
        (b"\x89PNG\r\n\x1a\nnot really a png", "does not decode"),
        ("TRUNCATED", "does not decode"),
        ("BOMB", "decompression bomb"),
        ("LARGE", "6000x6000 pixels, over the 25000000-pixel limit"),
        ({"bytes": None, "path": None}, "neither bytes nor a path"),
        (12, "got int"),
    ],
)
def test_bad_images_are_refused_with_their_reason(value, reason):
    value = (
        {"TRUNCATED": figure("t", size=200)[:300], "BOMB": bomb(), "LARGE": bomb(6000)}.get(value, value)
        if isinstance(value, str)
        else value
    )
    with pytest.raises(ImageError, match=reason):
        read_image(value)


def test_a_source_quarantines_bad_figures_and_keeps_the_good_rows(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "bomb.png").write_bytes(bomb())
    (tmp_path / "good.png").write_bytes(figure("ok"))
    rows = [
        {"problem": "Good one.", "solution": "<answer>C</answer>", "image": "good.png"},
        {"problem": "Zero bytes.", "solution": "<answer>A</answer>", "image": "empty.png"},
        {"problem": "A bomb.", "solution": "<answer>A</answer>", "image": "bomb.png"},
        {"problem": "Corrupt.", "solution": "<answer>A</answer>", "image": base64.b64encode(b"\x00" * 300).decode()},
        {"problem": "No figure at all.", "solution": "<answer>B</answer>", "image": ""},
    ]
    path = tmp_path / "pool.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    good, bad = load_source(source_of({"name": "geo-pool", "kind": "file", "path": str(path), "preset": "geoqa"}))
    assert good["problem"].to_list() == ["Good one.", "No figure at all."] and good["answer"].to_list() == ["C", "B"]
    assert good["image"][0] == figure("ok") and good["image"][1] is None  # an empty field: a text problem
    assert bad.select("line", "field").rows() == [(2, "image"), (3, "image"), (4, "image")]
    reasons = bad["reason"].to_list()
    assert "empty image" in reasons[0] and "decompression bomb" in reasons[1] and "Pillow" in reasons[2]


def test_the_content_id_hashes_the_figure_with_the_text():
    a, b = figure("40"), figure("50")
    assert problem_id("geo", "Find angle 2.", a) != problem_id("geo", "Find angle 2.", b)
    assert problem_id("geo", "Find angle 2.", a) == problem_id("geo", " Find  angle 2.", bytes(a))
    assert problem_id("geo", "Find angle 2.") == problem_id("geo", "Find angle 2.", None)


def test_a_reworded_problem_over_a_reencoded_benchmark_figure_is_contaminated():
    bench_image = figure("72", size=224)
    jpeg = io.BytesIO()
    Image.open(io.BytesIO(bench_image)).convert("RGB").resize((180, 180)).save(jpeg, format="JPEG", quality=75)
    benchmarks = pl.DataFrame(
        {
            "benchmark": ["geoqa"],
            "item_id": ["7"],
            "problem": ["As shown, find the measure of angle ACB."],
            "image": [bench_image],
        },
        schema={"benchmark": pl.String, "item_id": pl.String, "problem": pl.String, "image": pl.Binary},
    )
    train = pl.DataFrame(
        {
            "problem_id": ["p1", "p2", "p3"],
            "problem": ["What is angle C in the figure?", "What is angle C in the figure?", "Compute 3 + 4."],
            "image": [jpeg.getvalue(), figure("15", size=224, apex=0.8), None],
        },
        schema={"problem_id": pl.String, "problem": pl.String, "image": pl.Binary},
    )
    clean, removed = decontaminate(train, ContaminationIndex(benchmarks))
    assert clean["problem_id"].to_list() == ["p2", "p3"]
    assert removed.row(0, named=True)["item_id"] == "7" and removed["how"][0].startswith("image ")


def test_same_template_over_different_figures_is_not_a_near_duplicate():
    text = "In the figure, line a is parallel to line b. What is angle 2? Choices: (A) 60° (B) 110° (C) 130° (D) 120°"
    images = [figure("40", 224), figure("75", 224, apex=0.8), figure("40", 224)]
    removed = near_duplicates(["a", "b", "c"], [text] * 3, figures=figure_hashes(images))
    assert removed == {"c": "a"}
    assert near_duplicates(["a", "b"], [text] * 2) == {"b": "a"}


def test_generated_geometry_needs_its_figure_and_the_teacher_reads_it():
    rng = random.Random(3)
    correct, answers = 0, {}
    with MathVerifier(workers=1) as verifier:
        for i in range(60):
            made = make_problem(["triangle", "parallel", "circle"][i % 3], [30, 40, 50, 60, 70], rng)
            facts = figure_facts(made.image)
            answers.setdefault(made.problem.split("Choices:")[0], set()).add(made.choices[ord(made.answer) - 65])
            assert made.choices[ord(made.answer) - ord("A")] in facts["choices"]
            trace = solve(made.problem, made.image, 0, f"p{i}", GeoTeacherConfig(seed=1)).text
            assert trace.startswith("<think>\n") and "\n</think>\n" in trace
            (verdict,) = verifier.verify([MathTask(made.answer, trace, answer_format="choice")])
            correct += verdict.status == "correct"
    # the same question has several answers: which one only the figure says
    assert sum(len(values) >= 3 for values in answers.values()) >= 2 and len(answers) >= 3
    assert 40 <= correct < 60  # the teacher misreads some figures and catches half of its misreadings
    with pytest.raises(ValueError, match="only reads figures this generator drew"):
        figure_facts(figure("x"))


def test_the_geometry_source_and_the_generated_heldout_set():
    good, bad = load_source(source_of({"name": "geo", "kind": "geometry", "count": 9, "seed": 5}))
    assert good.height == 9 and bad.height == 0 and set(good["domain"]) == {"geo"}
    assert good["subject"].to_list()[:3] == ["triangle", "parallel", "circle"]
    held = read_benchmark("geo-heldout", count=12).items
    assert held.height == 12 and set(held["verifier"]) == {"choice"} and held["image"].null_count() == 0
    assert yaml.safe_load(REGISTRY.read_text())["benchmarks"]["geo-heldout"]["generator"]["kind"] == "geometry"


def test_image_url_messages_carry_the_figure_as_a_data_uri():
    from redstar_training.models.chat_template import image_url_messages, prompt_messages, with_image

    png, jpeg = figure("1"), figure("2", fmt="JPEG")
    messages = image_url_messages(prompt_messages("Find x.", "Think first."), jpeg)
    assert messages[0] == {"role": "system", "content": "Think first."}
    image, text = messages[1]["content"]
    assert image["image_url"]["url"].startswith("data:image/jpeg;base64,") and text == {
        "type": "text",
        "text": "Find x.",
    }
    assert base64.b64decode(image["image_url"]["url"].split(",", 1)[1]) == jpeg
    assert image_url_messages(prompt_messages("Find x."), None) == prompt_messages("Find x.")
    parts = with_image([*prompt_messages("Find x."), {"role": "assistant", "content": "\\boxed{A}"}], True)
    assert [p["type"] for p in parts[0]["content"]] == ["image", "text"] and parts[1]["content"][0]["type"] == "text"
    assert "data:image/png" in str(image_url_messages(prompt_messages("y"), png))


def test_an_image_problem_cannot_go_to_a_completions_endpoint():
    from redstar_training.generation.openai_backend import OpenAIBackend
    from redstar_training.generation.types import SampleRequest, Sampling

    backend = OpenAIBackend(
        base_url="http://127.0.0.1:9/v1", model="m", endpoint="completions", images={"p": figure("x")}
    )
    request = SampleRequest("k", "p", 0, ({"role": "user", "content": "Find x."},), "Find x.")
    with pytest.raises(ValueError, match="need endpoint: chat"):
        backend.generate([request], Sampling(), lambda c: None)


def test_trust_remote_code_is_set_on_a_base_model_entry_only(tmp_path):
    from redstar_assets.config.errors import ProfileError
    from redstar_assets.config.profile import load_profile

    geo = load_profile("redstar-geo")
    assert geo.base_models["internvl2-8b"].trust_remote_code is True
    assert not any(getattr(m, "trust_remote_code", False) for n, m in geo.base_models.items() if n != "internvl2-8b")
    bad = yaml.safe_load((REGISTRY.parents[0] / "profiles" / "demo-geo-tiny.yaml").read_text())
    bad["extends"] = "demo-geo"
    bad["base_models"]["tiny-vlm"]["trust_remote_code"] = True
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ProfileError, match="trust_remote_code"):
        load_profile(str(tmp_path / "bad.yaml"))
    recipe = yaml.safe_load((REGISTRY.parents[0] / "profiles" / "demo-geo-tiny.yaml").read_text())
    recipe["extends"] = "demo-geo"
    recipe["training_recipes"] = {"sft-vlm": {"num_train_epochs": 1, "trust_remote_code": True}}
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    with pytest.raises(ProfileError, match="trust_remote_code"):
        load_profile(str(tmp_path / "recipe.yaml"))
