"""The `lmspec` command: parse arguments, call the compiler, map errors to exit codes.

Exit codes: 0 success, 1 invalid spec (or a failed step), 2 usage error. A bad
spec never prints a traceback; `--debug` shows one for lmspec's own bugs.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# pydantic scans every installed distribution's entry points for plugins at first use; with the
# engines installed that is ~200 dist-infos read on each start. lmspec uses no pydantic plugin.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from typing import TYPE_CHECKING

from lmspec.errors import Diagnostic, LmspecError, SpecError, UsageError

if TYPE_CHECKING:
    from lmspec.catalog import Catalog
    from lmspec.compiler.overrides import Override
    from lmspec.compiler.plan import Plan

SCHEMA_DIR = Path("schemas")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    code = _handle(args)
    try:
        sys.stdout.flush()  # here, where a closed pipe can be told apart from a failure
    except BrokenPipeError:
        _reader_left()
    return code


def _handle(args: argparse.Namespace) -> int:
    """Run the command; map every error to its message and exit code."""
    try:
        return int(args.handler(args))
    except BrokenPipeError:
        _reader_left()
        return 0
    except SpecError as exc:
        _print_diagnostics(exc.diagnostics, "text", sys.stderr)
        print(_summary(len(exc.diagnostics), 1, 1), file=sys.stderr)
        return exc.exit_code
    except LmspecError as exc:
        print(f"lmspec: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("lmspec: interrupted", file=sys.stderr)
        return 130
    except Exception:
        if args.debug:
            raise
        import traceback

        print(
            "lmspec: internal error (a bug in lmspec, not in your spec); rerun with --debug for the traceback:\n"
            + traceback.format_exc().strip().splitlines()[-1],
            file=sys.stderr,
        )
        return 3


def _reader_left() -> None:
    """Whoever read stdout has closed it (`lmspec compile SPEC | head`): not an error, nothing more to print."""
    from lmspec.runtime.progress import discard_stdout

    discard_stdout()


def _parser() -> argparse.ArgumentParser:
    from lmspec.compiler.render import FORMATS

    parser = argparse.ArgumentParser(prog="lmspec", description="Declarative language-model experiments.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check specs: schema, references, cycles (CI-ready)")
    validate.add_argument(
        "specs",
        nargs="+",
        type=Path,
        metavar="SPEC",
        help="spec files, or directories searched for *.toml, *.yaml, *.yml",
    )
    validate.add_argument(
        "--format",
        choices=("text", "github"),
        default="text",
        help="github prints ::error annotations for pull requests",
    )
    _add_override_options(validate)
    validate.set_defaults(handler=_validate)

    compile_ = commands.add_parser("compile", help="show the plan: steps, hashes, output paths, statuses")
    compile_.add_argument("spec", type=Path, metavar="SPEC")
    compile_.add_argument("--format", choices=FORMATS, default="text")
    compile_.add_argument("--root", help="output root, a directory or URL (default: $LMSPEC_ROOT or ./lmspec-runs)")
    compile_.add_argument("--prices", metavar="TOML", help=PRICES_HELP)
    _add_override_options(compile_)
    _add_selection_options(compile_)
    compile_.set_defaults(handler=_compile)

    cost = commands.add_parser("cost", help="what each train step costs on every accelerator, cheapest first")
    cost.add_argument("spec", type=Path, metavar="SPEC")
    cost.add_argument("--prices", metavar="TOML", help=PRICES_HELP)
    cost.add_argument("--json", action="store_true", help="machine-readable output")
    cost.set_defaults(handler=_cost)

    run = commands.add_parser("run", help="execute the plan on Luigi; record outputs in the catalog")
    run.add_argument("spec", type=Path, metavar="SPEC")
    _add_root_options(run)
    run.add_argument("--workers", type=int, default=1, help="Luigi worker processes (default 1)")
    run.add_argument("--scheduler", metavar="HOST:PORT", help="a running central scheduler (luigid)")
    run.add_argument("--force", nargs="+", default=[], metavar="STEP", help="re-run these steps and their dependents")
    run.add_argument("--dry-run", action="store_true", help="show what would run, run nothing")
    run.add_argument("--quiet", action="store_true", help="one plain line per event instead of the live view")
    run.add_argument(
        "--allow-runner-processes",
        action="store_true",
        help="let Beam runner settings start local processes (job servers, PROCESS environments); off by default",
    )
    _add_override_options(run)
    _add_selection_options(run)
    run.set_defaults(handler=_run)

    report = commands.add_parser("report", help="compare the evaluate steps: a table (Markdown, HTML) and loss curves")
    report.add_argument("spec", type=Path, metavar="SPEC")
    _add_root_options(report)
    report.add_argument(
        "--output", type=Path, help="folder for report.md/.html and loss.png (default: <root>/reports/<experiment>)"
    )
    _add_override_options(report)
    report.set_defaults(handler=_report)

    diff = commands.add_parser("diff", help="what a spec change re-runs, reuses and costs (a plan for review)")
    diff.add_argument("specs", nargs="+", type=Path, metavar="SPEC", help="BASE HEAD, or one SPEC with --against")
    diff.add_argument("--against", metavar="REV", help="compare SPEC with itself at this git revision")
    diff.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    diff.add_argument("--root", help="output root whose outputs count as cached (default: $LMSPEC_ROOT)")
    diff.add_argument("--prices", metavar="TOML", help=PRICES_HELP)
    _add_override_options(diff)
    diff.set_defaults(handler=_diff)

    migrate = commands.add_parser("migrate", help="rewrite specs to the current spec version, keeping comments")
    migrate.add_argument("specs", nargs="+", type=Path, metavar="SPEC", help="spec files or directories")
    migrate.add_argument("--dry-run", action="store_true", help="show the diff, write nothing")
    migrate.set_defaults(handler=_migrate)

    explain = commands.add_parser("explain", help="why STEP has its hash: a field diff against its last run")
    explain.add_argument("spec", type=Path, metavar="SPEC")
    explain.add_argument("step", metavar="STEP")
    _add_root_options(explain)
    _add_override_options(explain)
    explain.set_defaults(handler=_explain)

    catalog = commands.add_parser("catalog", help="query what has been produced, from what")
    catalog_commands = catalog.add_subparsers(dest="catalog_command", required=True, metavar="QUERY")
    for name, help_text in (
        ("ls", "artifacts, newest first"),
        ("show", "one artifact (by hash, hash prefix, output path or step name)"),
        ("lineage", "the upstream tree of an artifact, down to raw inputs"),
    ):
        query = catalog_commands.add_parser(name, help=help_text)
        if name != "ls":
            query.add_argument("key", metavar="HASH|PATH" + ("|STEP" if name == "show" else ""))
        _add_root_options(query)
        query.add_argument("--json", action="store_true", help="machine-readable output")
        query.set_defaults(handler=_catalog)
    rebuild = catalog_commands.add_parser(
        "rebuild", help="re-create the catalog's records from the outputs under the root (their lmspec-step.json)"
    )
    _add_root_options(rebuild)
    rebuild.set_defaults(handler=_rebuild)

    schema = commands.add_parser("schema", help=f"write the JSON Schemas for editors into {SCHEMA_DIR}/")
    schema.add_argument(
        "--output",
        type=Path,
        default=SCHEMA_DIR,
        help="folder for experiment.schema.json and experiment.partial.schema.json ('-': print one to stdout)",
    )
    schema.add_argument("--partial", action="store_true", help="with --output -: print the relaxed (partial) schema")
    schema.add_argument("--check", action="store_true", help="exit 1 if a file on disk is stale, write nothing")
    schema.set_defaults(handler=_schema)
    return parser


PRICES_HELP = "TOML price/throughput overrides per accelerator (default: $LMSPEC_PRICES, else the built-in table)"


def _add_override_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        type=_parse_set,
        default=[],
        metavar="PATH=VALUE",
        help="edit a field as if written in the file (after extends, before vars/sweep), e.g. steps.model.steps=200",
    )
    parser.add_argument(
        "--unset", dest="overrides", action="append", type=_parse_unset, metavar="PATH", help="remove a field"
    )


def _parse_set(text: str) -> Override:
    from lmspec.compiler.overrides import parse_set

    try:
        return parse_set(text)
    except SpecError as exc:  # argparse reports it as a usage error naming the flag
        raise argparse.ArgumentTypeError(exc.diagnostics[0].message) from None


def _parse_unset(text: str) -> Override:
    from lmspec.compiler.overrides import parse_unset

    return parse_unset(text)


def _add_selection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--only", nargs="+", default=[], metavar="STEP", help="only these steps (names or globs) and what they need"
    )
    parser.add_argument("--until", nargs="+", default=[], metavar="STEP", help="these steps and everything upstream")


def _plan(args: argparse.Namespace, root: str | None) -> Plan:
    """Compile the command's spec with its overrides, cut to `--only`/`--until` where the command has them."""
    from lmspec.compiler import compile_spec
    from lmspec.compiler.plan import select

    plan = compile_spec(args.spec, root, tuple(args.overrides))
    return select(plan, tuple(getattr(args, "only", ())), tuple(getattr(args, "until", ())))


