"""Chart data: score histograms drawn as server-side SVG, and curves handed to uPlot as JSON.

Histograms are static pictures (bars of kept and dropped documents, a line per threshold), so they are
drawn by the template from the geometry computed here. Curves are interactive (zoom, hover values, series
toggles): uPlot wants one shared x array with a y array per series, null where a series has no point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

HISTOGRAM_WIDTH = 360
HISTOGRAM_HEIGHT = 120
BINS = 30


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    kept: float
    """Height of the kept part, in pixels."""
    dropped: float
    label: str
    """`[low, high): kept N, dropped M`, shown on hover."""


@dataclass(frozen=True)
class Histogram:
    bars: list[Bar]
    thresholds: list[tuple[str, float, float]]
    """(field, value, x in pixels) of each bound inside the plotted range."""
    low: float
    high: float
    seen: int
    width: int = HISTOGRAM_WIDTH
    height: int = HISTOGRAM_HEIGHT


def histogram(scores: np.ndarray, dropped: np.ndarray, thresholds: list[tuple[str, float]]) -> Histogram:
    """Bars of the non-NaN `scores`, each split into kept and `dropped` documents, with the thresholds marked."""
    seen = ~np.isnan(scores)
    values, lost = scores[seen].astype(np.float64), dropped[seen]
    if values.size == 0:
        return Histogram([], [], 0.0, 0.0, 0)
    low, high = float(values.min()), float(values.max())
    bounds = [value for _, value in thresholds if math.isfinite(value)]
    low, high = min([low, *bounds]), max([high, *bounds])
    if high <= low:
        high = low + 1.0
    edges = np.linspace(low, high, BINS + 1)
    kept_counts, _ = np.histogram(values[~lost], bins=edges)
    dropped_counts, _ = np.histogram(values[lost], bins=edges)
    tallest = max(1, int((kept_counts + dropped_counts).max()))
    scale, step = HISTOGRAM_HEIGHT / tallest, HISTOGRAM_WIDTH / BINS
    bars = [
        Bar(
            x=i * step,
            width=step - 1,
            kept=float(kept) * scale,
            dropped=float(gone) * scale,
            label=f"[{edges[i]:.4g}, {edges[i + 1]:.4g}): kept {kept}, dropped {gone}",
        )
        for i, (kept, gone) in enumerate(zip(kept_counts.tolist(), dropped_counts.tolist(), strict=True))
    ]
    marks = [(name, value, (value - low) / (high - low) * HISTOGRAM_WIDTH) for name, value in thresholds]
    return Histogram(bars, marks, low, high, int(values.size))


def aligned_series(curves: dict[str, list[tuple[int, float]]]) -> dict[str, Any]:
    """`{"x": steps, "series": [{"label", "values"}]}` with every series on the union of steps (None for gaps)."""
    steps = sorted({step for points in curves.values() for step, _ in points})
    series = []
    for label, points in curves.items():
        by_step = dict(points)
        series.append({"label": label, "values": [_finite(by_step.get(step)) for step in steps]})
    return {"x": steps, "series": series}


def _finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: a diverged loss is a gap in the curve."""
    return value if value is not None and math.isfinite(value) else None
