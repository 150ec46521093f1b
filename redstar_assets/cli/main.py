"""`redstar`: run a profile end to end or check its plan, read the ablation table and the lineage,
verify answers, and serve a queue worker; `redstar --help` lists the commands with examples."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from redstar_assets.cli import eval_command as eval_cli
from redstar_training.verify import cli as verify_cli

EXAMPLES = """examples:
  redstar run --profile demo              # materialize the whole graph into DAGSTER_HOME
  redstar run --profile demo --until sft_subsets   # only that asset and what it needs
  redstar run --profile redstar-math --dry-run
  redstar ablation                        # print the last ablation table
  redstar verify math --input pairs.jsonl --output verdicts.jsonl [--mode strict|legacy|lenient]
  redstar verify code --input programs.jsonl --output verdicts.jsonl
  redstar verify choice --input pairs.jsonl --output verdicts.jsonl
  redstar eval score --benchmark math500 --predictions outputs.jsonl [--problem-field F | --id-field F]
  redstar lineage benchmark_scores:cot-random-4k  # the chain upstream, from the Dagster instance
  redstar lineage --downstream problems:gsm8k --stale   # what was trained on a source, and what is stale
  redstar query "SELECT experiment, stage, benchmark, pass_at_1 FROM lineage WHERE latest"   # DuckDB, read-only
  redstar worker gpu --profile P          # a Celery worker for the `queue` deployment's gpu queue
  redstar profile schema > profile.schema.json   # for an editor: # yaml-language-server: $schema=profile.schema.json
"""


def _say_where(instance: bool = True) -> None:
    """A read command names the data root (and instance) it reads, and says when it is the default:
    an unset variable silently means the checkout's own folders."""
    home = os.environ.get("REDSTAR_HOME")
    said = [f"data root {Path(home or 'data').resolve()}" + ("" if home else " (REDSTAR_HOME not set)")]
    if instance:
        dagster = os.environ.get("DAGSTER_HOME")
        said.append(
            f"instance {Path(dagster or 'dagster_home').resolve()}" + ("" if dagster else " (DAGSTER_HOME not set)")
        )
    print(f"redstar: reading {', '.join(said)}", file=sys.stderr)


def _dagster_home() -> Path:
    """DAGSTER_HOME, default ./dagster_home (the project's instance), created when missing."""
    os.environ.setdefault("DAGSTER_HOME", str(Path("dagster_home").resolve()))
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    return Path(os.environ["DAGSTER_HOME"])


def launch_commands(profile) -> dict[str, list[str]]:
    """The command line each model entry point would run with, from the profile's `launch:` block."""
    from redstar_assets.launcher import launcher_resource

    launcher = launcher_resource(profile.launch.stages())
    modules = {"training": ["redstar_training.trainers.sft"], "evaluation": ["redstar_training.generation.evaluate"]}
    if profile.experiments_with("rl"):
        modules["training"] += sorted({profile.rl_recipes[e.rl].entry_point for e in profile.experiments if e.rl})
    if not profile.teacher.in_process:
        modules["teacher"] = ["redstar_training.generation.distill"]
    return {
        module: launcher.command(stage, module, "<run_config.yaml>")
        for stage, names in modules.items()
        for module in names
    }