def _add_root_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", help="output root (default: $LMSPEC_ROOT or ./lmspec-runs)")
    parser.add_argument("--catalog", metavar="URL", help="SQLAlchemy URL (default: sqlite:///<root>/catalog.sqlite)")


def _spec_files(paths: list[Path]) -> list[Path]:
    from lmspec.compiler.sources import SPEC_SUFFIXES

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix in SPEC_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                raise UsageError(f"{path}: no spec files (*.toml, *.yaml, *.yml) in this directory")
            files.extend(found)
        elif path.exists() or path.suffix in SPEC_SUFFIXES:
            files.append(path)
        else:
            raise UsageError(f"{path}: no such file")
    return files


def _validate(args: argparse.Namespace) -> int:
    from lmspec.compiler import check
    from lmspec.compiler.sources import display_path

    files = _spec_files(args.specs)
    diagnostics: list[Diagnostic] = []
    bad_files = 0
    for path in files:
        try:
            check(path, tuple(args.overrides))
        except SpecError as exc:
            diagnostics.extend(exc.diagnostics)
            bad_files += 1
        except Exception as exc:  # lmspec's own bug on this file: say so, and go on with the others
            if args.debug:
                raise
            message = f"internal error while checking this file (a bug in lmspec; --debug shows it): {exc!r}"
            diagnostics.append(Diagnostic(display_path(path), 1, 1, "", message[:500]))
            bad_files += 1
    _print_diagnostics(diagnostics, args.format, sys.stdout)
    if diagnostics:
        print(_summary(len(diagnostics), bad_files, len(files)))
        return 1
    print(f"{len(files)} spec{'s' if len(files) != 1 else ''} valid")
    return 0


