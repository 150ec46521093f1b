"""`lenient` mode and the equivalence rules that every mode shares: pure functions, then the verifier
with its per-row options, then `redstar verify math` rows with bad options."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from redstar_training.verify import MathTask, MathVerifier, extract_answer, extract_choice
from redstar_training.verify.lenient import boxed_run, language_code, lenient_answer, lenient_gold, span_positions

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "text, language, answer",
    [
        ("\\(\\boxed{1}\\) and \\(\\boxed{-2}\\).", None, "1, -2"),  # a run of boxes is one answer
        ("first \\boxed{200}\n\nthen we get \\boxed{255}", None, "255"),  # boxes apart: the last one
        ("\\boxed{255} ... Final Answer: The final answer is $10,455$. I hope", None, "10,455"),
        ("Therefore $x \\geq 5$ is the solution.", None, "x \\geq 5"),
        ("Final Answer: The largest $n$ is 34.", None, "34"),
        ("the volume of $ABCD$ is $5 \\times 6 = 30$ and there are 12 of them", None, "12"),  # the later one
        ("Answer $ \\frac{1}{2} \\$ = \\frac{10}{9} $", None, "\\frac{1}{2} \\$ = \\frac{10}{9}"),  # \\$ is text
        ("the number is not 10 which is 1,000.99€", None, "1000.99"),
        ("Soucis : 2,74 $ a..", None, "2.74"),  # a lone $ is currency, the comma a decimal comma
        ("AZYUK2A", None, None),  # a digit inside a word is not a number
        ("\\frac{10}{9}", None, "\\frac{10}{9}"),  # no prose: the whole output is the answer
        ("Réponse: Janeth aura encore 220 $ à payer d'ici 12 mois.", "fr", "220"),
        ("réponse est (35 + 70 = 105).", "fr", "105"),
        ("答案：每份应该是 (\\frac{2}{5}) 吨。", "zh", "\\frac{2}{5}"),
        ("الإجابة هي 42", "ar", "42"),
        ("उत्तर है 17", "hi", "17"),
        ("il reste 2,5 litres", "fr", "2.5"),
    ],
)
def test_lenient_reads_outputs_as_graders_do(text, language, answer):
    assert lenient_answer(text, language) == answer
    assert extract_answer(text, "lenient", language) == answer


def test_strict_and_legacy_keep_their_meanings():
    assert extract_answer("Therefore $x \\geq 5$ is the solution.") is None  # strict: no marker, no answer
    assert extract_answer("so $\\frac{1}{2}$", "legacy") == "2"  # the Qwen2.5-Math harness's last number
    assert extract_answer("so $\\frac{1}{2}$", "lenient") == "\\frac{1}{2}"


def test_spans_and_boxes_are_paired_in_one_linear_pass():
    spans = [content for _, _, content in span_positions("a $x$ b $$y\nz$$ c \\(w\\) d \\[v\\]")]
    assert spans == ["x", "y\nz", "w", "v"]
    assert span_positions("Answer $ \n 9 \n $") == []  # an inline span never crosses a line
    assert boxed_run("\\boxed{1} and and and or thus but \\boxed{2} and \\boxed{3}") == "2, 3"
    assert lenient_gold("$1$ and $2$ and $3$") == "1, 2, 3"
    hostile = "$" * 1_000_000 + "\\(" * 100_000 + "\\boxed{" * 100_000
    assert lenient_answer(hostile) is None  # paired spans: none closed, no box closed, no number


@pytest.mark.parametrize(
    "text, language, letter",
    [
        ("thinking about it I think the correct answer is C", None, "C"),
        ("Let's think step by step. It's not A because it doesn't make sense, therefore I think it's B", None, "B"),
        ("The answer is for sure D, it can't be A or B", None, "D"),
        ("D. it can't be A or B", None, "D"),
        ("réponse est C non A", "fr", "C"),
        ("B。不是 A", "zh", "B"),
        ("B不是 A", "zh", "B"),
    ],
)
def test_choice_letters_in_sentences(text, language, letter):
    assert extract_choice(text, "lenient", language) == letter


@pytest.fixture(scope="module")
def verifier():
    with MathVerifier(workers=1) as v:
        yield v


@pytest.mark.parametrize(
    "gold, output, options, correct",
    [
        ("\\sqrt{a}", "\\boxed{$\\sqrt{a}$}", {}, True),  # identical after normalization: never wrong
        ("25,100,55", "\\boxed{$25,100,55$}", {}, True),
        ("(-\\infty, \\infty)", "\\boxed{(-\\infty,\\infty)}", {}, True),
        ("y=e^{-a x}", "\\boxed{y = e^{-ax}}", {}, True),
        ("x \\geq 5", "\\boxed{x >= 5}", {}, True),
        ("x \\neq 3", "\\boxed{x != 3}", {}, True),
        ("x \\in [-2,7]", "\\boxed{-2 \\le x \\le 7}", {}, True),
        ("-2 \\le x \\le 7", "\\boxed{x \\in [-2,7]}", {}, True),
        ("x \\in (-2,7]", "\\boxed{-2 \\le x \\le 7}", {}, False),
        (
            "\\begin{pmatrix}1 & 2\\\\ 3 & 4\\end{pmatrix}",
            "\\boxed{\\left[\\begin{array}{cc}1&2\\\\3&4\\end{array}\\right]}",
            {},
            True,
        ),
        (
            "\\begin{bmatrix}1 & 2\\\\ 3 & 4\\end{bmatrix}",
            "\\boxed{\\begin{pmatrix}1&2\\\\3&5\\end{pmatrix}}",
            {},
            False,
        ),
        ("\\begin{pmatrix}0.33 & 1\\end{pmatrix}", "\\boxed{\\begin{pmatrix}\\frac13 & 1\\end{pmatrix}}", {}, False),
        (
            "\\begin{pmatrix}0.33 & 1\\end{pmatrix}",
            "\\boxed{\\begin{pmatrix}\\frac13 & 1\\end{pmatrix}}",
            {"precision": 2},
            True,
        ),
        (
            "\\begin{pmatrix}0.33 & 1\\end{pmatrix}",
            "\\boxed{\\begin{pmatrix}0.3333 & 1\\end{pmatrix}}",
            {"tolerance": 0.01},
            True,
        ),
        ("y = 2x+1", "\\boxed{2x+1}", {}, True),  # an equation's value side when the left sides agree
        ("2x+1", "\\boxed{y=2x+1}", {}, True),
        ("y = 2x+1", "\\boxed{z = 2x+1}", {}, False),
        ("7 = 11a+c", "\\boxed{11a+c}", {}, False),  # a gold relation is not an equation to solve
        ("(1,2),(3,4)", "\\boxed{(3,4),(1,2)}", {}, True),
        ("(1,2)", "\\boxed{(2,1)}", {}, False),  # a tuple keeps its order
        ("\\frac{1}{3}", "\\boxed{0.3333}", {"precision": 4}, True),
        ("\\frac{1}{3}", "\\boxed{0.3333}", {}, False),
        ("1000.99", "\\boxed{1000,99}", {"language": "fr"}, True),
        ("2,5", "\\boxed{2.5}", {"language": "de"}, True),
        ("-2,1", "\\boxed{-2, 1}", {"mode": "lenient"}, True),  # a bare `-2,1` is still the pair
        ("-12;-11;-10", "\\boxed{\\{-10, -11, -12\\}}", {"mode": "lenient"}, True),  # solutions in any order
        ("(11,7)or(7,11)", "\\boxed{(7,11),\\ (11,7)}", {"mode": "lenient"}, True),
        ("C", "the correct answer is C", {"mode": "lenient", "answer_format": "choice"}, True),
        ("(D) Alina", "D", {"mode": "lenient", "answer_format": "choice"}, True),
        ("(A) Cecile", "C", {"mode": "lenient", "answer_format": "choice"}, False),
    ],
)
def test_equivalence_rules(verifier, gold, output, options, correct):
    (verdict,) = verifier.verify([MathTask(gold, output, **options)])
    assert verdict.correct is correct, verdict


@pytest.mark.parametrize(
    "options, message",
    [
        ({"precision": -1}, "precision"),
        ({"precision": 2.5}, "precision"),
        ({"tolerance": "wide"}, "tolerance"),
        ({"tolerance": 0.1, "precision": 2}, "precision and tolerance"),
        ({"language": "klingon"}, "unknown language 'klingon'"),
        ({"mode": "generous"}, "unknown verification mode"),
    ],
)
def test_bad_options_name_themselves(options, message):
    with pytest.raises(ValueError, match=message):
        MathTask("1", "\\boxed{1}", **options)


def test_languages_by_code_or_name():
    assert language_code("FRENCH") == language_code("fr") == "fr" and language_code(None) == "en"
    assert MathTask("1", "x", language="english").language is None  # English is the default


def test_cli_rows_carry_their_own_options_and_bad_ones_are_errors_on_that_row(tmp_path):
    rows = [
        {"id": 1, "gold": "\\frac{1}{3}", "prediction": "so it is 0.3333", "precision": 4, "mode": "lenient"},
        {"id": 2, "gold": "\\frac{1}{3}", "prediction": "so it is 0.3333", "options": {"mode": "lenient"}},
        {"id": 3, "gold": "2.74", "prediction": "Soucis : 2,74 $", "options": {"language": "fr"}},
        {"id": 4, "gold": "1", "prediction": "1", "options": {"precison": 3}},
        {"id": 5, "gold": "1", "prediction": "1", "language": "xx"},
        {"id": 6, "gold": "1", "prediction": "1", "answer_format": "vector"},
        {"id": 7, "gold": "C", "prediction": "réponse est C non A", "answer_format": "choice", "language": "fr"},
    ]
    src, out = tmp_path / "rows.jsonl", tmp_path / "verdicts.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    redstar = Path(sys.executable).parent / "redstar"
    cmd = [redstar, "verify", "math", "--input", src, "--output", out, "--mode", "lenient"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = {v["id"]: v for v in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert [got[i]["correct"] for i in (1, 2, 3, 7)] == [True, False, True, True]
    assert got[4]["status"] == "error" and "unknown option 'precison'" in got[4]["reason"]
    assert got[5]["status"] == "error" and "unknown language 'xx'" in got[5]["reason"]
    assert got[6]["status"] == "error" and "answer_format" in got[6]["reason"]
