"""The report's figures: training and validation loss curves, and loss against compute with a power law.

The scaling figure is drawn when the compared models span at least three training budgets (FLOPs =
6 * parameters * tokens, the usual dense-transformer estimate): each model's final loss (validation
where it was measured, else training) against its FLOPs on log-log axes, with the least-squares line
log L = log a + b log C, i.e. L = a * C^b. Three points are the least that leave a fit anything to fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

Curve = list[tuple[int, float]]
MIN_SCALING_POINTS = 3


@dataclass(frozen=True)
class ScalingPoint:
    """One trained model: its size, its tokens, and the loss it ended at."""

    model: str
    parameters: int
    tokens: int
    loss: float
    validation: bool
    """True when `loss` is the validation loss, False for the training loss."""

    @property
    def flops(self) -> float:
        return 6.0 * self.parameters * self.tokens


@dataclass(frozen=True)
class PowerLaw:
    """L = coefficient * C^exponent, fitted on log-log axes."""

    coefficient: float
    exponent: float
    points: int

    def __call__(self, flops: np.ndarray) -> np.ndarray:
        return self.coefficient * flops**self.exponent

    def describe(self) -> str:
        return f"L ≈ {self.coefficient:.3g} · C^{self.exponent:.3f} (fit over {self.points} models)"


def fit_power_law(points: list[ScalingPoint]) -> PowerLaw | None:
    """The least-squares power law through the points, or None with fewer than three training budgets."""
    if len({p.flops for p in points}) < MIN_SCALING_POINTS:
        return None
    slope, intercept = np.polyfit([math.log(p.flops) for p in points], [math.log(p.loss) for p in points], 1)
    return PowerLaw(math.exp(float(intercept)), float(slope), len(points))


def plot_curves(curves: dict[str, dict[str, Curve]], path: Path, title: str) -> None:
    """Each model's training loss (solid) and validation loss (dashed, dots) in one colour per model."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=120)
    for index, (name, series) in enumerate(sorted(curves.items())):
        colour = f"C{index % 10}"
        if train := series.get("loss"):
            axes.plot(*zip(*train, strict=True), color=colour, linewidth=1.2, label=f"{name} train")
        if validation := series.get("eval_loss"):
            axes.plot(*zip(*validation, strict=True), "--o", color=colour, markersize=4, label=f"{name} validation")
    axes.set(xlabel="step", ylabel="loss (nats/token)", title=f"{title}: training and validation loss")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    save_figure(plt, figure, path)


def plot_scaling(points: list[ScalingPoint], law: PowerLaw, path: Path, title: str) -> None:
    """Final loss against training FLOPs, log-log, with the fitted power law."""
    plt = pyplot()
    from matplotlib.ticker import ScalarFormatter

    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    for point in points:
        axes.scatter(point.flops, point.loss, zorder=3)
        axes.annotate(point.model, (point.flops, point.loss), textcoords="offset points", xytext=(4, 4), fontsize=8)
    span = np.geomspace(min(p.flops for p in points), max(p.flops for p in points), 50)
    axes.plot(span, law(span), "k--", linewidth=1, label=law.describe())
    kind = "validation" if all(p.validation for p in points) else "final"
    axes.set(xscale="log", yscale="log", xlabel="training FLOPs (6·N·D)", ylabel=f"{kind} loss", title=title)
    for formatter in (axes.yaxis.set_major_formatter, axes.yaxis.set_minor_formatter):
        formatter(ScalarFormatter())  # losses span less than a decade: plain numbers, not 2.4 x 10^0
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize="small")
    save_figure(plt, figure, path)


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend: every figure lmspec draws (reports, the speedrun board)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def save_figure(plt: Any, figure: Any, path: Path) -> None:
    """Write `figure` to `path` and free it (pyplot keeps every open figure otherwise)."""
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