def _print_diagnostics(diagnostics: list[Diagnostic], style: str, stream: object) -> None:
    for diagnostic in diagnostics:
        print(diagnostic.format(style), file=stream)  # type: ignore[call-overload]


def _summary(errors: int, bad_files: int, files: int) -> str:
    return f"{errors} error{'s' if errors != 1 else ''} in {bad_files} of {files} spec{'s' if files != 1 else ''}"


def _compile(args: argparse.Namespace) -> int:
    from lmspec.compiler.hardware import load_prices
    from lmspec.compiler.render import render, text_tree
    from lmspec.outputs.status import plan_statuses

    plan = _plan(args, args.root)
    prices = load_prices(args.prices)
    statuses = plan_statuses(plan)
    if args.format == "text" and sys.stdout.isatty():
        from rich.console import Console

        Console().print(text_tree(plan, statuses, prices))
    else:
        print(render(plan, args.format, statuses, prices))
    return 0


def _cost(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from lmspec.compiler import compile_spec
    from lmspec.compiler.estimates import across_accelerators
    from lmspec.compiler.hardware import format_duration, load_prices

    plan = compile_spec(args.spec, None)
    rows = across_accelerators(plan, load_prices(args.prices))
    if not rows:
        raise UsageError(f"{args.spec} has no train step to cost")
    if args.json:
        print(json.dumps([{"step": step, **e.to_json()} for step, _, e in rows], indent=2))
        return 0
    table = Table(title=f"{plan.experiment.name}: training cost per accelerator (6·N·D FLOPs), cheapest first")
    for column in ("step", "accelerator", "params", "tokens", "device-hours", "cost", "$ per M params"):
        table.add_column(column, justify="left" if column in ("step", "accelerator") else "right")
    for step, name, e in rows:
        table.add_row(
            step,
            name,
            f"{e.parameters:,}",
            f"{e.tokens:,}",
            format_duration(e.hours),
            f"${e.cost:,.4f}",
            f"${e.cost / e.parameters * 1e6:,.6f}",
        )
    Console(width=160).print(table)
    return 0


def _run(args: argparse.Namespace) -> int:

    plan = _plan(args, args.root)
    if args.dry_run:
        return _dry_run(plan)
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    from lmspec.runtime.progress import wants_live
    from lmspec.runtime.runner import describe, run_plan

    summary = run_plan(
        plan,
        args.spec,
        catalog_url=args.catalog,
        workers=args.workers,
        scheduler=_host_port(args.scheduler),
        force=tuple(args.force),
        live=wants_live(args.quiet) and args.workers == 1,
        allow_runner_processes=args.allow_runner_processes,
    )
    for line in describe(summary):
        print(line)
    return 0 if summary.ok else 1


def _dry_run(plan: Plan) -> int:
    """What `run` would execute: every step not cached, with its status when it is not plainly pending
    (`running` is being executed by another process, which this run would wait for)."""
    from lmspec.outputs.status import plan_statuses

    would_run = [(n, s) for n, s in plan_statuses(plan).items() if s != "cached"]
    listing = ", ".join(name if status == "pending" else f"{name} ({status})" for name, status in would_run)
    print(f"{len(plan.steps)} steps, {len(would_run)} would run: {listing or 'none'}")
    return 0


def _host_port(value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--scheduler wants HOST:PORT, e.g. 127.0.0.1:8082; got {value!r}")
    return host, int(port)


def _root(args: argparse.Namespace) -> str:
    from lmspec.compiler import default_root
    from lmspec.compiler.plan import normalize_root

    return normalize_root(args.root or default_root())


def _catalog_url(args: argparse.Namespace) -> str:
    from lmspec.catalog import default_catalog_url

    return str(args.catalog or default_catalog_url(_root(args)))


def _open_catalog(args: argparse.Namespace) -> Catalog:
    """The existing catalog the arguments name, with runs and steps that were killed marked `abandoned`."""
    from lmspec.catalog import Catalog, CatalogLocked, CatalogReadOnly
    from lmspec.catalog.database import sqlite_path
    from lmspec.catalog.recovery import abandon_orphans

    url = _catalog_url(args)
    path = sqlite_path(url)
    if path is not None and not Path(path).exists():
        raise UsageError(
            f"no catalog at {path}: run `lmspec run` first, `lmspec catalog rebuild` to re-create it from "
            "the outputs under the root, or point --root / --catalog at an existing one"
        )
    catalog = Catalog(url).open(create=False)
    # A catalog this process cannot write is still worth reading: its records are then shown as stored.
    with contextlib.suppress(CatalogLocked, CatalogReadOnly):
        abandon_orphans(catalog)
    return catalog


def _rebuild(args: argparse.Namespace) -> int:
    from lmspec.catalog import Catalog
    from lmspec.catalog.recovery import rebuild
    from lmspec.compiler.plan import is_url

    root = _root(args)
    if is_url(root) or not Path(root).is_dir():
        raise UsageError(f"no local root at {root}: give the folder `lmspec run` wrote to with --root")
    catalog = Catalog(_catalog_url(args)).open()
    done = rebuild(catalog, Path(root))
    print(f"recorded {len(done.recorded)} outputs of {root} in {catalog} ({done.present} were there already)")
    for output, why in done.unreadable.items():
        print(f"skipped {output}: {why}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from lmspec.catalog.report import LABEL_COLUMNS, build_report, write_report

    plan = _plan(args, args.root)
    report = build_report(plan, _open_catalog(args))
    table = Table(title=f"{report.experiment}: evaluations")
    for column in report.header:
        table.add_column(column, justify="left" if column in LABEL_COLUMNS else "right")
    for row in report.rows:
        table.add_row(*report.cells(*row))
    Console(width=200).print(table)
    folder = args.output or Path(plan.root) / "reports" / plan.experiment.name
    paths = write_report(report, folder)
    print(f"report: {paths['html']}  (also {', '.join(str(p) for k, p in paths.items() if k != 'html')})")
    return 0


def _diff(args: argparse.Namespace) -> int:
    from lmspec.compiler import compile_spec
    from lmspec.compiler.budget import budget_use
    from lmspec.compiler.diff import diff_plans
    from lmspec.compiler.diff_render import render_diff
    from lmspec.compiler.estimates import train_estimates
    from lmspec.compiler.hardware import load_prices
    from lmspec.compiler.revisions import spec_at_revision
    from lmspec.outputs.status import plan_statuses

    if len(args.specs) != (1 if args.against else 2):
        raise UsageError("give BASE HEAD, or one SPEC with --against REV")
    head_path = args.specs[-1]
    head = compile_spec(head_path, args.root, tuple(args.overrides))
    if args.against:
        with spec_at_revision(head_path, args.against) as old:
            base = compile_spec(old, args.root, tuple(args.overrides), data_dir=head_path.resolve().parent)
        base = dataclasses.replace(base, spec_file=f"{head_path}@{args.against}")
    else:
        base = compile_spec(args.specs[0], args.root, tuple(args.overrides))
    prices = load_prices(args.prices)
    plan_diff = diff_plans(base, head, train_estimates(head, prices), plan_statuses(head), budget_use(head, prices))
    print(render_diff(plan_diff, args.format))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from lmspec.compiler.rewrite import rewrite

    changed = 0
    for path in _spec_files(args.specs):
        done = rewrite(path, write=not args.dry_run)
        if done.diff:
            changed += 1
            sys.stdout.write(done.diff)
    verb = "would change" if args.dry_run else "changed"
    print(f"{changed} spec{'s' * (changed != 1)} {verb}; the others are at the current spec version")
    return 0


def _explain(args: argparse.Namespace) -> int:
    from lmspec.catalog.explain import explain

    plan = _plan(args, args.root)
    if args.step not in {s.name for s in plan.steps}:
        raise UsageError(f"{args.spec} has no step `{args.step}`; steps: {', '.join(s.name for s in plan.steps)}")
    for line in explain(plan, args.step, _open_catalog(args)):
        print(line)
    return 0


def _catalog(args: argparse.Namespace) -> int:
    from lmspec.catalog.lineage import lineage_tree, render_tree

    catalog = _open_catalog(args)
    if args.catalog_command == "ls":
        records = catalog.artifacts()
        if args.json:
            print(json.dumps([r.to_json() for r in records], indent=2))
        else:
            for r in records:
                print(f"{r.step_name:<24} {r.kind:<16} {r.hash}  {r.status:<9} {r.experiment:<24} {r.output_path}")
        return 0
    record = catalog.find(args.key)
    if record is None:
        raise UsageError(f"no artifact matches `{args.key}` in {catalog.url}")
    if args.catalog_command == "show":  # with its per-step series (a train step's loss curve), if any
        print(json.dumps({**record.to_json(), "series": catalog.series(record.output_path)}, indent=2))
        return 0
    tree = lineage_tree(catalog, record)
    if args.json:
        print(json.dumps(tree, indent=2))
    else:
        from rich.console import Console

        Console(width=200).print(render_tree(tree))
    return 0


def _schema(args: argparse.Namespace) -> int:
    from lmspec.schemas.json_schema import SCHEMA_FILES, schema_text

    if str(args.output) == "-":
        sys.stdout.write(schema_text("partial" if args.partial else "strict"))
        return 0
    stale = []
    for variant, name in SCHEMA_FILES.items():
        path, text = args.output / name, schema_text(variant)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if args.check:
            stale += [path] if current != text else []
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    if stale:
        print(f"stale: {', '.join(map(str, stale))}: run `lmspec schema` and commit the result", file=sys.stderr)
        return 1
    if args.check:
        print(f"{args.output}/ is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
