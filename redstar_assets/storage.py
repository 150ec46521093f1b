"""The Parquet store under REDSTAR_HOME: one file set per asset partition, written atomically.

Every table is written to a temporary name and renamed into place, with a sidecar holding its
content hash, so a killed run never leaves half a table and lineage can name exact inputs.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

# Columns that say where, when or how fast something was made, not what it is: left out of the content
# hash, so the same data made in another data root or on another day has the same data version.
CIRCUMSTANTIAL_COLUMNS = (
    "latency_s",
    "model_path",
    "scored_run_id",
    "scored_at",
    "scores_run_id",  # the lineage table's run ids and times
    "training_run_id",
    "trained_at",
)


def frame_hash(frame: pl.DataFrame) -> str:
    """Content hash of a table's rows and schema, independent of Parquet encoding."""
    hasher = FrameHasher()
    hasher.update(frame)
    return hasher.hexdigest()


class FrameHasher:
    """`frame_hash` over a table that arrives in parts: the same hash as of the parts concatenated."""

    def __init__(self):
        self.digest = None

    def update(self, frame: pl.DataFrame) -> None:
        frame = frame.drop([c for c in CIRCUMSTANTIAL_COLUMNS if c in frame.columns])
        if self.digest is None:
            self.digest = hashlib.sha256(json.dumps({k: str(v) for k, v in frame.schema.items()}).encode())
        binary = [c for c, dtype in frame.schema.items() if dtype == pl.Binary]  # figures: NDJSON has no bytes
        frame = frame.with_columns(pl.col(c).bin.encode("hex") for c in binary) if binary else frame
        buffer = io.BytesIO()  # the NDJSON's bytes, written once (no str copy to encode)
        frame.write_ndjson(buffer)
        self.digest.update(buffer.getbuffer())

    def hexdigest(self) -> str:
        return self.digest.hexdigest()[:16]


@contextlib.contextmanager
def _replacing(target: Path, *tmps: Path) -> Iterator[None]:
    """A write of `target` through temporary files: when it fails (a full disk, an interrupt) the
    temporary files are removed, so nothing half-written is left or read, the previous version
    stays in place, and the error names the table."""
    try:
        yield
    except BaseException as exc:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
        if isinstance(exc, Exception):  # Polars reports a full disk as a ComputeError, Arrow as an OSError
            raise OSError(
                f"writing {target} failed ({type(exc).__name__}: {exc}); the previous version is untouched"
            ) from exc
        raise


class TableWriter:
    """Writes a table part by part (one Parquet row group or more per part) and hashes it as it goes,
    so a table larger than memory is never held whole; renamed into place with its sidecar on close.
    Encoding, compressing and hashing a part run on a background thread (Arrow, zstd and sha256
    release the GIL) while the caller builds the next part: at most two parts are in memory."""

    def __init__(self, path: Path):
        from redstar_training.generation.in_flight import InFlight

        self.path, self.tmp = path, path.with_suffix(".parquet.tmp")
        self.hasher, self.rows = FrameHasher(), 0
        self._writer: Any = None  # a pyarrow ParquetWriter, opened with the first part
        self._schema: pl.Schema | None = None
        self._parts = InFlight("table-writer")

    def write(self, frame: pl.DataFrame) -> None:
        if self._schema is None:
            self._schema = frame.schema
        elif frame.schema != self._schema:
            raise ValueError(f"{self.path}: a part's columns {frame.schema} differ from the first's {self._schema}")
        with _replacing(self.path, self.tmp):  # a failed part (a full disk) surfaces at the next submit
            self._parts.submit(self._write_part, frame)
        self.rows += frame.height

    def _write_part(self, frame: pl.DataFrame) -> None:
        import pyarrow.parquet as pq

        table = frame.to_arrow()
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.tmp, table.schema, compression="zstd")
        if frame.height:
            self._writer.write_table(table, row_group_size=10_000)
        self.hasher.update(frame)

    def close(self, version: str | None = None) -> str:
        """Puts the table in place; returns its data version: its content hash, or `version` when the
        caller computes it from what determines the content (a subset's ids and recipe)."""
        meta_tmp = self.path.with_suffix(".json.tmp")
        with _replacing(self.path, self.tmp, meta_tmp):
            self._parts.close()
            if self._writer is not None:
                self._writer.close()
            version = version or self.hasher.hexdigest()
            meta_tmp.write_text(json.dumps({"hash": version, "rows": self.rows}))
            os.replace(self.tmp, self.path)
            os.replace(meta_tmp, self.path.with_suffix(".json"))
        return version


