"""Commands that read specs and run nothing: validate, compile, cost, diff, migrate, schema."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from lmspec.cli.options import add_override_options, add_selection_options, compile_plan, spec_files
from lmspec.errors import Diagnostic, SpecError, UsageError

SCHEMA_DIR = Path("schemas")
PRICES_HELP = "TOML price/throughput overrides per accelerator (default: $LMSPEC_PRICES, else the built-in table)"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from lmspec.compiler.render import FORMATS

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
    add_override_options(validate)
    validate.set_defaults(handler=_validate)

    compile_ = commands.add_parser("compile", help="show the plan: steps, hashes, output paths, statuses")
    compile_.add_argument("spec", type=Path, metavar="SPEC")
    compile_.add_argument("--format", choices=FORMATS, default="text")
    compile_.add_argument("--root", help="output root, a directory or URL (default: $LMSPEC_ROOT or ./lmspec-runs)")
    compile_.add_argument("--prices", metavar="TOML", help=PRICES_HELP)
    add_override_options(compile_)
    add_selection_options(compile_)
    compile_.set_defaults(handler=_compile)

    cost = commands.add_parser("cost", help="what each train step costs on every accelerator, cheapest first")
    cost.add_argument("spec", type=Path, metavar="SPEC")
    cost.add_argument("--prices", metavar="TOML", help=PRICES_HELP)
    cost.add_argument("--json", action="store_true", help="machine-readable output")
    cost.set_defaults(handler=_cost)

    diff = commands.add_parser("diff", help="what a spec change re-runs, reuses and costs (a plan for review)")
    diff.add_argument("specs", nargs="+", type=Path, metavar="SPEC", help="BASE HEAD, or one SPEC with --against")
    diff.add_argument("--against", metavar="REV", help="compare SPEC with itself at this git revision")
    diff.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    diff.add_argument("--root", help="output root whose outputs count as cached (default: $LMSPEC_ROOT)")
    diff.add_argument("--prices", metavar="TOML", help=PRICES_HELP)
    add_override_options(diff)
    diff.set_defaults(handler=_diff)

    migrate = commands.add_parser("migrate", help="rewrite specs to the current spec version, keeping comments")
    migrate.add_argument("specs", nargs="+", type=Path, metavar="SPEC", help="spec files or directories")
    migrate.add_argument("--dry-run", action="store_true", help="show the diff, write nothing")
    migrate.set_defaults(handler=_migrate)

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


def print_diagnostics(diagnostics: list[Diagnostic], style: str, stream: object) -> None:
    for diagnostic in diagnostics:
        print(diagnostic.format(style), file=stream)  # type: ignore[call-overload]


def summary(errors: int, bad_files: int, files: int) -> str:
    return f"{errors} error{'s' if errors != 1 else ''} in {bad_files} of {files} spec{'s' if files != 1 else ''}"


def _validate(args: argparse.Namespace) -> int:
    from lmspec.compiler import check
    from lmspec.compiler.sources import display_path

    files = spec_files(args.specs)
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
    print_diagnostics(diagnostics, args.format, sys.stdout)
    if diagnostics:
        print(summary(len(diagnostics), bad_files, len(files)))
        return 1
    print(f"{len(files)} spec{'s' if len(files) != 1 else ''} valid")
    return 0


def _compile(args: argparse.Namespace) -> int:
    from lmspec.compiler.hardware import load_prices
    from lmspec.compiler.render import render, text_tree
    from lmspec.outputs.status import plan_statuses

    plan = compile_plan(args, args.root)
    prices = load_prices(args.prices)
    statuses = plan_statuses(plan)
    if args.format == "text" and sys.stdout.isatty():
        from rich.console import Console

        Console().print(text_tree(plan, statuses, prices))
    else:
        print(render(plan, args.format, statuses, prices))
    from lmspec.compiler.eval_data import evaluation_warnings

    for warning in evaluation_warnings(plan):
        print(f"lmspec: warning: {warning}", file=sys.stderr)
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
    for path in spec_files(args.specs):
        done = rewrite(path, write=not args.dry_run)
        if done.diff:
            changed += 1
            sys.stdout.write(done.diff)
    verb = "would change" if args.dry_run else "changed"
    print(f"{changed} spec{'s' * (changed != 1)} {verb}; the others are at the current spec version")
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
