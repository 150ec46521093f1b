"""Model-written code runs only in the sandbox: HumanEval's canonical solutions pass and broken ones
fail, stdin/stdout checks compare modulo whitespace, and hostile programs are contained."""

import json
import os
import signal
import socket
import tempfile
import time
from pathlib import Path

import pytest

from redstar_training.verify.code import CodeTask, _runner_record, verify_code, verify_code_batch
from redstar_training.verify.sandbox import SandboxLimits, SandboxUnavailable, run_python, run_python_tests

ROOT = Path(__file__).resolve().parents[1]
LIMITS = SandboxLimits(wall_s=5, cpu_s=5, memory_mb=512)

pytestmark = pytest.mark.usefixtures("sandbox")


def test_humaneval_canonical_solutions_pass_and_broken_bodies_fail(shared_data):
    rows = [json.loads(line) for line in (shared_data / "benchmarks" / "humaneval.jsonl").open()]
    assert len(rows) == 164
    canonical = verify_code_batch(
        [CodeTask(r["prompt"] + r["canonical_solution"], r["test"], r["entry_point"]) for r in rows]
    )
    assert [r["task_id"] for r, v in zip(rows, canonical, strict=True) if not v.passed] == []
    broken = verify_code_batch([CodeTask(r["prompt"] + "    return None\n", r["test"], r["entry_point"]) for r in rows])
    assert [r["task_id"] for r, v in zip(rows, broken, strict=True) if v.passed] == []
    # They fail inside the tests (a Python traceback, exit code 1), not on a sandbox problem.
    assert {(v.status, v.tests[0]["status"], v.tests[0]["returncode"]) for v in broken} == {
        ("wrong", "runtime_error", 1)
    }
    assert all("Traceback" in v.stderr for v in broken)


def test_stdin_stdout_pairs_compare_modulo_whitespace():
    program = "n = int(input())\nprint(*range(n))"
    ok = verify_code(CodeTask(program, io=(("3\n", "0 1 2"), ("2", "0  1\n\n"))))
    assert ok.passed and ok.status == "correct" and len(ok.tests) == 2
    bad = verify_code(CodeTask(program, io=(("3\n", "0 1 2"), ("2", "1 0"), ("1", "0"))))
    assert not bad.passed and bad.reason == "test 1: failed" and len(bad.tests) == 2  # stops at the first failure
    crash = verify_code(CodeTask("raise SystemExit(input())", io=(("boom", ""),)))
    assert crash.tests[0]["status"] == "runtime_error" and "boom" in crash.stderr
    assert verify_code(CodeTask("print(1)")).status == "error"
    prose = verify_code(CodeTask("The answer is \\boxed{5}.", io=(("", "5"),)))
    assert (prose.status, prose.tests) == ("wrong", []) and prose.reason.startswith("not a Python program")


def test_hostile_network_access_is_refused():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(1.0)
        port = listener.getsockname()[1]
        source = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('connected')"
        result = run_python(source, limits=LIMITS)
        with pytest.raises(socket.timeout):
            listener.accept()
    assert result.returncode != 0 and "connected" not in result.stdout


def test_hostile_fork_bomb_is_contained_and_leaves_nothing_running():
    started = time.monotonic()
    result = run_python(
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass", limits=LIMITS
    )
    assert result.timed_out and time.monotonic() - started < LIMITS.wall_s + 5
    time.sleep(0.5)
    sandbox_uids = [line for line in os.popen("ps -eo uid=").read().split() if int(line) >= 100000]
    assert sandbox_uids == []


def test_hostile_memory_bomb_hits_the_memory_limit():
    result = run_python("x = []\nwhile True:\n    x.append(bytearray(50 << 20))", limits=LIMITS)
    assert result.returncode != 0 and "MemoryError" in result.stderr


def test_hostile_infinite_loop_is_killed_at_the_wall_deadline():
    result = run_python("while True:\n    pass", limits=SandboxLimits(wall_s=2, cpu_s=10))
    assert result.timed_out and result.returncode is None and 2 <= result.wall_s < 4


