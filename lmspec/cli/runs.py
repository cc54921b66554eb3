"""Commands about executing a plan and what its runs produced: run (and --dry-run), explain, report, export."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lmspec.cli.options import (
    add_override_options,
    add_root_options,
    add_selection_options,
    compile_plan,
    open_catalog,
)
from lmspec.errors import UsageError

if TYPE_CHECKING:
    from lmspec.compiler.plan import Plan


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser("run", help="execute the plan on Luigi; record outputs in the catalog")
    run.add_argument("spec", type=Path, metavar="SPEC")
    add_root_options(run)
    run.add_argument("--workers", type=int, default=1, help="Luigi worker processes (default 1)")
    run.add_argument("--scheduler", metavar="HOST:PORT", help="a running central scheduler (luigid)")
    run.add_argument("--force", nargs="+", default=[], metavar="STEP", help="re-run these steps and their dependents")
    run.add_argument("--dry-run", action="store_true", help="show what would run, run nothing")
    run.add_argument(
        "--cache",
        metavar="URL",
        help="another root (a folder or fsspec URL) whose finished steps are reused instead of run: hard-linked "
        "when on the same file system, else copied",
    )
    run.add_argument("--quiet", action="store_true", help="one plain line per event instead of the live view")
    run.add_argument(
        "--allow-runner-processes",
        action="store_true",
        help="let Beam runner settings start local processes (job servers, PROCESS environments); off by default",
    )
    add_override_options(run)
    add_selection_options(run)
    run.set_defaults(handler=_run)

    report = commands.add_parser(
        "report", help="compare the evaluate steps: values ± stderr, paired tests, spec diff, curves (Markdown, HTML)"
    )
    report.add_argument("spec", type=Path, metavar="SPEC")
    add_root_options(report)
    report.add_argument(
        "--output",
        type=Path,
        help="folder for report.md/.html, loss.png and scaling.png (default: <root>/reports/<experiment>)",
    )
    report.add_argument(
        "--format",
        choices=("text", "markdown", "html"),
        default="text",
        help="what to print: tables (text), the Markdown report for a pull-request comment, or the HTML page",
    )
    add_override_options(report)
    report.set_defaults(handler=_report)

    export = commands.add_parser("export", help="a train step's final checkpoint in another format (hf: Hugging Face)")
    export.add_argument("step", metavar="STEP", help="a train step (name, hash or path in the catalog) or its output")
    export.add_argument("out", type=Path, metavar="OUT", help="a new folder for the exported model")
    export.add_argument("--format", choices=("hf",), default="hf", help="hf: a Llama checkpoint transformers loads")
    add_root_options(export)
    export.set_defaults(handler=_export)

    explain = commands.add_parser("explain", help="why STEP has its hash: a field diff against its last run")
    explain.add_argument("spec", type=Path, metavar="SPEC")
    explain.add_argument("step", metavar="STEP")
    add_root_options(explain)
    add_override_options(explain)
    explain.set_defaults(handler=_explain)


def _run(args: argparse.Namespace) -> int:
    plan = compile_plan(args, args.root)
    if args.dry_run:
        return _dry_run(plan)
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    from lmspec.runtime.progress import wants_live
    from lmspec.runtime.runner import run_plan
    from lmspec.runtime.summary import describe

    summary = run_plan(
        plan,
        args.spec,
        catalog_url=args.catalog,
        workers=args.workers,
        scheduler=_host_port(args.scheduler),
        force=tuple(args.force),
        live=wants_live(args.quiet) and args.workers == 1,
        allow_runner_processes=args.allow_runner_processes,
        cache=_cache_root(args.cache),
    )
    for line in describe(summary):
        print(line)
    return 0 if summary.ok else 1


def _cache_root(value: str | None) -> str | None:
    """`--cache`: a URL as given, a local folder made absolute; a local folder that is not there is an error."""
    if value is None or "://" in value:
        return value
    folder = Path(value).expanduser().resolve()
    if not folder.is_dir():
        raise UsageError(f"--cache {value}: no such folder; give the root of another lmspec run (a folder or URL)")
    return str(folder)


def _dry_run(plan: Plan) -> int:
    """What `run` would execute: every step not cached, with its status when it is not plainly pending
    (`running` is being executed by another process, which this run would wait for)."""
    from lmspec.compiler.estimates import train_estimates
    from lmspec.compiler.hardware import format_duration, load_prices
    from lmspec.outputs.status import plan_statuses

    would_run = [(n, s) for n, s in plan_statuses(plan).items() if s != "cached"]
    listing = ", ".join(name if status == "pending" else f"{name} ({status})" for name, status in would_run)
    print(f"{len(plan.steps)} steps, {len(would_run)} would run: {listing or 'none'}")
    names = {name for name, _ in would_run}
    training = {n: e.estimate for n, e in train_estimates(plan, load_prices(None)).items() if n in names}
    if training:
        hours, cost = sum(e.hours for e in training.values()), sum(e.cost for e in training.values())
        steps = ", ".join(sorted(training))
        print(f"training that would run: ~{format_duration(hours)}, ${cost:,.2f} estimated ({steps})")
    return 0


def _host_port(value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--scheduler wants HOST:PORT, e.g. 127.0.0.1:8082; got {value!r}")
    return host, int(port)


def _report(args: argparse.Namespace) -> int:
    from lmspec.catalog.report import build_report
    from lmspec.catalog.report_render import print_report, write_report

    plan = compile_plan(args, args.root)
    report = build_report(plan, open_catalog(args))
    folder = args.output or Path(plan.root) / "reports" / plan.experiment.name
    paths = write_report(report, folder)
    if args.format == "text":
        print_report(report)
    else:  # the document alone on stdout, to pipe into a pull-request comment
        sys.stdout.write(paths[args.format].read_text(encoding="utf-8"))
    where = f"report: {paths['html']}  (also {', '.join(str(p) for k, p in paths.items() if k != 'html')})"
    print(where, file=sys.stdout if args.format == "text" else sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    from lmspec.export.hf import export_hf

    source = _train_output(args)
    print(f"exported {source} to {export_hf(source, args.out)} (format {args.format})")
    return 0


def _train_output(args: argparse.Namespace) -> Path:
    """`lmspec export`'s STEP: a train output folder, or a train step the catalog knows (by name, hash, path)."""
    from lmspec.outputs.model import MODEL_FILE

    if (Path(args.step) / MODEL_FILE).is_file():
        return Path(args.step)
    catalog = open_catalog(args)
    record = catalog.find(args.step)
    if record is None or record.status != "succeeded":
        raise UsageError(f"no finished step matches `{args.step}` in {catalog.url}: name a train step that has run")
    if not (Path(record.output_path) / MODEL_FILE).is_file():
        raise UsageError(f"`{args.step}` is a {record.kind} step; export takes a train step (its model checkpoint)")
    return Path(record.output_path)


def _explain(args: argparse.Namespace) -> int:
    from lmspec.catalog.explain import explain

    plan = compile_plan(args, args.root)
    if args.step not in {s.name for s in plan.steps}:
        raise UsageError(f"{args.spec} has no step `{args.step}`; steps: {', '.join(s.name for s in plan.steps)}")
    for line in explain(plan, args.step, open_catalog(args)):
        print(line)
    return 0
