"""Records the data version of every asset partition that `redstar run --profile P` makes on a fresh
instance and data root, so two commits can be compared: a restructuring must make the same data.

    python benchmarks/data_versions.py --profile demo-tiny --out before.json
    python benchmarks/data_versions.py --profile demo-tiny --out after.json --compare before.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def record(profile: str) -> dict[str, str | None]:
    """Runs the profile through the CLI in a throwaway home and reads the instance's data versions."""
    from dagster import AssetRecordsFilter, DagsterInstance

    with tempfile.TemporaryDirectory(prefix="redstar-versions-") as tmp:
        home = Path(tmp)
        (home / "dagster_home").mkdir()
        shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster_home" / "dagster.yaml")
        env = {**os.environ, "DAGSTER_HOME": str(home / "dagster_home"), "REDSTAR_HOME": str(home / "data")}
        redstar = Path(sys.executable).parent / "redstar"
        subprocess.run([redstar, "run", "--profile", profile], cwd=ROOT, env=env, check=True)
        instance = DagsterInstance.from_config(str(home / "dagster_home"))
        versions: dict[str, str | None] = {}
        for key in instance.get_asset_keys():
            for rec in instance.fetch_materializations(AssetRecordsFilter(asset_key=key), limit=1000).records:
                name = f"{key.to_user_string()}[{rec.partition_key or ''}]"
                versions.setdefault(name, rec.asset_materialization.tags.get("dagster/data_version"))
        return dict(sorted(versions.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo-tiny")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--compare", type=Path, help="an earlier --out file to compare with")
    args = parser.parse_args()
    versions = record(args.profile)
    args.out.write_text(json.dumps(versions, indent=2) + "\n")
    print(f"{len(versions)} asset partitions -> {args.out}")
    if args.compare is None:
        return 0
    before = json.loads(args.compare.read_text())
    differ = sorted(k for k in before.keys() | versions.keys() if before.get(k) != versions.get(k))
    for key in differ:
        print(f"differs: {key}: {before.get(key)} -> {versions.get(key)}")
    print(f"{len(before.keys() & versions.keys()) - len(differ)} identical, {len(differ)} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
