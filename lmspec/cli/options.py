"""What several commands share: --set/--unset, --only/--until, --root/--catalog, spec file discovery,
compiling the command's plan and opening its catalog."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from lmspec.errors import SpecError, UsageError

if TYPE_CHECKING:
    from lmspec.catalog import Catalog
    from lmspec.compiler.overrides import Override
    from lmspec.compiler.plan import Plan


def add_override_options(parser: argparse.ArgumentParser) -> None:
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


def add_selection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--only", nargs="+", default=[], metavar="STEP", help="only these steps (names or globs) and what they need"
    )
    parser.add_argument("--until", nargs="+", default=[], metavar="STEP", help="these steps and everything upstream")


def add_root_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", help="output root (default: $LMSPEC_ROOT or ./lmspec-runs)")
    parser.add_argument("--catalog", metavar="URL", help="SQLAlchemy URL (default: sqlite:///<root>/catalog.sqlite)")


def compile_plan(args: argparse.Namespace, root: str | None) -> Plan:
    """Compile the command's spec with its overrides, cut to `--only`/`--until` where the command has them."""
    from lmspec.compiler import compile_spec
    from lmspec.compiler.plan import select

    plan = compile_spec(args.spec, root, tuple(args.overrides))
    return select(plan, tuple(getattr(args, "only", ())), tuple(getattr(args, "until", ())))


def spec_files(paths: list[Path]) -> list[Path]:
    """The spec files the command names: files as given, directories searched for *.toml, *.yaml, *.yml."""
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


def output_root(args: argparse.Namespace) -> str:
    """`--root`, else $LMSPEC_ROOT, else ./lmspec-runs; normalized."""
    from lmspec.compiler import default_root
    from lmspec.compiler.plan import normalize_root

    return normalize_root(args.root or default_root())


def catalog_url(args: argparse.Namespace) -> str:
    """`--catalog`, else the SQLite catalog under the output root."""
    from lmspec.catalog import default_catalog_url

    return str(args.catalog or default_catalog_url(output_root(args)))


def open_catalog(args: argparse.Namespace) -> Catalog:
    """The existing catalog the arguments name, with runs and steps that were killed marked `abandoned`."""
    from lmspec.catalog import Catalog, CatalogLocked, CatalogReadOnly
    from lmspec.catalog.database import sqlite_path
    from lmspec.catalog.recovery import abandon_orphans

    url = catalog_url(args)
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