class Store:
    """Paths and atomic reads/writes for the pipeline's tables and model folders."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    def path(self, asset: str, partition: str | None = None, name: str = "data") -> Path:
        base = self.root / asset / (partition or "_")
        return base / f"{name}.parquet"

    def folder(self, asset: str, partition: str | None = None) -> Path:
        return self.root / asset / (partition or "_")

    def write(self, frame: pl.DataFrame, asset: str, partition: str | None = None, name: str = "data") -> str:
        """Writes atomically and returns the content hash (the table's data version)."""
        path = self.path(asset, partition, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp, meta_tmp = path.with_suffix(".parquet.tmp"), path.with_suffix(".json.tmp")
        with _replacing(path, tmp, meta_tmp):
            frame.write_parquet(tmp)
            version = frame_hash(frame)
            meta_tmp.write_text(json.dumps({"hash": version, "rows": frame.height}))
            os.replace(tmp, path)
            os.replace(meta_tmp, path.with_suffix(".json"))
        return version

    def writer(self, asset: str, partition: str | None = None, name: str = "data") -> TableWriter:
        """A streaming writer for a table too large to build in memory (write parts, then close)."""
        return TableWriter(self.path(asset, partition, name))

    def exists(self, asset: str, partition: str | None = None, name: str = "data") -> bool:
        return self.path(asset, partition, name).exists()

    def read(
        self, asset: str, partition: str | None = None, name: str = "data", columns: list[str] | None = None
    ) -> pl.DataFrame:
        """The table, or only `columns` of it (those it has): a wide table's text is then never read."""
        path = self.path(asset, partition, name)
        if not path.exists():
            raise FileNotFoundError(
                f"{path} does not exist: materialize {asset}"
                + (f" partition {partition!r}" if partition else "")
                + " first"
            )
        if columns is not None:
            present = pl.read_parquet_schema(path)
            return pl.read_parquet(path, columns=[c for c in columns if c in present])
        return pl.read_parquet(path)

    def version(self, asset: str, partition: str | None = None, name: str = "data") -> str | None:
        meta = self.path(asset, partition, name).with_suffix(".json")
        return json.loads(meta.read_text())["hash"] if meta.exists() else None

    def partitions(self, asset: str, name: str = "data") -> list[str]:
        """Partitions of an asset that have been written, in sorted order."""
        base = self.root / asset
        if not base.exists():
            return []
        return sorted(p.name for p in base.iterdir() if (p / f"{name}.parquet").exists())

    def read_all(self, asset: str, partitions: list[str] | None = None, name: str = "data") -> pl.DataFrame:
        """Concatenates the named (or all written) partitions; diagonal so optional columns may differ."""
        keys = self.partitions(asset, name) if partitions is None else partitions
        frames = [self.read(asset, key, name) for key in keys]
        return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()

    def versions(self, asset: str, partitions: list[str] | None = None, name: str = "data") -> dict[str, str | None]:
        keys = self.partitions(asset, name) if partitions is None else partitions
        return {key: self.version(asset, key, name) for key in keys}

    def write_json(self, data: dict, asset: str, partition: str | None = None, name: str = "manifest") -> Path:
        """A small JSON manifest beside a partition's tables, written atomically."""
        path = self.folder(asset, partition) / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        with _replacing(path, tmp):
            tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
            os.replace(tmp, path)
        return path

    def read_json(self, asset: str, partition: str | None = None, name: str = "manifest") -> dict:
        path = self.folder(asset, partition) / f"{name}.json"
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist: materialize {asset} partition {partition!r} first")
        return json.loads(path.read_text())
