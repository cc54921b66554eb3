"""A classifier output (train_classifier): one fastText model file, and `stats.json` on how it was trained."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from lmspec.outputs.base import Output, without_timing

CLASSIFIER_FILE = "model.bin"
STATS_FILE = "stats.json"


@dataclass(frozen=True)
class ClassifierStats:
    """`stats.json`: the examples sampled per class and split, and the positive label's precision, recall
    and F1 on the validation split (absent when `validation_fraction` left none)."""

    positive: int
    negative: int
    train: int
    validation: int
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None

    def write(self, folder: Path) -> None:
        data = {key: value for key, value in asdict(self).items() if value is not None}
        (folder / STATS_FILE).write_text(json.dumps(data, indent=2, sort_keys=True))


class Classifier(Output):
    """A trained fastText classifier; built from a step output or, for a file path in the spec, the file itself."""

    kind = "classifier"

    @property
    def model_file(self) -> Path:
        """The fastText `.bin` to load (or save): inside a step output, or the path itself when it names a file."""
        return self.path if self.path.is_file() else self.path / CLASSIFIER_FILE

    def stats(self) -> ClassifierStats:
        """A train_classifier output's `stats.json`."""
        return ClassifierStats(**without_timing(json.loads((self.path / STATS_FILE).read_text())))
