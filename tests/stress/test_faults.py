"""Faults below the assets: a cache file with garbage in it, a disk that fills during a table write,
a verifier program that segfaults. Each must be detected and survived: nothing broken is trusted,
nothing half-written is read, and the good data stays."""

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from redstar_training.generation.cache import SampleCache
from redstar_training.generation.types import Completion

ROOT = Path(__file__).resolve().parents[2]


def _filled_cache(path: Path, n: int = 400) -> None:
    cache = SampleCache(path)
    for i in range(n):
        cache.put(Completion(f"k{i}", f"p{i}", 0, f"<think>{'step ' * 200}</think> \\boxed{{{i}}}", "stop"))
    cache.close()  # the last connection to close checkpoints the WAL into the file and removes it


def _garbage_pages(path: Path, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    page = 4096
    for p in rng.sample(range(1, len(data) // page), 3):  # page 0 (the header) stays
        data[p * page : (p + 1) * page] = rng.randbytes(page)
    path.write_bytes(bytes(data))


CORRUPTIONS = {
    "garbage pages": _garbage_pages,
    "garbage header": lambda p, rng: p.write_bytes(rng.randbytes(100) + p.read_bytes()[100:]),
    "truncated to half": lambda p, rng: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "not a database": lambda p, rng: p.write_bytes(b"this is a text file, not SQLite\n" * 200),
}


def test_a_corrupted_cache_is_set_aside_and_rebuilt_never_trusted(tmp_path, scoreboard, capfd):
    t0 = time.monotonic()
    rng = random.Random(5)
    survived, trusted, crashes, notes = 0, 0, 0, []
    for name, corrupt in CORRUPTIONS.items():
        path = tmp_path / name.replace(" ", "-") / "samples.sqlite"
        _filled_cache(path)
        corrupt(path, rng)
        try:
            cache = SampleCache(path)
            found = cache.get_many([f"k{i}" for i in range(400)])
            cache.put(Completion("new", "p-new", 0, "<think>x</think> \\boxed{1}", "stop"))  # usable again
            aside = list(path.parent.glob("samples.sqlite.corrupt-*"))
            warned = "is corrupt" in capfd.readouterr().err
            if found:
                trusted += 1
                notes.append(f"{name}: {len(found)} samples read back from the corrupted file")
            elif aside and warned and cache.get_many(["new"]):
                survived += 1
            else:
                notes.append(f"{name}: set aside {bool(aside)}, reported {warned}")
        except Exception as exc:  # noqa: BLE001 - a crash is what this attack counts
            crashes += 1
            notes.append(f"{name}: {type(exc).__name__}: {exc}")
    line = scoreboard.record(
        "fault",
        "corrupted SQLite sample cache (garbage pages, header, truncation)",
        tried=len(CORRUPTIONS),
        faults=len(CORRUPTIONS),
        survived=survived,
        escapes=trusted,
        exceptions=crashes,
        seconds=time.monotonic() - t0,
        notes=notes,
    )
    assert line.clean, notes


DISK_FULL_SCRIPT = r"""
import json, os, sys
import polars as pl
from redstar_assets.storage import Store
root = sys.argv[1]
store = Store(root)
small = pl.DataFrame({"problem": [f"Compute {i} + 1." for i in range(100)]})
first = store.write(small, "traces", "p")
big = pl.DataFrame({"text": [os.urandom(4000).hex() for _ in range(3000)]})  # 24 MB that will not compress
error = None
try:
    store.write(big, "traces", "p")
except OSError as exc:
    error = str(exc)
streamed_error = None
writer = store.writer("traces", "q")
try:
    for _ in range(3):
        writer.write(big)
    writer.close()
except OSError as exc:
    streamed_error = str(exc)
after = store.read("traces", "p")
print(json.dumps({
    "error": error,
    "streamed_error": streamed_error,
    "kept": after.equals(small),
    "version_kept": store.version("traces", "p") == first,
    "half_written": sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".tmp")),
    "q_exists": store.exists("traces", "q"),
}))
"""


def test_a_full_disk_during_a_table_write_keeps_the_previous_version_and_leaves_nothing_half_written(
    tmp_path, scoreboard, sandbox
):
    """The data root on an 8 MB tmpfs (bubblewrap's --size): the first table fits, the second (and a
    streamed one) do not."""
    t0 = time.monotonic()
    root = tmp_path / "full"
    root.mkdir()
    script = tmp_path / "disk_full.py"
    script.write_text(DISK_FULL_SCRIPT)
    cmd = ["bwrap", "--dev-bind", "/", "/", "--size", str(8 * 1024 * 1024), "--tmpfs", str(root)]
    done = subprocess.run(
        [*cmd, sys.executable, str(script), str(root)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    notes, crashes = [], 0
    try:
        out = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        out, crashes = {}, 1
        notes.append(f"the writer crashed: {done.stderr[-500:]}")
    clear = bool(out.get("error")) and "traces/p/data.parquet" in out["error"]
    streamed_clear = bool(out.get("streamed_error")) and "traces/q/data.parquet" in out["streamed_error"]
    survived = int(clear and out.get("kept") and out.get("version_kept") and not out.get("half_written"))
    survived += int(streamed_clear and not out.get("q_exists") and not out.get("half_written"))
    notes += [f"error: {out.get('error')}", f"streamed: {out.get('streamed_error')}"]
    notes += [f"half-written: {out.get('half_written')}"] if out.get("half_written") else []
    line = scoreboard.record(
        "fault",
        "disk full during a Parquet write (8 MB tmpfs): table and streamed table",
        tried=2,
        faults=2,
        survived=survived,
        lost=int(not out.get("kept")),
        exceptions=crashes,
        seconds=time.monotonic() - t0,
        notes=notes,
    )
    assert line.clean, notes


def test_a_teacher_server_that_dies_mid_run_and_comes_back_costs_no_sample_and_no_repeated_call(tmp_path, scoreboard):
    """One `transformers serve` teacher behind a counting proxy (the URL the distiller knows). After
    30 answers the server is SIGKILLed: distillation stops with TeacherUnavailable naming the URL.
    A new server comes up behind the same URL and the same command resumes: every sample ends in the
    cache once, and the teacher answered no sample twice."""
    import contextlib

    from support.scripted_model import build_scripted_model
    from support.servers import FaultProxy, KillAfter, transformers_serve

    from redstar_training.generation.distill import DistillConfig, distill, make_backend
    from redstar_training.generation.types import TeacherUnavailable

    t0 = time.monotonic()
    model = build_scripted_model(tmp_path / "scripted")
    problems = [{"problem_id": f"p{i:03d}", "problem": f"Compute {i} + {7 - i}.", "answer": "7"} for i in range(40)]
    n = 120
    config = DistillConfig(samples_per_problem=3, sampling={"temperature": 0.7, "max_tokens": 40})
    notes, crashes, stopped_clearly = [], 0, False
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(transformers_serve(model, tmp_path / "serve-1.log"))
        proxy = stack.enter_context(FaultProxy(first.removeprefix("http://").removesuffix("/v1"), rate=0.0))
        spec = {"kind": "openai", "base_url": proxy.url, "model": str(model), "concurrency": 2,
                "max_retries": 3, "backoff_base_s": 0.05, "probe_after_s": 0.2}  # fmt: skip
        cache = SampleCache(tmp_path / "c.sqlite")
        try:
            distill(
                problems, config, KillAfter(make_backend(spec, problems), 30, victim=first), cache, log=lambda m: None
            )
            notes.append("the first run finished without its server")
        except TeacherUnavailable as exc:
            stopped_clearly = proxy.url in str(exc)
            notes.append(f"first run stopped: {str(exc)[:120]}")
        except Exception as exc:  # noqa: BLE001 - a crash is what this attack counts
            crashes += 1
            notes.append(f"first run: {type(exc).__name__}: {exc}")
        second = stack.enter_context(transformers_serve(model, tmp_path / "serve-2.log"))
        proxy.upstream = second.removeprefix("http://").removesuffix("/v1")  # the server is back at the same URL
        try:
            completions, skipped, _ = distill(problems, config, make_backend(spec, problems), cache, log=lambda m: None)
        except Exception as exc:  # noqa: BLE001
            crashes += 1
            completions, skipped = [], []
            notes.append(f"resumed run: {type(exc).__name__}: {exc}")
        cache.close()
    import sqlite3

    keys = [r[0] for r in sqlite3.connect(tmp_path / "c.sqlite").execute("SELECT key FROM samples")]
    answered = len(proxy.answered)
    notes.append(f"teacher answered {answered} requests for {n} samples; {len(completions)} completions")
    line = scoreboard.record(
        "fault",
        "teacher server killed mid-run, back at the same URL, same command again",
        tried=n,
        faults=1,
        survived=int(stopped_clearly and len(set(keys)) == n and not skipped),
        lost=n - len(set(keys)),
        duplicated=len(keys) - len(set(keys)),
        repeated_calls=max(0, answered - n),
        exceptions=crashes,
        seconds=time.monotonic() - t0,
        notes=notes,
    )
    assert line.clean, notes


def test_a_verifier_worker_that_segfaults_costs_no_verdict_and_caches_no_crash(tmp_path, scoreboard):
    """The math verifier's worker processes are SIGSEGVed while a batch is judged. Every task still
    gets the verdict an undisturbed run gives (the item under the dead worker runs again on a fresh
    one), the batch does not hang, and no crash is written to the verdict cache."""
    import signal
    import threading

    from redstar_training.verify.equivalence import MathTask
    from redstar_training.verify.service import MathVerifier

    t0 = time.monotonic()
    rng = random.Random(9)
    tasks = []
    for _ in range(240):
        a = rng.randint(2, 60)  # symbolic: judged by sympy in the worker pool, not by the quick checks
        constant = a * a if rng.random() < 0.7 else a * a + 1
        tasks.append(MathTask(f"(x+{a})^2", f"so \\boxed{{x^2+{2 * a}x+{constant}}}"))
    with MathVerifier(workers=2) as calm:
        expected = [v.status for v in calm.verify(tasks)]
    segfaults, crashes, notes = 0, 0, []
    verifier = MathVerifier(workers=2, cache=tmp_path / "verdicts.sqlite")
    stop = threading.Event()

    def strike():
        nonlocal segfaults
        while not stop.wait(0.4) and segfaults < 6:
            workers = [w for w in list(verifier.pool._all) if w.alive()]
            if workers:
                os.kill(rng.choice(workers).process.pid, signal.SIGSEGV)
                segfaults += 1

    striker = threading.Thread(target=strike)
    striker.start()
    try:
        got = [v.status for v in verifier.verify(tasks)]
    except Exception as exc:  # noqa: BLE001 - a crash is what this attack counts
        got, crashes = [], 1
        notes.append(f"{type(exc).__name__}: {exc}")
    stop.set()
    striker.join()
    verifier.close()
    import sqlite3

    with sqlite3.connect(tmp_path / "verdicts.sqlite") as db:
        cached = [r[0] for r in db.execute("SELECT reason FROM verdicts")]
    cached_crashes = sum("died" in v for v in cached)
    wrong = sum(a != b for a, b in zip(expected, got, strict=False)) if got else len(tasks)
    notes.append(f"{segfaults} workers SIGSEGVed; {wrong} verdicts differ from an undisturbed run")
    seconds = time.monotonic() - t0
    line = scoreboard.record(
        "fault",
        "verifier workers SIGSEGVed while judging 240 math tasks",
        tried=len(tasks),
        faults=segfaults,
        survived=segfaults if not wrong and not crashes else 0,
        lost=wrong,
        escapes=cached_crashes,
        hangs=int(seconds > 300),
        exceptions=crashes,
        seconds=seconds,
        notes=notes,
    )
    assert segfaults and line.clean, notes
