"""The `lmspec` command: parse arguments, call the compiler, map errors to exit codes.

Exit codes: 0 success, 1 invalid spec (or a failed step), 2 usage error. A bad
spec never prints a traceback; `--debug` shows one for lmspec's own bugs.

Each command module (`specs`, `runs`, `catalog`) registers its subcommands with `add_commands`;
`options` holds what they share. Handlers import heavy modules inside themselves, so that
`lmspec validate` starts without loading an engine.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

# pydantic scans every installed distribution's entry points for plugins at first use; with the
# engines installed that is ~200 dist-infos read on each start. lmspec uses no pydantic plugin.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import lmspec.cli.catalog
import lmspec.cli.runs
import lmspec.cli.specs
import lmspec.cli.speedrun
from lmspec.cli.specs import print_diagnostics, summary
from lmspec.errors import LmspecError, SpecError

__all__ = ["main"]


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
        print_diagnostics(exc.diagnostics, "text", sys.stderr)
        print(summary(len(exc.diagnostics), 1, 1), file=sys.stderr)
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
    parser = argparse.ArgumentParser(prog="lmspec", description="Declarative language-model experiments.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (lmspec.cli.specs, lmspec.cli.runs, lmspec.cli.catalog, lmspec.cli.speedrun):
        module.add_commands(commands)
    return parser