def plan(profile) -> dict:
    """What a run of the profile would do: sources, teacher, models, subsets, experiments, counts."""
    n = profile.teacher.samples_per_problem
    sources = []
    for s in profile.sources:
        count = getattr(s, "count", None)
        sources.append(
            {
                "name": s.name,
                "kind": s.kind,
                "where": getattr(s, "path", None) or getattr(s, "dataset", None) or "built-in",
                "problems": count if count is not None else f"all in the {s.kind} source",
                "teacher_samples": "imported (no teacher)"
                if s.kind == "traces"
                else (count * n if count is not None else f"{n} per problem"),
            }
        )
    return {
        "profile": profile.name,
        "file": str(profile.path),
        "sources": sources,
        "teacher": profile.teacher.written(),
        "base_models": {name: entry.model_dump(exclude_unset=True) for name, entry in profile.base_models.items()},
        "subsets": {
            k: {"scale": r.scale, "strategy": r.strategy, "target_format": r.target_format, "mix": r.mix}
            for k, r in profile.subset_recipes.items()
        },
        "experiments": [
            {
                "name": e.name,
                "arm": e.arm,
                "training_seed": e.seed,
                "base_model": e.base_model,
                "stages": list(e.stages),
                "subset": e.subset,
                "training": e.training,
                "rl": e.rl,
                "sft_from": e.sft_from,
            }
            for e in profile.experiments
        ],
        "benchmarks": [
            {
                "name": b.name,
                "where": "generated" if b.entry.generator else b.entry.path,
                "count": b.count or b.entry.generator.get("count") or "all",
                "sampling": b.sampling,
                "max_tokens": b.max_tokens or profile.evaluation.max_new_tokens,
                "verifier": b.entry.verifier,
                "overrides": b.overrides,
                "protocol": b.entry.protocol,
            }
            for b in profile.benchmarks
        ],
        "launch": launch_commands(profile),
        "parallel": profile.launch.parallel,
        "automation": _automation(profile),
        "runs": {
            "source partitions": len(profile.sources),
            "subsets": len(profile.subset_recipes),
            "sft trainings": len(profile.experiments_with("sft")),
            "rl trainings": len(profile.experiments_with("rl")),
            "evaluations": sum(len(e.stages) * len(profile.benchmarks_for(e)) for e in profile.experiments),
        },
    }


def _automation(profile) -> dict:

    return profile.automation.summary()


def print_plan(p: dict) -> None:
    print(f"profile {p['profile']} ({p['file']}): valid")
    print("sources:")
    for s in p["sources"]:
        print(f"  {s['name']:<24} {s['kind']:<11} {s['where']}  problems={s['problems']} traces={s['teacher_samples']}")
    print(f"teacher: {json.dumps(p['teacher'])}")
    print("base models:")
    for name, spec in p["base_models"].items():
        print(f"  {name:<24} {json.dumps(spec)}")
    print("subsets:")
    for name, r in p["subsets"].items():
        mix = " mix=" + ",".join(f"{d}:{f}" for d, f in sorted(r["mix"].items())) if r.get("mix") else ""
        print(f"  {name:<24} scale={r['scale']:<8} {r['strategy']:<11} {r['target_format']}{mix}")
    print("experiments:")
    for e in p["experiments"]:
        start = f"  rl from {e['sft_from']}'s sft" if e["sft_from"] else ""
        seed = f"  seed {e['training_seed']}" if e["training_seed"] is not None else ""
        print(
            f"  {e['name']:<24} {e['base_model']:<22} stages={'+'.join(e['stages']):<12} subset={e['subset']}"
            f"{start}{seed}"
        )
    print("benchmarks:")
    for b in p["benchmarks"]:
        n, t = b["sampling"]["n"], b["sampling"]["temperature"]
        print(f"  {b['name']:<24} {b['where']:<22} count={b['count']:<6} greedy + {n} at {t}  {b['verifier']}")
        if b["protocol"]:
            print(f"  {'':<24} protocol: {b['protocol']}")
    print(f"launch: model steps of one stage {p['parallel']} at a time (launch.parallel)")
    for module, command in p["launch"].items():
        print(f"  {module:<26} {' '.join(command)}")
    auto = p["automation"]
    print(
        f"automation: {'on' if auto['enabled'] else 'off'} (every {auto['tick_seconds']}s): "
        + ", ".join(f"{k}={v}" for k, v in auto["policies"].items())
        + "; schedules: "
        + ", ".join(f"{k}={v}" for k, v in auto["schedules"].items())
    )
    print("runs: " + ", ".join(f"{k}={v}" for k, v in p["runs"].items()))


def current_code_versions(profile_name: str) -> dict[str, str]:
    """The code version of each asset as the profile's definitions build it now."""
    from redstar_assets.config.profile import load_profile
    from redstar_assets.factory import build_definitions

    defs = build_definitions(load_profile(profile_name))
    specs = defs.resolve_all_asset_specs()
    return {s.key.to_user_string(): s.code_version for s in specs if s.code_version is not None}


