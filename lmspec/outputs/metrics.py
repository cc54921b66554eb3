"""A metrics output (evaluate): every metric of one evaluation, its per-item scores, and lm-eval's own report.

results.json        {"metrics": {"<set>/bits_per_byte": ..., "<task>/acc": ..., ...}, "seconds": ...}
items/<name>.jsonl  per-item scores of one perplexity set or task, one JSON object a line:
                    {"id": ..., "<score>": value, ...}: a document's log-probability, bytes and tokens, or
                    a task example's per-metric values. Two evaluations on the same items are compared
                    item by item (paired tests) through these.
lm_eval.json        lm-eval's own report: per-task results, shots, versions (only when lm-eval ran)
tasks/              the offline tasks generated for this evaluation (the lmspec_cloze data and its YAML)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lmspec.outputs.base import Output

RESULTS_FILE = "results.json"
LM_EVAL_FILE = "lm_eval.json"
TASKS_DIR = "tasks"
ITEMS_DIR = "items"
STDERR_SUFFIX = "_stderr"
"""A metric's standard error is the metric named `<metric>_stderr`."""

ItemScores = dict[str, dict[str, float]]
"""Item id -> score name -> value, for one perplexity set or task."""


@dataclass(frozen=True)
class EvaluationResults:
    """`results.json`: metric name -> value (stderrs are metrics named `<metric>_stderr`), and the time taken."""

    metrics: dict[str, float]
    seconds: float

    def write(self, output_dir: Path) -> None:
        (output_dir / RESULTS_FILE).write_text(json.dumps(asdict(self), indent=2, sort_keys=True))


class Metrics(Output):
    """An evaluate output."""

    kind = "metrics"

    def results(self) -> EvaluationResults:
        data = json.loads((self.path / RESULTS_FILE).read_text())
        return EvaluationResults(metrics=data["metrics"], seconds=data["seconds"])

    def lm_eval(self) -> dict[str, Any]:
        """lm-eval's report (`results`, `n-shot`, `versions`, ...); empty when the step ran no lm-eval task."""
        path = self.path / LM_EVAL_FILE
        return dict(json.loads(path.read_text())) if path.is_file() else {}

    def items(self, name: str) -> ItemScores | None:
        """Per-item scores of a perplexity set or task; None when this output has none (written before
        lmspec kept them, or a name it did not evaluate)."""
        path = _items_file(self.path, name)
        if not path.is_file():
            return None
        rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line)
        return {str(row.pop("id")): row for row in rows}

    @property
    def tasks_dir(self) -> Path:
        return self.path / TASKS_DIR


def write_items(output_dir: Path, name: str, scores: Iterable[tuple[str, dict[str, float]]]) -> None:
    """Per-item scores of one perplexity set or task, in item order."""
    path = _items_file(output_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for item_id, values in scores:
            f.write(json.dumps({"id": item_id, **values}, sort_keys=True) + "\n")


def _items_file(folder: Path, name: str) -> Path:
    """Task names may hold characters a file name should not (`group::task`)."""
    return folder / ITEMS_DIR / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".jsonl")


def write_lm_eval(output_dir: Path, report: dict[str, Any]) -> None:
    """lm-eval's report as it returned it (values it cannot serialise written as strings)."""
    (output_dir / LM_EVAL_FILE).write_text(json.dumps(report, indent=2, sort_keys=True, default=str))
