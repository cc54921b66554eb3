"""The board's figure: held-out bits-per-byte against training FLOPs (log x), each submission labelled, with
its stderr as an error bar, the Pareto frontier drawn as a step line through the submissions on it, and the
track's FLOPs budget as a vertical line."""

from __future__ import annotations

from pathlib import Path

from lmspec.catalog.plots import pyplot, save_figure  # the Agg backend, once for every figure of lmspec
from lmspec.speedrun.board import Board


def plot_board(board: Board, path: Path) -> None:
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    for row in board.rows:
        r = row.results
        colour = "C2" if row.frontier else "C7"
        axes.errorbar(r.flops, r.bits_per_byte, yerr=r.bits_per_byte_stderr, fmt="o", color=colour, capsize=3, zorder=3)
        axes.annotate(
            r.submission.name, (r.flops, r.bits_per_byte), textcoords="offset points", xytext=(6, 6), fontsize=9
        )
    frontier = sorted((row.results.flops, row.results.bits_per_byte) for row in board.rows if row.frontier)
    if board.budget is not None:
        axes.axvline(board.budget, color="C3", linestyle="--", linewidth=1, label=f"budget ({board.budget:.1e} FLOPs)")
    if frontier:
        axes.step(*zip(*frontier, strict=True), where="post", color="C2", linewidth=1.2, label="Pareto frontier")
    if board.budget is not None or frontier:
        axes.legend(fontsize="small")
    axes.set(
        xscale="log",
        xlabel="training FLOPs (6·N·D)",
        ylabel="held-out bits per byte (lower is better)",
        title=f"Speedrun, {board.track} track",
    )
    axes.margins(x=0.25, y=0.2)
    axes.grid(alpha=0.3, which="both")
    save_figure(plt, figure, path)
