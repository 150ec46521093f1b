"""A registry entry's `protocol`: a text naming the evaluation protocol its sampling follows. A result
reported under a named protocol is comparable only if the entry samples as that protocol says."""

import re

import pytest

from redstar_assets.config.benchmark_registry import RegistryError, load_registry
from redstar_assets.config.profile import load_profile

PAPER_PROFILES = ("redstar-math", "redstar-code-math", "redstar-geo", "redstar-release")
ENTRY = "benchmarks:\n  quiz:\n    path: quiz.jsonl\n    answer_format: number\n    protocol: {protocol}\n"


def test_a_protocol_is_read_as_written(tmp_path):
    (tmp_path / "registry.yaml").write_text(ENTRY.format(protocol='"open-r1: 64 responses at T 0.6"'))
    assert load_registry(tmp_path / "registry.yaml")["quiz"].protocol == "open-r1: 64 responses at T 0.6"


@pytest.mark.parametrize("protocol", ["64", "[open-r1, 64]", "{n: 64}", "true", '""'])
def test_a_protocol_that_is_not_a_text_fails_at_load_naming_the_entry(tmp_path, protocol):
    (tmp_path / "registry.yaml").write_text(ENTRY.format(protocol=protocol))
    with pytest.raises(RegistryError, match=r"registry\.yaml: benchmark 'quiz': protocol must be a non-empty text"):
        load_registry(tmp_path / "registry.yaml")


@pytest.mark.parametrize("name", PAPER_PROFILES)
def test_every_paper_benchmark_names_the_protocol_it_samples_by(name):
    """The protocol's stated sample count, temperature and top-p are those the profile samples with
    (its overrides included), and one that leaves the budget to the profile is not given another."""
    profile = load_profile(name)
    assert profile.benchmarks, name
    for b in profile.benchmarks:
        text = b.entry.protocol
        assert text, f"{name}: benchmark {b.name!r} names no protocol"
        n, temperature, top_p = b.sampling["n"], b.sampling["temperature"], b.sampling["top_p"]
        assert re.search(rf"\b{n} (responses|samples)\b", text), (name, b.name, n, text)
        assert f"T {temperature}" in text and f"top-p {top_p}" in text, (name, b.name, b.sampling, text)
        if "from evaluation.max_new_tokens" in text:
            assert b.max_tokens is None, (name, b.name, b.max_tokens)
