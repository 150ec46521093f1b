"""`redstar check-endpoints`: asks each OpenAI-compatible endpoint a profile names (teacher, scorer,
evaluation) for `/v1/models` and says what it serves, so a server that is down or serves another
model shows before a run waits on it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from redstar_assets.config.evaluation import OpenAIEval
from redstar_assets.config.sections import Profile
from redstar_assets.config.teacher import OpenAITeacher, TeacherRun

TIMEOUT_S = 5.0


def _urls(base_url: str | list[str]) -> list[str]:
    return [base_url] if isinstance(base_url, str) else list(base_url)


def profile_endpoints(profile: Profile) -> list[tuple[str, str, str | None]]:
    """(role, base URL, the model the profile expects there) for every endpoint the profile names."""
    out: list[tuple[str, str, str | None]] = []
    teachers: list[tuple[str, TeacherRun | None]] = [
        ("teacher", profile.teacher),
        ("scorer", profile.difficulty.scorer),
    ]
    for role, spec in teachers:
        if isinstance(spec, OpenAITeacher):
            out += [(role, url, getattr(spec, "model")) for url in _urls(getattr(spec, "base_url"))]  # noqa: B009
    backend = profile.evaluation.backend
    if isinstance(backend, OpenAIEval) and backend.base_url is not None:
        out += [("evaluation", url, None) for url in _urls(backend.base_url)]
    return out


def served_models(base_url: str, timeout_s: float = TIMEOUT_S) -> list[str]:
    """The model ids `base_url` serves (GET {base_url}/models); raises OSError when it does not answer."""
    with urllib.request.urlopen(base_url.rstrip("/") + "/models", timeout=timeout_s) as response:  # noqa: S310
        body = json.loads(response.read())
    return [str(m.get("id")) for m in body.get("data", []) if isinstance(m, dict)]


def check_endpoints(profile: Profile) -> tuple[list[str], bool]:
    """One line per endpoint, and whether every one answered (and serves the model named for it)."""
    lines, ok = [], True
    for role, url, model in profile_endpoints(profile):
        try:
            models = served_models(url)
        except (OSError, ValueError, urllib.error.URLError) as exc:
            lines.append(f"{role} {url}: not answering ({type(exc).__name__}: {exc})")
            ok = False
            continue
        missing = model is not None and model not in models
        ok = ok and not missing
        note = f"; the profile asks for {model!r}, which it does not serve" if missing else ""
        lines.append(f"{role} {url}: serves {models}{note}")
    if not lines:
        lines.append("no OpenAI-compatible endpoint in this profile (a served evaluation starts its own)")
    return lines, ok
