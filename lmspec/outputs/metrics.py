"""A metrics output (evaluate): every metric of one evaluation, and what lm-eval itself reported.

results.json   {"metrics": {"<tokens step>/bits_per_byte": ..., "<task>/acc": ..., ...}, "seconds": ...}
lm_eval.json   lm-eval's own per-task results, as it returned them (only when lm-eval ran)
tasks/         the offline tasks generated for this evaluation (the lmspec_cloze data and its YAML)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lmspec.outputs.base import Output

RESULTS_FILE = "results.json"
LM_EVAL_FILE = "lm_eval.json"
TASKS_DIR = "tasks"


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
        """lm-eval's per-task results; empty when the step ran no lm-eval task."""
        path = self.path / LM_EVAL_FILE
        return dict(json.loads(path.read_text())) if path.is_file() else {}

    @property
    def tasks_dir(self) -> Path:
        return self.path / TASKS_DIR


def write_lm_eval(output_dir: Path, results: dict[str, Any]) -> None:
    """lm-eval's results as it returned them (values it cannot serialise written as strings)."""
    (output_dir / LM_EVAL_FILE).write_text(json.dumps(results, indent=2, sort_keys=True, default=str))