def test_a_program_stopped_by_its_cpu_limit_ran_out_of_time():
    """The CPU limit and the wall limit are equal, so which stops a busy loop first is a race; the
    CPU limit's SIGXCPU is a timeout too, not a runtime error (the throughput benchmark caught a
    baseline that judged one such program 'wrong' and the batched verifier 'timeout')."""
    busy = "while True:\n    pass"
    direct = run_python(busy, limits=SandboxLimits(wall_s=10, cpu_s=1))  # the CPU limit fires first
    assert not direct.timed_out and direct.out_of_time and direct.wall_s < 5
    report = run_python_tests(busy, [("", "x")], SandboxLimits(wall_s=10, cpu_s=1))
    assert report[0]["returncode"] == -signal.SIGXCPU and not report[0]["timed_out"]
    record = _runner_record(report[0])
    assert record["status"] == "timeout"


def test_hostile_writes_and_deletes_outside_scratch_fail():
    outside = Path(tempfile.mkdtemp(dir=ROOT, prefix=".sandbox-probe-"))
    try:
        keep = outside / "keep.txt"
        keep.write_text("precious")
        source = (
            "import os\n"
            f"for path in [{str(outside / 'new.txt')!r}, {str(ROOT / 'evil.txt')!r}]:\n"
            "    try:\n        open(path, 'w').write('x'); print('wrote', path)\n"
            "    except OSError as e:\n        print('refused', path, e.errno)\n"
            f"try:\n    os.remove({str(keep)!r}); print('deleted')\n"
            "except OSError as e:\n    print('refused delete', e.errno)\n"
            "open('scratch.txt', 'w').write('fine'); print('scratch', open('scratch.txt').read())\n"
        )
        result = run_python(source, limits=LIMITS)
        assert "wrote" not in result.stdout and "deleted" not in result.stdout
        assert result.stdout.count("refused") == 3 and "scratch fine" in result.stdout
        assert (
            keep.read_text() == "precious" and not (outside / "new.txt").exists() and not (ROOT / "evil.txt").exists()
        )
    finally:
        for f in outside.iterdir():
            f.unlink()
        outside.rmdir()


def test_hostile_program_cannot_read_the_parents_secrets(monkeypatch):
    monkeypatch.setenv("REDSTAR_TEST_SECRET", "hunter2-secret")
    source = (
        "import os\nprint(dict(os.environ))\n"
        "for pid in os.listdir('/proc'):\n"
        "    try:\n        print(open(f'/proc/{pid}/environ').read())\n    except OSError:\n        pass\n"
        f"print(open('/proc/{os.getpid()}/environ').read() if os.path.exists('/proc/{os.getpid()}/environ') else '')\n"
    )
    result = run_python(source, limits=LIMITS)
    assert result.returncode == 0 and "hunter2-secret" not in result.stdout + result.stderr


def test_hostile_program_cannot_kill_its_parent():
    source = (
        "import os, signal\n"
        f"for pid in ({os.getpid()}, {os.getppid()}, 1, -1):\n"
        "    try:\n        os.kill(pid, signal.SIGKILL); print('killed', pid)\n"
        "    except OSError as e:\n        print('refused', pid, e.errno)\n"
    )
    result = run_python(source, limits=LIMITS)
    assert f"killed {os.getpid()}" not in result.stdout and f"killed {os.getppid()}" not in result.stdout
    os.kill(os.getpid(), 0)  # still here


def test_hostile_gigabyte_of_output_is_cut_off():
    started = time.monotonic()
    result = run_python(
        "import sys\nb = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(b)", limits=LIMITS
    )
    assert result.output_limited and result.truncated and len(result.stdout) == LIMITS.keep_output_bytes
    assert time.monotonic() - started < LIMITS.wall_s


