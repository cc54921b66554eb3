"""Commands that read (or re-create) the catalog: catalog ls/show/lineage/rebuild, browse, site."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lmspec.cli.options import add_root_options, catalog_url, open_catalog, output_root
from lmspec.errors import UsageError


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        add_root_options(query)
        query.add_argument("--json", action="store_true", help="machine-readable output")
        query.set_defaults(handler=_query)
    rebuild = catalog_commands.add_parser(
        "rebuild", help="re-create the catalog's records from the outputs under the root (their lmspec-step.json)"
    )
    add_root_options(rebuild)
    rebuild.set_defaults(handler=_rebuild)

    browse = commands.add_parser("browse", help="the experiment and data browser: a read-only web app")
    add_root_options(browse)
    browse.add_argument("--host", help="address to listen on (default 127.0.0.1: this machine only)")
    browse.add_argument("--port", type=int, help="port to listen on (default 8765; 0 picks a free one)")
    browse.set_defaults(handler=_browse)

    site = commands.add_parser("site", help="write the browser's pages as a static site (data samples bounded)")
    site.add_argument("output", type=Path, metavar="OUT", help="folder for the site (index.html, static/, ...)")
    add_root_options(site)
    site.set_defaults(handler=_site)


def _query(args: argparse.Namespace) -> int:
    """`lmspec catalog ls|show|lineage`."""
    from lmspec.catalog.lineage import lineage_tree, render_tree

    catalog = open_catalog(args)
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


def _rebuild(args: argparse.Namespace) -> int:
    from lmspec.catalog import Catalog
    from lmspec.catalog.recovery import rebuild
    from lmspec.compiler.plan import is_url

    root = output_root(args)
    if is_url(root) or not Path(root).is_dir():
        raise UsageError(f"no local root at {root}: give the folder `lmspec run` wrote to with --root")
    catalog = Catalog(catalog_url(args)).open()
    done = rebuild(catalog, Path(root))
    print(f"recorded {len(done.recorded)} outputs of {root} in {catalog} ({done.present} were there already)")
    for output, why in done.unreadable.items():
        print(f"skipped {output}: {why}")
    return 0


def _browse(args: argparse.Namespace) -> int:
    from lmspec.browser.context import Browser
    from lmspec.browser.server import DEFAULT_HOST, DEFAULT_PORT, address, bind, serve

    browser = Browser.open(output_root(args), args.catalog)
    sock = bind(args.host or DEFAULT_HOST, DEFAULT_PORT if args.port is None else args.port)
    print(f"lmspec browse: {address(sock)} (read-only; Ctrl-C stops)", flush=True)
    serve(browser, sock)
    return 0


def _site(args: argparse.Namespace) -> int:
    from lmspec.browser.context import Browser
    from lmspec.browser.site import write_site

    count = write_site(Browser.open(output_root(args), args.catalog), args.output)
    print(f"wrote {count} pages: {args.output / 'index.html'}")
    return 0
