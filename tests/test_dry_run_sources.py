"""`--dry-run` reads each source's first rows through the run's own validation: a missing file, a
field the mapping names that the rows lack, or a `level` in words stops the run before it starts."""

import subprocess
import sys
from pathlib import Path

from redstar_assets.config.sources import source_of
from redstar_assets.problems.source_preview import preview_problems

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _csv(path: Path, rows: list[str]) -> str:
    path.write_text("question,final,level\n" + "".join(r + "\n" for r in rows))
    return str(path)


def test_a_missing_file_and_a_level_in_words_are_errors_a_few_bad_rows_a_note(tmp_path):
    mapping = {"problem": "question", "answer": "final"}
    missing = source_of({"name": "mine", "kind": "file", "path": str(tmp_path / "none.csv"), "mapping": mapping})
    assert preview_problems(missing) == ([f"sources.mine: no file matches {str(tmp_path / 'none.csv')!r}"], [])

    words = _csv(tmp_path / "words.csv", ["What is 2+2?,4,easy", "What is 3*3?,9,hard"])
    errors, notes = preview_problems(source_of({"name": "mine", "kind": "file", "path": words, "mapping": mapping}))
    assert errors == [
        f"sources.mine: none of the first 2 rows can be used; the first: {words}:2 field 'level': "
        "level 'easy' is not an integer"
    ]
    wrong_field = {"problem": "prompt", "answer": "final"}
    errors, _ = preview_problems(source_of({"name": "mine", "kind": "file", "path": words, "mapping": wrong_field}))
    assert len(errors) == 1 and "field 'prompt': missing or empty problem" in errors[0]

    some = _csv(tmp_path / "some.csv", ["What is 2+2?,4,1", "What is 3*3?,9,hard", "What is 1+1?,2,"])
    errors, notes = preview_problems(source_of({"name": "mine", "kind": "file", "path": some, "mapping": mapping}))
    assert errors == [] and notes == [
        f"sources.mine: 1 of the first 3 rows would be quarantined; the first: {some}:3 field 'level': "
        "level 'hard' is not an integer"
    ]
    assert preview_problems(source_of({"name": "a", "kind": "arithmetic", "count": 3})) == ([], [])


def test_dry_run_stops_on_a_source_whose_file_is_missing(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "extends: demo-tiny\nname: p\n"
        f"sources: [{{name: mine, kind: file, path: {tmp_path / 'none.jsonl'}}}]\n"
        "replace: [subset_recipes]\nsubset_recipes: {s: {scale: 2, cap: true}}\n"
        "experiments: [{name: e, base_model: tiny-qwen2, subset: s, training: sft-tiny, stages: [sft]}]\n"
    )
    out = subprocess.run(
        [BIN / "redstar", "run", "--profile", str(path), "--dry-run"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"redstar: {path}: sources.mine: no file matches '{tmp_path / 'none.jsonl'}'" in out.stderr