def test_missing_bubblewrap_is_a_clear_error_not_a_fallback(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        run_python("print(1)")
    result = run_python("print(1)", unsafe_no_sandbox=True)  # only when asked for by that name
    assert result.stdout == "1\n"


def test_the_sandbox_sees_only_its_own_pid_namespace():
    """Host processes are invisible inside, so none of their PIDs can be signalled from there."""
    result = run_python("import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))", limits=LIMITS)
    assert max(json.loads(result.stdout)) < 10


def test_all_stdin_tests_of_a_program_run_in_one_sandbox_start():
    """The sandbox's private /tmp lives for one start: a marker left by test 0 is seen by tests 1 and 2."""
    program = (
        "import os\ninput()\nseen = os.path.exists('/tmp/marker')\nopen('/tmp/marker', 'w').close()\n"
        "print('seen' if seen else 'fresh')"
    )
    verdict = verify_code(CodeTask(program, io=(("a", "fresh"), ("b", "seen"), ("c", "seen")), timeout_s=5))
    assert verdict.passed, verdict
    assert [t["status"] for t in verdict.tests] == ["passed", "passed", "passed"]


SNOOP = """import glob, os
secret = ('secret-' + str(7780 + 1)).encode()  # never written out whole: this source must not hold it
places = glob.glob('/tmp/.job/*') + [f'/proc/{os.getppid()}/{p}' for p in ('cmdline', 'environ', 'mem', 'fd/0')]
for place in places:
    try:
        with open(place, 'rb') as f:
            if secret in f.read(1 << 20):
                print(secret.decode())
    except OSError:
        pass
try:  # the runner's memory, region by region
    with open(f'/proc/{os.getppid()}/maps') as maps, open(f'/proc/{os.getppid()}/mem', 'rb') as mem:
        for line in maps:
            start, end = (int(x, 16) for x in line.split()[0].split('-'))
            if line.split()[1].startswith('r') and end - start < (64 << 20):
                try:
                    mem.seek(start)
                    if secret in mem.read(end - start):
                        print(secret.decode())
                        break
                except OSError:
                    pass
except OSError:
    pass
"""


def test_a_program_cannot_read_the_expected_output_or_the_runners_report_channel():
    """The expected output lives only in the (non-dumpable) runner: a program that could read it would pass."""
    verdict = verify_code(CodeTask(SNOOP, io=(("", "secret-7781"),), timeout_s=5))
    assert verdict.status == "wrong" and verdict.tests[0]["status"] == "failed", verdict


@pytest.mark.parametrize(
    "program, status",
    [
        ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint('42')", "error"),  # no report: fails
        # a child in a session of its own keeps the output open: the test times out, the straggler dies
        ("import os\nif os.fork() == 0:\n    os.setsid()\n    while True: pass\nprint('42')", "timeout"),
        ("while True: print('x' * 65536)", "wrong"),  # floods its output: killed at the cap
    ],
)
def test_a_program_cannot_stall_or_silence_the_test_runner(program, status):
    verdict = verify_code(CodeTask(program, io=(("", "42"), ("", "42")), timeout_s=2))
    assert not verdict.passed and verdict.status == status, verdict


def test_code_verdicts_are_cached_by_program_and_tests(tmp_path):
    from redstar_training.verify.cache import CodeVerdictCache

    tasks = [CodeTask("print(int(input()) * 2)", io=(("2", "4"), ("5", "10"))), CodeTask("print(0)", io=(("1", "2"),))]
    cache = CodeVerdictCache(tmp_path / "code.sqlite")
    first = verify_code_batch(tasks + tasks, cache=cache)  # the repeats run once
    assert [v.passed for v in first] == [True, False, True, False] and cache.hits == 0
    again = verify_code_batch(tasks, cache=cache)
    assert again == first[:2] and cache.hits == 2
    other_tests = CodeTask("print(int(input()) * 2)", io=(("3", "6"),))
    assert verify_code_batch([other_tests], cache=cache)[0].passed and cache.hits == 2
    cache.close()


LCB_STDIN = json.dumps(
    [
        {"input": "3\n1 2 3\n", "output": "6\n", "testtype": "stdin"},
        {"input": "2\n-5 5\n", "output": "0\n", "testtype": "stdin"},
    ]
)
LCB_FUNCTIONAL = json.dumps(
    [
        {"input": "[2,7,11,15]\n9", "output": "[0,1]", "testtype": "functional"},
        {"input": "[3,2,4]\n6", "output": "[1, 2]", "testtype": "functional"},
    ]
)
TWO_SUM = """```python
class Solution:
    def twoSum(self, nums, target):
        seen = {}
        for i, x in enumerate(nums):
            if target - x in seen:
                return [seen[target - x], i]
            seen[x] = i
```"""


def test_livecodebench_stdin_and_functional_test_cases_as_the_benchmark_stores_them():
    """Hand-written samples in LiveCodeBench's format: public_test_cases is a JSON string; functional
    tests call Solution().<metadata.func_name> with one JSON argument per input line."""
    from redstar_training.verify.items import judge_outputs

    items = [
        {"verifier": "code", "tests": LCB_STDIN, "entry_point": "{}", "problem": "sum"},
        {"verifier": "code", "tests": LCB_FUNCTIONAL, "entry_point": '{"func_name": "twoSum"}', "problem": "two sum"},
        {"verifier": "code", "tests": LCB_FUNCTIONAL, "entry_point": '{"func_name": "twoSum"}', "problem": "two sum"},
        {"verifier": "code", "tests": LCB_FUNCTIONAL, "entry_point": "{}", "problem": "no name"},
    ]
    outputs = [
        "```python\ninput()\nprint(sum(map(int, input().split())))\n```",
        TWO_SUM,
        TWO_SUM.replace("[seen[target - x], i]", "[i, seen[target - x]]"),  # the pair reversed: wrong
        TWO_SUM,
    ]
    judged = judge_outputs(items, outputs, ["stop"] * 4, "strict", verifier=None)
    assert [j[0] for j in judged] == ["correct", "correct", "wrong", "error"], judged
    assert "function name" in judged[3][2]


def test_taco_call_based_tests_and_unusable_tests_are_named():
    from redstar_training.verify.code import task_from_tests

    taco = {"fn_name": "add", "inputs": [[1, 2], [5, -5]], "outputs": [3, 0]}
    assert verify_code(task_from_tests("def add(a, b):\n    return a + b", taco, timeout_s=5)).passed
    assert not verify_code(task_from_tests("def add(a, b):\n    return a - b", taco, timeout_s=5)).passed
    mixed = [
        {"input": "1", "output": "1", "testtype": "stdin"},
        {"input": "1", "output": "1", "testtype": "functional"},
    ]
    with pytest.raises(ValueError, match="all stdin or all functional"):
        task_from_tests("print(1)", mixed)


def test_judging_with_the_shared_verdict_cache_runs_each_program_once(tmp_path, monkeypatch):
    """Evaluation passes verified_traces' code verdict cache: a (program, tests) pair judged before,
    here or in another experiment's evaluation, is not run again; prose costs no sandbox start."""
    from contextlib import closing

    import redstar_training.verify.code as code
    from redstar_training.verify.cache import CodeVerdictCache
    from redstar_training.verify.items import judge_outputs

    tests = '{"inputs": ["1 2\\n", "5 5\\n"], "outputs": ["10\\n", "17\\n"]}'
    items = [{"verifier": "code", "tests": tests, "problem": "sum plus 7"}] * 4
    outputs = [
        "```python\nprint(sum(map(int, input().split()))+7)\n```",
        "```python\nprint(sum(map(int, input().split()))+7)\n```",  # the same program: run once
        "```python\nprint(sum(map(int, input().split()))+6)\n```",
        "The answer is \\boxed{10}.",  # not a program: judged without the sandbox
    ]
    runs = []
    real = code.verify_code
    monkeypatch.setattr(code, "verify_code", lambda task, **kw: runs.append(task.program) or real(task, **kw))
    with closing(CodeVerdictCache(tmp_path / "verdicts.sqlite")) as cache:
        first = judge_outputs(items, outputs, ["stop"] * 4, "strict", verifier=None, code_cache=cache)
        assert [j[0] for j in first] == ["correct", "correct", "wrong", "wrong"], first
        assert first[3][2].startswith("not a Python program")
        assert len(runs) == 3  # two distinct programs and the prose (which stops before the sandbox)
        again = judge_outputs(items, outputs, ["stop"] * 4, "strict", verifier=None, code_cache=cache)
    assert again == first and len(runs) == 3  # all four from the cache
