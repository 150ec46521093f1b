"""The inbox: problem files dropped under REDSTAR_HOME/inbox, each its own source partition."""

import re
from pathlib import Path
from typing import Any

from redstar_assets.profile import Profile

INBOX_PREFIX = "inbox-"
INBOX_SUFFIXES = (".jsonl", ".parquet")


def inbox_partition(path: Path) -> str:
    """The partition key of a dropped file: `inbox-<file stem>`, reduced to safe characters."""
    return INBOX_PREFIX + re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem)


def inbox_files(home: Path) -> list[Path]:
    inbox = home / "inbox"
    return sorted(p for p in inbox.glob("*") if p.suffix in INBOX_SUFFIXES) if inbox.exists() else []


def source_partition_keys(profile: Profile, home: Path) -> list[str]:
    """Every source partition there should be: the profile's sources, then the inbox's files."""
    return [s["name"] for s in profile.sources] + [inbox_partition(p) for p in inbox_files(home)]


def written_sources(profile: Profile, store, asset: str) -> list[str]:
    """The profile's source partitions (declared and inbox) that `asset` has written: the pool that
    subsets, RL data and held-out filtering read. Folders left by another profile in the same data
    root are not part of it."""
    wanted = set(source_partition_keys(profile, store.root))
    return [p for p in store.partitions(asset) if p in wanted]


def source_spec(profile: Profile, partition: str, home: Path) -> dict[str, Any]:
    """A profile's declared source, or an inbox file read through the profile's `inbox` mapping."""
    if partition.startswith(INBOX_PREFIX):
        for path in inbox_files(home):
            if inbox_partition(path) == partition:
                return {"name": partition, "kind": "file", "path": str(path), **profile.raw.get("inbox", {})}
    return profile.source(partition)
