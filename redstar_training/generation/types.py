"""What a backend is asked for and what it returns, one sample at a time."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Sampling:
    temperature: float = field(default=0.7, metadata={"description": "Sampling temperature."})
    top_p: float = field(default=0.95, metadata={"description": "Nucleus sampling: the probability mass sampled from."})
    max_tokens: int = field(default=4096, metadata={"description": "Most tokens generated per sample."})
    seed: int | None = field(
        default=None, metadata={"description": "Base seed (plus each sample's index); null for unseeded."}
    )

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SampleRequest:
    key: str  # content address: model, revision, prompt version, problem hash, sampling, sample index
    problem_id: str
    sample_index: int
    messages: tuple[dict, ...]  # for chat endpoints
    prompt: str  # the same conversation rendered as raw ChatML, for completions endpoints and local engines


@dataclass
class Completion:
    key: str
    problem_id: str
    sample_index: int
    text: str
    finish_reason: str  # stop, length, error, skipped
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    attempts: int = 1
    error_kind: str | None = None
    error: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.finish_reason in ("stop", "length")


class TeacherUnavailable(RuntimeError):
    """The backend cannot serve at all (bad key, unknown model, unreachable server): stop the run."""


def sample_key(
    model_id: str, revision: str, prompt_version: str, problem_hash: str, sampling: Sampling, index: int
) -> str:
    """sha256 of `json.dumps([model_id, revision, prompt_version, problem_hash, sampling, index],
    sort_keys=True)`, with the sampling's JSON made once (a million keys per run)."""
    head = json.dumps([model_id, revision, prompt_version, problem_hash])[:-1]
    return hashlib.sha256(f"{head}, {_sampling_json(sampling)}, {json.dumps(index)}]".encode()).hexdigest()


@functools.lru_cache(maxsize=64)
def _sampling_json(sampling: Sampling) -> str:
    return json.dumps(sampling.as_dict(), sort_keys=True)


def problem_hash(problem: str) -> str:
    return hashlib.sha256(problem.encode()).hexdigest()


def problem_key(problem: dict) -> str:
    """What a sample's cache key knows of its problem: the text's hash, or, for a problem with a
    figure, its content id (text and image): the same question over another figure is another sample."""
    if problem.get("image") is None:
        return problem_hash(problem["problem"])
    return f"img-{problem['problem_id']}"
