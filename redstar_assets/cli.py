"""`redstar`: run a profile end to end, validate a profile's plan, print the ablation report.

redstar run --profile demo              # materialize the whole graph into DAGSTER_HOME
redstar run --profile redstar-math --dry-run
redstar ablation                        # print the last ablation table
redstar verify math --input pairs.jsonl --output verdicts.jsonl [--mode strict|legacy]
redstar verify code --input programs.jsonl --output verdicts.jsonl
redstar verify choice --input pairs.jsonl --output verdicts.jsonl
redstar eval score --benchmark math500 --predictions outputs.jsonl [--problem-field F | --id-field F]
redstar lineage benchmark_scores:cot-random-4k  # the chain upstream, from the Dagster instance
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from redstar_assets.evaluation import cli as eval_cli
from redstar_training.verify import cli as verify_cli


def _use_profile(path: str) -> None:
    """The Dagster definitions read the profile at import, so it is chosen before they load."""
    os.environ["REDSTAR_PROFILE"] = path
    os.environ.setdefault("DAGSTER_HOME", str(Path("dagster_home").resolve()))
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)


def plan(profile) -> dict:
    """What a run of the profile would do: sources, teacher, models, subsets, experiments, counts."""
    n = int(profile.teacher.get("samples_per_problem", 1))
    sources = []
    for s in profile.sources:
        count = s.get("count")
        sources.append(
            {
                "name": s["name"],
                "kind": s["kind"],
                "where": s.get("path") or s.get("dataset") or "built-in",
                "problems": count if count is not None else f"all in the {s['kind']} source",
                "teacher_samples": count * n if count is not None else f"{n} per problem",
            }
        )
    return {
        "profile": profile.name,
        "file": str(profile.path),
        "sources": sources,
        "teacher": profile.teacher,
        "base_models": profile.base_models,
        "subsets": {
            k: {"scale": r.scale, "strategy": r.strategy, "target_format": r.target_format}
            for k, r in profile.subset_recipes.items()
        },
        "experiments": [
            {
                "name": e.name,
                "base_model": e.base_model,
                "stages": list(e.stages),
                "subset": e.subset,
                "training": e.training,
                "rl": e.rl,
            }
            for e in profile.experiments
        ],
        "benchmarks": [
            {
                "name": b["name"],
                "kind": b.get("kind"),
                "where": b.get("path") or b.get("dataset") or "built-in",
                "count": b.get("count", "all"),
            }
            for b in profile.benchmarks
        ],
        "runs": {
            "source partitions": len(profile.sources),
            "subsets": len(profile.subset_recipes),
            "sft trainings": len(profile.experiments_with("sft")),
            "rl trainings": len(profile.experiments_with("rl")),
            "evaluations": sum(len(e.stages) for e in profile.experiments) * len(profile.benchmarks),
        },
    }


def print_plan(p: dict) -> None:
    print(f"profile {p['profile']} ({p['file']}): valid")
    print("sources:")
    for s in p["sources"]:
        print(
            f"  {s['name']:<24} {s['kind']:<11} {s['where']}  problems={s['problems']} samples={s['teacher_samples']}"
        )
    print(f"teacher: {json.dumps(p['teacher'])}")
    print("base models:")
    for name, spec in p["base_models"].items():
        print(f"  {name:<24} {json.dumps(spec)}")
    print("subsets:")
    for name, r in p["subsets"].items():
        print(f"  {name:<24} scale={r['scale']:<8} {r['strategy']:<11} {r['target_format']}")
    print("experiments:")
    for e in p["experiments"]:
        print(f"  {e['name']:<24} {e['base_model']:<22} stages={'+'.join(e['stages']):<12} subset={e['subset']}")
    print("benchmarks:")
    for b in p["benchmarks"]:
        print(f"  {b['name']:<24} {b['kind']:<11} {b['where']}  count={b['count']}")
    print("runs: " + ", ".join(f"{k}={v}" for k, v in p["runs"].items()))


def _root_cause(event) -> str:
    """The innermost error of a failed step: the user's problem, not the orchestrator's wrapping."""
    error = event.step_failure_data.error
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def run_profile() -> int:
    """Materializes every asset partition in pipeline order into the persistent instance."""
    from dagster import DagsterInstance

    from redstar_assets import definitions as d
    from redstar_assets.pipeline import run_pipeline
    from redstar_assets.profile import active_profile

    started = time.time()

    def show(step, result, seconds):
        status = "ok" if result.success else "FAILED"
        print(
            f"[{time.time() - started:7.1f}s] {step.label}: {status} ({seconds:.1f}s, run {result.run_id[:8]})",
            flush=True,
        )

    resources = d.resources()
    failed = run_pipeline(DagsterInstance.get(), active_profile(), resources, on_step=show, tags={"redstar/cli": "run"})
    if failed is not None:
        for event in failed.all_events:
            if event.is_step_failure:
                print(f"redstar: {event.step_key} failed: {_root_cause(event)}", file=sys.stderr)
        print(f"redstar: full logs in the Dagster UI (make ui), run {failed.run_id}", file=sys.stderr)
        return 1
    report = resources["redstar"].store().folder("ablation_report") / "report.md"
    print(f"\nAblation report ({report}):\n")
    print(report.read_text())
    print(f"plot: {report.with_name('scaling.png')}")
    print(f"total: {time.time() - started:.1f}s")
    return 0


def lineage(target: str, as_json: bool) -> int:
    """`redstar lineage ASSET[:PARTITION]`: read from the instance under DAGSTER_HOME."""
    from dagster import DagsterInstance

    from redstar_assets.lineage_query import ASSETS, render, walk

    asset, _, partition = target.partition(":")
    if asset not in ASSETS:
        print(f"redstar: unknown asset {asset!r}; assets: {', '.join(ASSETS)}", file=sys.stderr)
        return 2
    os.environ.setdefault("DAGSTER_HOME", str(Path("dagster_home").resolve()))
    with DagsterInstance.get() as instance:
        node = walk(instance, asset, partition or None)
    if node.missing:
        print(f"redstar: {target} has not been materialized in {os.environ['DAGSTER_HOME']}", file=sys.stderr)
        return 1
    print(json.dumps(node.as_dict(), indent=2, default=str) if as_json else "\n".join(render(node)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="redstar", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a profile end to end (or validate it with --dry-run)")
    run.add_argument("--profile", default="demo", help="profile name under configs/profiles or a YAML path")
    run.add_argument("--dry-run", action="store_true", help="validate and print the plan; no GPU or network")
    run.add_argument("--json", action="store_true", help="with --dry-run: print the plan as JSON")
    abl = sub.add_parser("ablation", help="print the latest ablation table")
    abl.add_argument("--json", action="store_true")
    verify_cli.add_parser(sub)
    eval_cli.add_parser(sub)
    lin = sub.add_parser("lineage", help="print the chain upstream of one materialization")
    lin.add_argument("target", help="ASSET or ASSET:PARTITION, e.g. benchmark_scores:cot-random-4k")
    lin.add_argument("--json", action="store_true")
    ns = parser.parse_args(argv)
    if ns.command == "lineage":
        return lineage(ns.target, ns.json)
    if ns.command == "verify":
        return verify_cli.run(ns)
    if ns.command == "eval":
        return eval_cli.run(ns)

    from redstar_assets.profile import ProfileError, load_profile

    if ns.command == "run":
        try:
            profile = load_profile(ns.profile)
        except ProfileError as exc:
            print(f"redstar: {exc}", file=sys.stderr)
            return 2
        if ns.dry_run:
            if ns.json:
                print(json.dumps(plan(profile), indent=2, default=str))
            else:
                print_plan(plan(profile))
            return 0
        _use_profile(str(profile.path))
        return run_profile()
    from redstar_assets.storage import Store

    store = Store(os.environ.get("REDSTAR_HOME", "data"))
    if not store.exists("ablation_report"):
        print("redstar: no ablation report yet; run `redstar run` first", file=sys.stderr)
        return 1
    table = store.read("ablation_report")
    print(table.write_json() if ns.json else (store.folder("ablation_report") / "report.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
