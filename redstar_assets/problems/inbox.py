"""The inbox: problem files dropped under REDSTAR_HOME/inbox, each its own source partition.

A drop is someone else's file: a link that leads out of the inbox (to a key, a password file, another
team's data) is refused, not read, and two names that reduce to the same safe key keep apart (the
key of a name that had to be changed carries a hash of the original name), so no drop hides another.
"""

import hashlib
import re
from pathlib import Path

from redstar_assets.config.sections import INBOX_PREFIX, Profile
from redstar_assets.config.sources import SourceEntry

INBOX_SUFFIXES = (".jsonl", ".parquet")


def inbox_partition(path: Path) -> str:
    """The partition key of a dropped file: `inbox-<file stem>` when the stem is made of safe
    characters, else the stem reduced to them plus a hash of the whole name."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem)
    if safe != path.stem or path.suffix != ".jsonl":  # `a.parquet` and `a.jsonl` are two drops
        safe = f"{safe}-{hashlib.sha256(path.name.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"
    return INBOX_PREFIX + safe


def refused_inbox_files(home: Path) -> dict[Path, str]:
    """Drops that are not read, with why: a link (or a file) that resolves outside the inbox."""
    inbox = home / "inbox"
    if not inbox.exists():
        return {}
    root = inbox.resolve()
    refused = {}
    for p in sorted(inbox.glob("*")):
        if p.suffix in INBOX_SUFFIXES and root not in p.resolve().parents:
            refused[p] = f"resolves to {p.resolve()}, outside the inbox {root}"
        elif p.suffix in INBOX_SUFFIXES and not p.is_file():
            refused[p] = "not a regular file"
    return refused


def inbox_files(home: Path) -> list[Path]:
    """The drops to read: JSONL and Parquet files inside the inbox, none of the refused ones."""
    inbox = home / "inbox"
    if not inbox.exists():
        return []
    refused = refused_inbox_files(home)
    return sorted(p for p in inbox.glob("*") if p.suffix in INBOX_SUFFIXES and p not in refused)


def source_partition_keys(profile: Profile, home: Path) -> list[str]:
    """Every source partition there should be: the profile's sources, then the inbox's files."""
    return [s.name for s in profile.sources] + [inbox_partition(p) for p in inbox_files(home)]


def written_sources(profile: Profile, store, asset: str) -> list[str]:
    """The profile's source partitions (declared and inbox) that `asset` has written: the pool that
    subsets, RL data and held-out filtering read. Folders left by another profile in the same data
    root are not part of it."""
    wanted = set(source_partition_keys(profile, store.root))
    return [p for p in store.partitions(asset) if p in wanted]


def source_spec(profile: Profile, partition: str, home: Path) -> SourceEntry:
    """A profile's declared source, or an inbox file read through the profile's `inbox` mapping."""
    if partition.startswith(INBOX_PREFIX):
        for path in inbox_files(home):
            if inbox_partition(path) == partition:
                return profile.inbox.source(partition, str(path))
    return profile.source(partition)