def lineage(target: str, as_json: bool, down: bool = False, stale: bool = False, profile: str = "demo") -> int:
    """`redstar lineage ASSET[:PARTITION]`: read from the instance under DAGSTER_HOME; with
    `--downstream`, what was trained on it instead, and with `--stale`, which of those are stale."""
    from redstar_assets.config.errors import ProfileError
    from redstar_assets.deploy.instance import InstanceError, open_instance
    from redstar_assets.lineage.walk import ASSETS, downstream, render, render_downstream, walk

    asset, _, partition = target.partition(":")
    if asset not in ASSETS:
        print(f"redstar: unknown asset {asset!r}; assets: {', '.join(ASSETS)}", file=sys.stderr)
        return 2
    _dagster_home()
    try:
        versions = current_code_versions(profile) if stale else None
        instance = open_instance()
    except (InstanceError, ProfileError) as exc:
        print(f"redstar: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, InstanceError) else 2
    if down or stale:
        with instance:
            deps = downstream(instance, asset, partition or None, versions)
        if as_json:
            print(json.dumps([d.as_dict() for d in deps], indent=2, default=str))
        else:
            print("\n".join(render_downstream(target, deps, stale)))
        return 0
    with instance:
        node = walk(instance, asset, partition or None)
    if node.missing:
        print(f"redstar: {target} has not been materialized in {os.environ['DAGSTER_HOME']}", file=sys.stderr)
        return 1
    print(json.dumps(node.as_dict(), indent=2, default=str) if as_json else "\n".join(render(node)))
    return 0


def worker(queue: str, profile_name: str, concurrency: int, name: str | None) -> int:
    """Checks the profile and the broker, then becomes `celery worker` on one queue (exec, no wrapper)."""
    from redstar_assets.config.errors import ProfileError
    from redstar_assets.config.profile import load_profile
    from redstar_assets.deploy.celery_queue import BrokerError, broker_url, check_broker

    try:
        profile = load_profile(profile_name)
        queues = profile.launch.celery.queue_names()
        if queue not in queues.values():
            raise ProfileError(f"{profile.path}: queue {queue!r} is not one of launch.celery.queues {queues}")
        check_broker(broker_url())
    except (ProfileError, BrokerError) as exc:
        print(f"redstar: {exc}", file=sys.stderr)
        return 2
    os.environ["REDSTAR_PROFILE"] = str(profile.path)
    argv = [sys.executable, "-m", "celery", "-A", "redstar_assets.deploy.celery_worker", "worker", "-Q", queue,
            "-c", str(concurrency), "-n", name or f"{queue}@%h", "--loglevel", "INFO", "--without-mingle",
            "--without-gossip"]  # fmt: skip
    os.execv(sys.executable, argv)


def build_parser() -> argparse.ArgumentParser:
    """The `redstar` command line (the CLI reference page is generated from it)."""
    parser = argparse.ArgumentParser(
        prog="redstar", description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a profile end to end (or validate it with --dry-run)")
    run.add_argument("--profile", default="demo", help="profile name under configs/profiles or a YAML path")
    run.add_argument("--dry-run", action="store_true", help="validate and print the plan; no GPU or network")
    run.add_argument("--json", action="store_true", help="with --dry-run: print the plan as JSON")
    run.add_argument("--until", metavar="ASSET", help="materialize only ASSET and what it needs")
    run.add_argument("--verbose", action="store_true", help="stream every log line instead of one line per run")
    check = sub.add_parser("check-endpoints", help="ask each teacher and evaluation endpoint what it serves")
    check.add_argument("--profile", default=os.environ.get("REDSTAR_PROFILE", "demo"))
    abl = sub.add_parser("ablation", help="print the latest ablation table")
    abl.add_argument("--json", action="store_true")
    verify_cli.add_parser(sub)
    eval_cli.add_parser(sub)
    lin = sub.add_parser("lineage", help="print the chain upstream of one materialization")
    lin.add_argument("target", help="ASSET or ASSET:PARTITION, e.g. benchmark_scores:cot-random-4k")
    lin.add_argument("--json", action="store_true")
    lin.add_argument(
        "--downstream", action="store_true", help="list every subset, checkpoint and score trained on TARGET"
    )
    lin.add_argument(
        "--stale", action="store_true", help="with --downstream: mark those whose inputs or code version changed"
    )
    lin.add_argument(
        "--profile",
        default=os.environ.get("REDSTAR_PROFILE", "demo"),
        help="the profile whose current code versions --stale compares against",
    )
    que = sub.add_parser("query", help="SQL (DuckDB, read-only) over the lineage table and the stage tables")
    que.add_argument("sql", nargs="?", help='e.g. "SELECT experiment, pass_at_1 FROM lineage WHERE latest"')
    shape = que.add_mutually_exclusive_group()
    shape.add_argument("--csv", action="store_true")
    shape.add_argument("--json", action="store_true")
    shape.add_argument("--plot", metavar="SPEC", help="x=COL y=COL [by=COL]: a PNG of y against x, a line per by")
    que.add_argument("--out", default="query.png", help="where --plot writes (default query.png)")
    que.add_argument("--views", action="store_true", help="list the views and their columns")
    work = sub.add_parser("worker", help="serve one Celery queue of the `queue` deployment (launch.executor: celery)")
    work.add_argument("queue", help="the profile's launch.celery.queues.model (default gpu) or .data (default cpu)")
    work.add_argument(
        "--profile", default=os.environ.get("REDSTAR_PROFILE", "demo"), help="the code location's profile"
    )
    work.add_argument("--concurrency", type=int, default=1, help="steps this worker runs at once (default 1)")
    work.add_argument("--name", help="the worker's node name (default QUEUE@HOST)")
    prof = sub.add_parser("profile", help="what a profile may say")
    prof_sub = prof.add_subparsers(dest="profile_command", required=True)
    prof_sub.add_parser("schema", help="print the JSON Schema of a profile file (for an editor's completion)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    if ns.command == "profile":
        from redstar_assets.config.schema import profile_schema

        print(json.dumps(profile_schema(), indent=2))
        return 0
    if ns.command == "worker":
        return worker(ns.queue, ns.profile, ns.concurrency, ns.name)
    if ns.command in ("lineage", "query", "ablation"):
        _say_where(instance=ns.command == "lineage")
    if ns.command == "lineage":
        return lineage(ns.target, ns.json, ns.downstream, ns.stale, ns.profile)
    if ns.command == "query":
        from redstar_assets.lineage import sql as query

        fmt = "csv" if ns.csv else "json" if ns.json else "table"
        return query.main(os.environ.get("REDSTAR_HOME", "data"), ns.sql, fmt, ns.plot, ns.out, ns.views)
    if ns.command == "verify":
        return verify_cli.run(ns)
    if ns.command == "eval":
        return eval_cli.run(ns)

    from redstar_assets.config.errors import ProfileError
    from redstar_assets.config.profile import load_profile

    if ns.command in ("run", "check-endpoints"):
        try:
            profile = load_profile(ns.profile)
        except ProfileError as exc:
            print(f"redstar: {exc}", file=sys.stderr)
            return 2
    if ns.command == "check-endpoints":
        from redstar_assets.cli.endpoints import check_endpoints

        lines, ok = check_endpoints(profile)
        print("\n".join(lines))
        return 0 if ok else 1
    if ns.command == "run":
        if ns.dry_run:
            from redstar_assets.cli.dry_run import dry_run_checks

            errors, notes = dry_run_checks(profile)
            for line in notes:
                print(f"redstar: note: {line}", file=sys.stderr)
            for line in errors:
                print(f"redstar: {line}", file=sys.stderr)
            if errors:
                return 2
            if ns.json:
                print(json.dumps(plan(profile), indent=2, default=str))
            else:
                print_plan(plan(profile))
            return 0
        from redstar_assets.cli.run.execute import run_profile
        from redstar_assets.cli.run.plan import PlanError
        from redstar_assets.deploy.instance import InstanceError

        _dagster_home()
        try:
            return run_profile(profile, Path(os.environ.get("REDSTAR_HOME", "data")).resolve(), ns.verbose, ns.until)
        except (PlanError, InstanceError) as exc:
            print(f"redstar: {exc}", file=sys.stderr)
            return 2
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
