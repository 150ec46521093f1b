"""Security checks that are not about bad rows: what the project loads and where it listens."""

import ipaddress
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LOAD_SCRIPT = r"""
import json, os, pickle, shutil, sys
from pathlib import Path
from redstar_training.models.folders import load_model
from redstar_training.models.tiny_lm import TinyQwen2Spec, build_tiny_qwen2

root, marker = Path(sys.argv[1]), Path(sys.argv[2])
good = build_tiny_qwen2(TinyQwen2Spec(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=1), root / "good")
results = {}

class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {marker}",))

pickled = root / "pickled"  # the weights only as a pickle that runs a command when unpickled
shutil.copytree(good, pickled)
(pickled / "model.safetensors").unlink()
(pickled / "pytorch_model.bin").write_bytes(pickle.dumps(Payload()))
try:
    load_model(str(pickled))
    results["pickled"] = "loaded"
except Exception as exc:
    results["pickled"] = f"refused: {type(exc).__name__}: {str(exc)[:160]}"

remote = root / "remote"  # a config that asks for the repository's own Python
shutil.copytree(good, remote)
(remote / "evil.py").write_text(f"import os\nos.system('touch {marker}')\n")
config = json.loads((remote / "config.json").read_text())
config["auto_map"] = {"AutoModelForCausalLM": "evil.EvilModel", "AutoConfig": "evil.EvilConfig"}
(remote / "config.json").write_text(json.dumps(config))
try:
    load_model(str(remote))
    results["remote"] = "loaded without running the repository's code"
except Exception as exc:
    results["remote"] = f"refused: {type(exc).__name__}: {str(exc)[:160]}"
results["marker"] = marker.exists()
print(json.dumps(results))
"""


def test_checkpoints_load_from_safetensors_only_and_never_run_a_repositorys_code(tmp_path, scoreboard):
    t0 = time.monotonic()
    script = tmp_path / "load.py"
    script.write_text(LOAD_SCRIPT)
    marker = tmp_path / "code-ran"
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path), str(marker)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    out = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}
    ran = marker.exists()
    survived = int(out.get("pickled", "").startswith("refused")) + int(not ran and "remote" in out)
    line = scoreboard.record(
        "security",
        "model folders: pickled weights, trust_remote_code asked by the config",
        tried=2,
        faults=2,
        survived=survived,
        escapes=int(ran),
        exceptions=int(done.returncode != 0),
        seconds=time.monotonic() - t0,
        notes=[f"{k}: {v}" for k, v in out.items()] or [done.stderr[-500:]],
    )
    assert line.clean, line.notes


def _listening(port: int) -> list[str]:
    """Local addresses of the sockets listening on `port` (/proc/net/tcp and tcp6, state 0A)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                raw = bytes.fromhex(address)
                if len(raw) == 4:
                    found.append(".".join(str(b) for b in raw[::-1]))
                else:  # IPv6, four little-endian words
                    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                    found.append(str(ipaddress.IPv6Address(words)))
    return found


def test_servers_the_project_starts_listen_on_loopback_only(tmp_path, scoreboard):
    """The UI's webserver, started as `make ui` starts it but without its -h: it must bind loopback
    unless told otherwise. The teacher and evaluation servers' presets (serve.py) name 127.0.0.1."""
    t0 = time.monotonic()
    from redstar_training.generation.serve import PRESETS, free_port

    notes, wide = [], 0
    for name, argv in PRESETS.items():
        host = argv[argv.index("--host") + 1] if "--host" in argv else None
        if host != "127.0.0.1":
            wide += 1
            notes.append(f"serve preset {name}: --host {host}")
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "REDSTAR_PROFILE": "demo-tiny"}
    (tmp_path / "dagster.yaml").write_text((ROOT / "dagster_home" / "dagster.yaml").read_text())
    web = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-webserver"), "-w", "workspace.yaml", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while not _listening(port) and time.monotonic() < deadline and web.poll() is None:
            time.sleep(0.5)
        addresses = _listening(port)
    finally:
        web.terminate()
        web.wait(timeout=60)
    if not addresses:
        notes.append("the webserver never listened")
    for address in addresses:
        if not ipaddress.ip_address(address).is_loopback:
            wide += 1
            notes.append(f"the webserver listens on {address}:{port}")
    line = scoreboard.record(
        "security",
        "listening addresses (webserver started with no -h; teacher/eval server presets)",
        tried=len(PRESETS) + 1,
        faults=len(PRESETS) + 1,
        survived=len(PRESETS) + 1 - wide - int(not addresses),
        escapes=wide,
        exceptions=int(not addresses),
        seconds=time.monotonic() - t0,
        notes=notes + [f"webserver bound {addresses}"],
    )
    assert line.clean, notes
