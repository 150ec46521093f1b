"""A seeded bad-input corpus for problem files: good rows with every kind of bad row mixed in at
random places, in each format a source reads (JSONL, CSV, Parquet), with what should happen to each
row written down: a good row must come out of the pipeline, a bad one must be quarantined naming its
file, line and field."""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

BIG_ROW_CHARS = 10 * 1024 * 1024


@dataclass
class Corpus:
    good: set[str] = field(default_factory=set)  # the problem text of every good row (duplicates once)
    bad: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, kind) of every bad row
    files: list[Path] = field(default_factory=list)
    duplicates: int = 0  # good rows repeated (another id, or the same row again): kept once


def _good(i: int, rng: random.Random) -> dict:
    a, b = rng.randrange(1000), rng.randrange(1000)
    return {"id": f"p{i}", "problem": f"Compute {a} + {b} (item {i}).", "answer": str(a + b), "level": 1 + i % 3}


# Bad JSON lines: (kind, the line's bytes). Each is a row a user's file may really hold.
def _bad_json_lines(rng: random.Random) -> list[tuple[str, bytes]]:
    deep = "[" * 100_000 + "]" * 100_000
    return [
        ("malformed JSON", b'{"problem": "Compute 1 + 1.", "answer": '),
        ("not an object", b"[1, 2, 3]"),
        ("not an object (string)", b'"Compute 2 + 2."'),
        ("wrong type: problem is a list", b'{"problem": ["Compute", 3], "answer": "3"}'),
        ("wrong type: answer is an object", b'{"problem": "Compute 5 + 5.", "answer": {"value": 10}}'),
        ("wrong type: level is text", b'{"problem": "Compute 6 + 6.", "answer": "12", "level": "hard"}'),
        ("missing answer", b'{"problem": "Compute 7 + 7."}'),
        ("missing problem", b'{"answer": "14"}'),
        ("empty problem", b'{"problem": "   ", "answer": "14"}'),
        ("non-UTF-8 bytes", b'{"problem": "Compute \xff\xfe 1 + 1.", "answer": "2"}'),
        ("NaN answer", b'{"problem": "Compute 0 / 0.", "answer": NaN}'),
        ("inf answer", b'{"problem": "Compute 1 / 0.", "answer": Infinity}'),
        ("-inf answer", b'{"problem": "Compute -1 / 0.", "answer": -Infinity}'),
        ("deeply nested JSON", ('{"problem": ' + deep + ', "answer": "1"}').encode()),
        ("10 MB row", json.dumps({"problem": "Compute 1 + 1. " + "x" * BIG_ROW_CHARS, "answer": "2"}).encode()),
    ]


def _interleave(good: list, bad: list, rng: random.Random) -> list[tuple[str, object]]:
    """Good and bad rows in one seeded random order: ("good", row) or (kind, row)."""
    rows = [("good", g) for g in good] + list(bad)
    rng.shuffle(rows)
    return rows


def write_jsonl_corpus(folder: Path, seed: int, crlf: bool = False, bom: bool = True) -> Corpus:
    rng = random.Random(seed)
    corpus = Corpus()
    good = [_good(i, rng) for i in range(40)]
    good += [{**good[3], "id": good[3]["id"]}, {**good[5], "id": "p-other"}]  # a duplicate id, a duplicate row
    corpus.duplicates = 2
    rows = _interleave(good, _bad_json_lines(rng), rng)
    end = b"\r\n" if crlf else b"\n"
    path = folder / f"problems-{seed}{'-crlf' if crlf else ''}.jsonl"
    with path.open("wb") as fh:
        if bom:
            fh.write("\ufeff".encode())
        for line, (kind, row) in enumerate(rows, start=1):
            if kind == "good":
                fh.write(json.dumps(row).encode() + end)
                corpus.good.add(row["problem"])
            else:
                fh.write(row + end)
                corpus.bad.append((str(path), line, kind))
    corpus.files.append(path)
    empty = folder / f"empty-{seed}.jsonl"
    empty.write_bytes(b"")
    corpus.files.append(empty)
    return corpus


def write_csv_corpus(folder: Path, seed: int) -> Corpus:
    rng = random.Random(seed)
    corpus = Corpus()
    good = [_good(100 + i, rng) for i in range(30)]
    bad = [
        ("missing answer", {"id": "b1", "problem": "Compute 3 + 3.", "answer": "", "level": "1"}),
        ("empty problem", {"id": "b2", "problem": "", "answer": "6", "level": "1"}),
        ("wrong type: level is text", {"id": "b3", "problem": "Compute 4 + 4.", "answer": "8", "level": "hard"}),
        ("NaN answer", {"id": "b4", "problem": "Compute 0 / 0.", "answer": "nan", "level": "1"}),
        ("non-UTF-8 bytes", {"id": "b5", "problem": "Compute \udcff 1 + 1.", "answer": "2", "level": "1"}),
    ]
    rows = _interleave([{k: str(v) for k, v in g.items()} for g in good], bad, rng)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["id", "problem", "answer", "level"], lineterminator="\r\n")
    writer.writeheader()
    path = folder / f"problems-{seed}.csv"
    for line, (kind, row) in enumerate(rows, start=2):
        writer.writerow(row)
        if kind == "good":
            corpus.good.add(row["problem"])
        else:
            corpus.bad.append((str(path), line, kind))
    path.write_bytes(text.getvalue().encode("utf-8", "surrogateescape"))
    corpus.files.append(path)
    return corpus


def write_parquet_corpus(folder: Path, seed: int) -> Corpus:
    """One Parquet file of the right schema with bad values in it, one of a wrong schema (every row
    quarantined, none kept), and one truncated file (quarantined whole)."""
    rng = random.Random(seed)
    corpus = Corpus()
    good = [_good(200 + i, rng) for i in range(30)]
    bad = [
        ("missing answer", {"id": "b1", "problem": "Compute 3 + 3.", "answer": None, "level": 1}),
        ("empty problem", {"id": "b2", "problem": " ", "answer": "6", "level": 2}),
        ("NaN answer", {"id": "b3", "problem": "Compute 0 / 0.", "answer": "NaN", "level": 1}),
    ]
    rows = _interleave(good, bad, rng)
    path = folder / f"problems-{seed}.parquet"
    schema = {"id": pl.String, "problem": pl.String, "answer": pl.String, "level": pl.Int64}
    pl.DataFrame([r for _, r in rows], schema=schema).write_parquet(path)
    for line, (kind, row) in enumerate(rows, start=1):
        if kind == "good":
            corpus.good.add(row["problem"])
        else:
            corpus.bad.append((str(path), line, kind))
    wrong = folder / f"wrong-schema-{seed}.parquet"
    pl.DataFrame({"question": ["Compute 1 + 2.", "Compute 2 + 3."], "solution": [3, 5]}).write_parquet(wrong)
    corpus.bad += [(str(wrong), 1, "wrong schema"), (str(wrong), 2, "wrong schema")]
    truncated = folder / f"truncated-{seed}.parquet"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    corpus.bad.append((str(truncated), 0, "truncated Parquet file"))
    corpus.files += [path, wrong, truncated]
    return corpus
