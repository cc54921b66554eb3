"""`lmspec speedrun check|run|board`: budgeted training submissions on a fixed track, and their leaderboard."""

from __future__ import annotations

import argparse
from pathlib import Path

from lmspec.cli.options import add_root_options


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    speedrun = commands.add_parser(
        "speedrun", help="budgeted submissions on a fixed track (data, evaluation, FLOPs) and their leaderboard"
    )
    actions = speedrun.add_subparsers(dest="speedrun_command", required=True, metavar="ACTION")

    check = actions.add_parser("check", help="validate a submission against its track: budget, data, evaluation")
    check.add_argument("spec", type=Path, metavar="SPEC")
    check.set_defaults(handler=_check)

    run = actions.add_parser("run", help="check, train and evaluate a submission; write results.json beside it")
    run.add_argument("spec", type=Path, metavar="SPEC")
    add_root_options(run)
    run.add_argument("--quiet", action="store_true", help="one plain line per event instead of the live view")
    run.set_defaults(handler=_run)

    board = actions.add_parser(
        "board", help="verify every submission under DIR; write board.md, board.html and board.png"
    )
    board.add_argument("directory", type=Path, metavar="DIR", help="a track's folder of submissions")
    board.add_argument("--output", type=Path, help="where the board's files go (default: DIR)")
    board.set_defaults(handler=_board)


def _check(args: argparse.Namespace) -> int:
    from lmspec.compiler.budget import show
    from lmspec.speedrun.check import check_submission

    submission = check_submission(args.spec)
    estimate, budget = submission.estimate.estimate, submission.track.flops_budget
    print(
        f"{args.spec}: a valid submission to the {submission.track.name} track: "
        f"{estimate.active_parameters or estimate.parameters:,} parameters x {estimate.tokens:,} tokens = "
        f"{show('flops', estimate.flops)}, {estimate.flops / budget:.0%} of its {show('flops', budget)} budget"
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    from lmspec.runtime.progress import wants_live
    from lmspec.speedrun.results import read_results
    from lmspec.speedrun.run import run_submission

    path = run_submission(args.spec, args.root, args.catalog, live=wants_live(args.quiet))
    results = read_results(path.parent)
    print(
        f"{results.submission.name}: {results.bits_per_byte:.4f} ± {results.bits_per_byte_stderr:.4f} bits/byte "
        f"on the {results.track} track at {results.flops:.2e} FLOPs; results in {path}"
    )
    return 0


def _board(args: argparse.Namespace) -> int:
    from lmspec.speedrun.board import build_board
    from lmspec.speedrun.plot import plot_board
    from lmspec.speedrun.render import PLOT_FILE, html_page, markdown

    board = build_board(args.directory)
    output: Path = args.output or args.directory
    output.mkdir(parents=True, exist_ok=True)
    text = markdown(board)
    (output / "board.md").write_text(text, encoding="utf-8")
    (output / "board.html").write_text(html_page(board), encoding="utf-8")
    plot_board(board, output / PLOT_FILE)
    print(text, end="")
    print(f"board written to {output}/board.md, board.html and {PLOT_FILE}")
    return 1 if board.rejected else 0
