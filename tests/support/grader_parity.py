"""Agreement with public graders' own unit tests (tests/fixtures/graders), measured through
`redstar verify math|choice` as a user with stored outputs runs it.

    python tests/support/grader_parity.py [--mode lenient] [--show]

Each case becomes one JSONL row: the grader's gold, its prediction as `prediction` (a model output)
or as `answer` (already extracted), and the grader's options as our per-row
options: `answer_format` (choice for letter tests, interval where set relations are allowed),
`precision` and `language`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "graders"
SUITES = {"math-verify": FIXTURES / "math_verify.jsonl", "lighteval": FIXTURES / "lighteval.jsonl"}
REDSTAR = Path(sys.executable).parent / "redstar"


def load_cases(suite: str) -> list[dict]:
    return [json.loads(line) for line in SUITES[suite].read_text(encoding="utf-8").splitlines() if line]


def as_row(case: dict, as_answers: bool) -> dict:
    """The `redstar verify` row a user would write for this case."""
    options = case["options"]
    row = {"id": case["case"], "gold": case["gold"], ("answer" if as_answers else "prediction"): case["prediction"]}
    if options["match_types"] == ["NativeLetters"]:
        row["answer_format"] = "choice"
    elif options.get("allow_set_relation_comp"):
        row["answer_format"] = "interval"
    if options.get("precision", 6) != 6:
        row["precision"] = options["precision"]
    if options.get("language", "ENGLISH") != "ENGLISH":
        row["language"] = options["language"].lower()
    return row


def verdicts(rows: list[dict], mode: str, workdir: Path) -> list[dict]:
    """Rows through `redstar verify math` (choice rows carry their own answer_format)."""
    src, out = workdir / f"parity-{mode}.jsonl", workdir / f"parity-{mode}-verdicts.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    cmd = [str(REDSTAR), "verify", "math", "--input", str(src), "--output", str(out), "--mode", mode, "--json"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def agreement(mode: str, forms: tuple[str, ...], workdir: Path) -> dict[tuple[str, str], dict]:
    """Per (suite, form), form being "predictions" or "answers": cases, agreeing cases, agreement, and
    the disagreements as {case: (expected, status, reason)}. One `redstar verify` run for all of them."""
    plan = [(suite, form, case) for suite in SUITES for form in forms for case in load_cases(suite)]
    judged = verdicts([as_row(case, form == "answers") for _, form, case in plan], mode, workdir)
    result: dict[tuple[str, str], dict] = {}
    for (suite, form, case), v in zip(plan, judged, strict=True):
        r = result.setdefault((suite, form), {"cases": 0, "agree": 0, "disagreements": {}})
        r["cases"] += 1
        if v["correct"] == case["expected"]:
            r["agree"] += 1
        else:
            r["disagreements"][case["case"]] = (case["expected"], v["status"], v["reason"])
    for r in result.values():
        r["agreement"] = r["agree"] / r["cases"]
    return result


def main(argv: list[str] | None = None) -> int:
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", default="lenient")
    ap.add_argument("--show", action="store_true", help="print every disagreement")
    ns = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = agreement(ns.mode, ("predictions", "answers"), Path(tmp))
    for (suite, form), r in result.items():
        print(f"{suite}, as {form} ({ns.mode}): {r['agree']}/{r['cases']} = {r['agreement']:.1%}")
        if ns.show:
            for case, d in r["disagreements"].items():
                print("   ", case, json.dumps(d, ensure_ascii=False)[:300])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
