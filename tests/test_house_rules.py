"""Long module docstrings and changelogs in version constants grow one edit at a time, so a test names
every offender the moment one appears."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("redstar_assets", "redstar_training")
MAX_MODULE_DOCSTRING_LINES = 5
VERSION_TOKEN = re.compile(r"\bv\d+\b|\bversion\s+\d+\b", re.IGNORECASE)


def long_module_docstring(source: str, name: str) -> list[str]:
    """`name:line` when the module docstring spans more than five lines. Lines of text are counted as
    written in the file, quotes not counted: a closing quote alone on its line adds nothing."""
    tree = ast.parse(source, name)
    doc = ast.get_docstring(tree, clean=True)
    if doc is None:
        return []
    count = len(doc.splitlines())
    if count <= MAX_MODULE_DOCSTRING_LINES:
        return []
    return [f"{name}:{tree.body[0].lineno}: module docstring has {count} lines (at most {MAX_MODULE_DOCSTRING_LINES})"]


def _comments(source: str) -> dict[int, str]:
    """The text of every comment, by line."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {tok.start[0]: tok.string for tok in tokens if tok.type == tokenize.COMMENT}


def changelog_versions(source: str, name: str) -> list[str]:
    """`name:line` for a module-level `*_VERSION` constant whose comment (on its lines or the comment lines
    just above) or whose string value names more than one distinct version, as a changelog does."""
    tree = ast.parse(source, name)
    comments = _comments(source)
    lines = source.splitlines()
    found = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        else:
            continue
        names = [t.id for t in targets if isinstance(t, ast.Name) and t.id.endswith("_VERSION")]
        if not names:
            continue
        end = node.end_lineno or node.lineno
        said = [comments[n] for n in range(node.lineno, end + 1) if n in comments]
        above = node.lineno - 1
        while above >= 1 and lines[above - 1].lstrip().startswith("#"):
            said.append(lines[above - 1])
            above -= 1
        strings = [c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
        for where, texts in (("comment", said), ("value", strings)):
            versions = {m.group(0).lower() for text in texts for m in VERSION_TOKEN.finditer(text)}
            if len(versions) > 1:
                found.append(f"{name}:{node.lineno}: {names[0]} {where} names {len(versions)} versions")
    return found


def _offenders(check) -> list[str]:
    found: list[str] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found += check(path.read_text(), str(path.relative_to(ROOT)))
    return found


def test_module_docstrings_are_at_most_five_lines():
    offenders = _offenders(long_module_docstring)
    assert not offenders, "\n".join(offenders)


def test_version_constants_hold_no_changelog():
    offenders = _offenders(changelog_versions)
    assert not offenders, "\n".join(offenders)


def test_the_checks_flag_bad_examples():
    six = '"""One.\nTwo.\nThree.\nFour.\nFive.\nSix.\n"""\n'
    five = '"""One.\nTwo.\nThree.\nFour.\nFive.\n"""\n'
    assert long_module_docstring(six, "m.py") == ["m.py:1: module docstring has 6 lines (at most 5)"]
    assert long_module_docstring(five, "m.py") == []
    inline = 'RL_VERSION = "rl-v5"  # v5: online RL first; v4: pairs streamed\n'
    above = '# v2: per trace; v3: whole program\nVERIFIED_VERSION = "verified-v3"\n'
    in_value = 'X_VERSION = "v5 online RL; v4 pairs"\n'
    assert changelog_versions(inline, "m.py") == ["m.py:1: RL_VERSION comment names 2 versions"]
    assert changelog_versions(above, "m.py") == ["m.py:2: VERIFIED_VERSION comment names 2 versions"]
    assert changelog_versions(in_value, "m.py") == ["m.py:1: X_VERSION value names 2 versions"]
    fine = '# Bumped when a flag changes.\nQ_VERSION = "quality-v1"\nP_VERSION = "normalize-v3+curate-v3"\n'
    assert changelog_versions(fine, "m.py") == []
