"""The shard backend of a keyed cache, for a data root on a shared filesystem (NFS, Lustre, a
ReadWriteMany volume) where SQLite's locking is not safe across hosts: every writer appends to a shard
of its own, so no file ever has two writers."""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from redstar_training.cache.table import Row, Table


def _line(record: dict) -> bytes:
    return (json.dumps(record, ensure_ascii=False) + "\n").encode()


def _decode(line: bytes) -> dict | None:
    """A whole line's record, or None for a line that is not one (zero-filled pages after a crash)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and isinstance(record.get("key"), str) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ShardStore:
    """Rows by key as JSON records, in per-writer shards (`shard-<host>-<pid>-<nonce>.jsonl`, fsynced per
    batch); the first line read for a key wins, and only whole lines are read, so a killed writer's torn last
    line is never seen. `compact()` writes, fsyncs and renames its merged file before removing any shard,
    so every record is always in at least one file."""

    def __init__(self, folder: str | Path, table: Table):
        self.table = table
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.host = socket.gethostname()
        self.shard = self.folder / f"shard-{self.host}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self._out: BinaryIO | None = None  # opened on the first write: a reader leaves no empty shard behind
        self._index: dict[str, tuple[Path, int, int]] = {}  # key -> (file, offset, length)
        self._read_to: dict[Path, int] = {}
        self._lock = threading.Lock()

    # reading

    def _files(self) -> list[Path]:
        """Compacted files first (they hold the oldest records), then the shards, by name."""
        return sorted(self.folder.glob("compacted-*.jsonl")) + sorted(self.folder.glob("shard-*.jsonl"))

    def _refresh(self) -> None:
        """Indexes the whole lines appended to any file since the last look."""
        for path in self._files():
            start = self._read_to.get(path, 0)
            try:
                with open(path, "rb") as f:
                    f.seek(start)
                    data = f.read()
            except FileNotFoundError:  # compacted away since the listing
                continue
            whole = data.rfind(b"\n") + 1
            offset = start
            for line in data[:whole].splitlines(keepends=True):
                record = _decode(line)
                if record is not None and record["key"] not in self._index:
                    self._index[record["key"]] = (path, offset, len(line))
                offset += len(line)
            self._read_to[path] = start + whole

    def _reindex(self) -> None:
        self._index.clear()
        self._read_to.clear()
        self._refresh()

    def _read(self, keys: list[str]) -> dict[str, dict]:
        by_file: dict[Path, list[str]] = {}
        for key in keys:
            if key in self._index:
                by_file.setdefault(self._index[key][0], []).append(key)
        found: dict[str, dict] = {}
        for path, wanted in by_file.items():
            with open(path, "rb") as f:
                for key in wanted:
                    _, offset, length = self._index[key]
                    f.seek(offset)
                    record = _decode(f.read(length))
                    if record is None:  # the index points into a file rewritten since
                        raise FileNotFoundError(path)
                    found[key] = record
        return found

    def get_many(self, keys: Sequence[str]) -> dict[str, Row]:
        with self._lock:
            self._refresh()
            try:
                records = self._read(list(keys))
            except FileNotFoundError:  # a file compacted away under us: look again
                self._reindex()
                records = self._read(list(keys))
        return {key: self._row(record) for key, record in records.items()}

    def _row(self, record: dict) -> Row:
        if self.table.positional:
            return dict(zip(self.table.columns, record["row"], strict=True))
        return {c: record[c] for c in self.table.columns if c in record}

    def count(self) -> int:
        with self._lock:
            self._refresh()
            return len(self._index)

    # writing

    def put_many(self, rows: Sequence[tuple[str, Row]]) -> int:
        """Appends the rows whose key no file holds yet to this writer's shard (one write, fsynced)."""
        records = [self._record(key, row) for key, row in rows]
        with self._lock:
            self._refresh()
            new, seen = [], set()
            for r in records:
                if r["key"] not in self._index and r["key"] not in seen:
                    new.append(r)
                    seen.add(r["key"])
            if not new:
                return 0
            if self._out is None:
                self._out = open(self.shard, "ab")
            offset = self._out.tell()
            lines = [_line(r) for r in new]
            self._out.write(b"".join(lines))
            self._out.flush()
            os.fsync(self._out.fileno())
            for r, line in zip(new, lines, strict=True):
                self._index[r["key"]] = (self.shard, offset, len(line))
                offset += len(line)
            self._read_to[self.shard] = offset
            return len(new)

    def _record(self, key: str, row: Row) -> dict:
        if self.table.positional:
            return {"key": key, "row": [row[c] for c in self.table.columns]}
        return {"key": key, **{c: row[c] for c in self.table.columns}}

    def close(self) -> None:
        """Closes the shard and marks it done, so a compaction on any host may merge it."""
        with self._lock:
            if self._out is not None:
                self._out.close()
                self._out = None
                self.shard.with_suffix(".done").touch()

    # compaction

    def _mergeable(self, shard: Path) -> bool:
        """Done (its writer closed it), or left by a dead writer on this host."""
        if shard == self.shard and self._out is not None:
            return False
        if shard.with_suffix(".done").exists():
            return True
        parts = shard.stem.removeprefix("shard-").rsplit("-", 2)  # host names may hold dashes themselves
        host, pid = (parts[0], parts[1]) if len(parts) == 3 else ("", "")
        return host == self.host and pid.isdigit() and not _alive(int(pid))

    def compact(self) -> dict[str, int]:
        """Merges the compacted files and every mergeable shard into one compacted file; returns counts."""
        with self._lock:
            shards = [s for s in sorted(self.folder.glob("shard-*.jsonl")) if self._mergeable(s)]
            inputs = sorted(self.folder.glob("compacted-*.jsonl")) + shards
            if len(inputs) <= 1 and not shards:
                return {"merged_files": 0, "records": 0, "duplicates_dropped": 0}
            target = self.folder / f"compacted-{uuid.uuid4().hex[:12]}.jsonl"
            partial = target.with_suffix(".tmp")
            written, dropped, keys = 0, 0, set()
            with open(partial, "wb") as out:
                for path in inputs:
                    with open(path, "rb") as f:
                        data = f.read()
                    for line in data[: data.rfind(b"\n") + 1].splitlines(keepends=True):
                        record = _decode(line)
                        if record is None:
                            continue
                        if record["key"] in keys:
                            dropped += 1
                            continue
                        keys.add(record["key"])
                        out.write(line)
                        written += 1
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, target)
            for path in inputs:
                path.unlink(missing_ok=True)
                path.with_suffix(".done").unlink(missing_ok=True)
            self._reindex()
            return {"merged_files": len(inputs), "records": written, "duplicates_dropped": dropped}
