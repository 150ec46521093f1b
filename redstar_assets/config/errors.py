"""The one error a profile that cannot run raises, and the did-you-mean every key check gives, so
every message names the file, the entry and the key the same way."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ProfileError(ValueError):
    """A profile that cannot run, with the file and key that are wrong."""


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest known key, or nothing."""
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_keys(where: str, entry: str, given, known, set_by_asset=()) -> None:
    """Fails on the first key that no reader knows, or that the asset sets itself."""
    settable = sorted(set(known) - set(set_by_asset))
    for key in given:
        if key in set_by_asset:
            raise ProfileError(f"{where}: {entry}: key {key!r} is set by the pipeline and cannot be given here")
        if key not in known:
            listed = f"known keys: {settable}" if len(settable) <= 30 else f"{len(settable)} keys are known"
            raise ProfileError(f"{where}: {entry}: unknown key {key!r}{did_you_mean(key, settable)}; {listed}")
