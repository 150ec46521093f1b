"""The documentation: the generated reference pages match the code, the profile reference lists every
key of the schema, the README stays short, the tutorial's profile loads, and the site builds with
`mkdocs build --strict`."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"
USER_SETTINGS = ("REDSTAR_PROFILE", "REDSTAR_CONFIGS", "REDSTAR_BENCHMARK_REGISTRY")  # the pages do not depend on them
REGENERATE = "run `make docs` (or python -m redstar_assets.cli.reference_pages) and commit docs/reference and README.md"


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    done = subprocess.run(
        [sys.executable, "-m", "redstar_assets.cli.reference_pages", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k not in USER_SETTINGS},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def test_generated_reference_pages_are_up_to_date(regenerated):
    fresh = {p.name: p.read_text() for p in regenerated.iterdir()}
    on_disk = {p.name: p.read_text() for p in REFERENCE.iterdir() if p.is_file()}
    assert sorted(on_disk) == sorted(fresh), f"docs/reference holds other files than the generator writes; {REGENERATE}"
    stale = [name for name in fresh if on_disk[name] != fresh[name]]
    assert not stale, f"out of date: {stale}; {REGENERATE}"


def test_readme_graph_is_the_generated_one(regenerated):
    from redstar_assets.cli.reference_pages import GRAPH_BEGIN, GRAPH_END, readme_with_graph

    readme = (ROOT / "README.md").read_text()
    assert GRAPH_BEGIN in readme and GRAPH_END in readme, "README.md lost the asset graph's markers"
    graph = (regenerated / "asset-graph.mermaid").read_text()
    assert readme_with_graph(readme, graph) == readme, f"README.md's asset graph is out of date; {REGENERATE}"


def _key_paths(node: dict, prefix: str = ""):
    """Every key of a JSON schema as a dotted path: `[]` for list entries, `<name>` for mapping values,
    through every alternative of a union."""
    alternatives = node.get("anyOf") or node.get("oneOf") or [node]
    for alt in alternatives:
        if alt is not node and (alt.get("anyOf") or alt.get("oneOf")):
            yield from _key_paths(alt, prefix)
            continue
        for key, child in (alt.get("properties") or {}).items():
            path = f"{prefix}.{key}" if prefix else key
            yield path
            yield from _key_paths(child, path)
        if isinstance(alt.get("items"), dict):
            yield from _key_paths(alt["items"], prefix + "[]")
        if isinstance(alt.get("additionalProperties"), dict):
            yield from _key_paths(alt["additionalProperties"], prefix + ".<name>")


def test_the_profile_reference_lists_every_key_of_the_schema():
    from redstar_assets.config.schema import profile_schema

    page = (REFERENCE / "profile.md").read_text()
    paths = set(_key_paths(profile_schema()))
    assert {"sources[].mapping", "teacher.base_url", "evaluation.backend.serve.preset"} <= paths  # the walk works
    missing = sorted(p for p in paths if f"`{p}`" not in page)
    assert not missing, f"docs/reference/profile.md lacks {len(missing)} keys, e.g. {missing[:10]}; {REGENERATE}"


def test_readme_is_at_most_150_lines():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; move detail into docs/"


def test_the_tutorial_profile_loads(tmp_path):
    """The tutorial's YAML blocks, put together as its step 7 says, are one valid profile."""
    from redstar_assets.config.profile import load_profile

    text = (ROOT / "docs" / "tutorial.md").read_text()
    profile: dict = {"name": "my-study", "description": "the tutorial's study"}
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        data = yaml.safe_load(block)
        twice = set(data) & (set(profile) - {"name", "description"})
        assert not twice, f"two tutorial blocks set {twice}"
        profile.update(data)
    steps = {"sources", "teacher", "subset_recipes", "base_models", "training_recipes", "evaluation", "experiments"}
    assert steps <= set(profile)
    path = tmp_path / "my-study.yaml"
    path.write_text(yaml.safe_dump(profile))
    loaded = load_profile(str(path))
    assert [e.name for e in loaded.experiments][:3] == ["base", "cot-1k@s0", "cot-1k@s1"]
    assert loaded.teacher.kind == "openai"


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None,
    reason="mkdocs and mkdocs-material are not installed: `make docs-deps` (or pip install -e '.[docs]') installs them",
)
def test_the_site_builds_with_no_warning(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (tmp_path / "site" / "reference" / "profile" / "index.html").exists()
    assert "build_definitions" in (tmp_path / "site" / "api" / "definitions" / "index.html").read_text()
