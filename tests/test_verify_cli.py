"""`redstar verify math|choice|code` as a user runs it: JSONL in, verdicts out, bad lines named."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REDSTAR = Path(sys.executable).parent / "redstar"


def _verify(kind: str, rows: list, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    src, out = tmp_path / f"{kind}.jsonl", tmp_path / f"{kind}-verdicts.jsonl"
    src.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    cmd = [REDSTAR, "verify", kind, "--input", str(src), "--output", str(out), *args]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return proc, [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def test_verify_math_rows_bad_lines_and_missing_fields(tmp_path):
    rows = [
        {"id": "aime", "gold": "025", "prediction": "<think>so 25</think>\n\\boxed{25}"},
        {"id": "extracted", "gold": "\\frac12", "answer": "$0.5$"},
        "{not json",
        {"id": "no-gold", "prediction": "\\boxed{1}"},
        {"id": "cut", "gold": "3", "prediction": "<think>let me think about 3"},
        {"id": "wrong", "gold": "7", "answer": "8"},
    ]
    proc, out = _verify("math", rows, tmp_path, "--json")
    assert proc.returncode == 1  # one unreadable line; the others are processed
    assert f"{tmp_path / 'math.jsonl'}:3: invalid JSON line" in proc.stderr
    by_id = {o["id"]: o for o in out}
    assert [o["id"] for o in out] == ["aime", "extracted", "no-gold", "cut", "wrong"]
    assert by_id["aime"]["correct"] is True and by_id["aime"]["extracted"] == "25"
    assert by_id["extracted"]["status"] == "correct"
    assert by_id["no-gold"]["status"] == "error" and "gold" in by_id["no-gold"]["reason"]
    assert by_id["cut"]["status"] == "no_answer" and by_id["cut"]["extracted"] is None
    assert by_id["wrong"]["status"] == "wrong" and by_id["wrong"]["correct"] is False
    summary = json.loads(proc.stdout)
    assert summary["invalid_lines"] == 1 and summary["statuses"]["correct"] == 2


def test_verify_math_legacy_mode_guesses_where_strict_does_not(tmp_path):
    rows = [{"id": 1, "gold": "42", "prediction": "<think>so it is 42 and"}]
    _, strict = _verify("math", rows, tmp_path)
    _, legacy = _verify("math", rows, tmp_path, "--mode", "legacy")
    assert strict[0]["status"] == "no_answer" and legacy[0]["status"] == "correct"


def test_verify_choice(tmp_path):
    rows = [{"id": 1, "gold": "B", "prediction": "Answer: B"}, {"id": 2, "gold": "A", "prediction": "(C)"}]
    proc, out = _verify("choice", rows, tmp_path)
    assert proc.returncode == 0 and [o["status"] for o in out] == ["correct", "wrong"]


@pytest.mark.usefixtures("sandbox")
def test_verify_code_humaneval_and_io(tmp_path):
    rows = [
        {
            "id": "he",
            "program": "def inc(x):\n    return x + 1",
            "tests": "def check(f):\n    assert f(1) == 2",
            "entry_point": "inc",
        },
        {"id": "io", "program": "print(sum(map(int, input().split())))", "io": [{"input": "1 2", "output": "3"}]},
        {"id": "slow", "program": "while True: pass", "io": [{"input": "", "output": ""}], "timeout_s": 1},
        {"id": "nothing", "program": "print(1)"},
    ]
    proc, out = _verify("code", rows, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [(o["id"], o["status"]) for o in out] == [
        ("he", "correct"),
        ("io", "correct"),
        ("slow", "timeout"),
        ("nothing", "error"),
    ]
    assert out[0]["passed"] is True and out[2]["tests"][0]["status"] == "timeout"
    assert "tests (with entry_point) or io" in out[3]["reason"]
