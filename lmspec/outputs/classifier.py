"""A classifier output (train_classifier): one fastText model file."""

from __future__ import annotations

from pathlib import Path

from lmspec.outputs.base import Output

CLASSIFIER_FILE = "model.bin"


class Classifier(Output):
    """A trained fastText classifier; built from a step output or, for a file path in the spec, the file itself."""

    kind = "classifier"

    @property
    def model_file(self) -> Path:
        """The fastText `.bin` to load: inside a step output, or the path itself when it names a file."""
        return self.path if self.path.is_file() else self.path / CLASSIFIER_FILE
