"""What a new user sees in the UI: `dagster dev` on a fresh instance and data root with one profile,
then headless-Chromium screenshots of the catalog, the automation page and the runs list once the
partition sensor has ticked. By hand (`make screenshots`), not in `make test`.

    python benchmarks/ui_screenshots.py [--profile demo-tiny] [--wait 45] [--out benchmarks/results/ui]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.dagster_dev import dagster_dev  # noqa: E402

PAGES = {"catalog": "assets", "automation": "automation", "runs": "runs"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo-tiny")
    parser.add_argument("--wait", type=float, default=45, help="seconds after the first sensor tick")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ui")
    ns = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium is not installed: `make screenshots` installs the Debian package")
    ns.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="redstar-ui-") as tmp,
        dagster_dev(Path(tmp), ns.profile, ns.out / "dagster_dev.log") as ui,
    ):
        ui.wait_for("the source partitions", lambda: ui.partition_keys("raw_problems"), timeout=180)
        time.sleep(ns.wait)
        for name, page in PAGES.items():
            shot = ns.out / f"{name}.png"
            subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1500,900",
                 "--virtual-time-budget=15000", f"--screenshot={shot}", f"{ui.url}/{page}"],
                capture_output=True, timeout=120, check=True,
            )  # fmt: skip
            print(f"{name}: {shot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
