"""What an executor receives (the validated step, its inputs as typed outputs, where to write) and returns."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmspec.compiler.plan import StepPlan
from lmspec.errors import LmspecError
from lmspec.outputs.base import Output
from lmspec.schemas.base import StepBase, is_ref, ref_name


@dataclass(frozen=True)
class StepContext[S: StepBase]:
    """One step's execution: read inputs with `input`, write everything under `output_dir`, log to `log`.

    `spec` is the step's validated model, typed for the executor (`StepContext[Dedup]`); `output_dir`
    is a temporary sibling of the final output path, which the runtime renames into place and marks
    complete only after the executor returns.
    """

    step: StepPlan
    spec: S
    input_kinds: dict[str, str]
    """Input step name -> the output kind its schema declares (checked by `input`)."""
    inputs: dict[str, Path]
    """Input step name -> its completed output directory."""
    output_dir: Path
    spec_dir: Path
    """Directory of the spec file: relative paths in the config are relative to it."""
    log: logging.Logger
    resume_dir: Path
    """Beside the output, kept across failed or killed attempts (checkpoints to resume from); removed once
    the step succeeds, and cleared when the step is forced."""

    def input[O: Output](self, reference: str, output: type[O]) -> O:
        """The output of the step `reference` (`"@name"`) names, read as `output` (`Documents`, ...)."""
        name = ref_name(reference)
        if name not in self.inputs:
            raise LmspecError(f"step {self.step.name}: `{reference}` is not one of its inputs ({sorted(self.inputs)})")
        if self.input_kinds[name] != output.kind:
            raise LmspecError(
                f"step {self.step.name}: `{reference}` produces {self.input_kinds[name]}, not {output.kind}"
            )
        return output(self.inputs[name])

    def local_path(self, value: str) -> Path:
        """A path written in the spec, relative to the spec file unless absolute."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.spec_dir / path

    def input_or_path[O: Output](self, value: str, output: type[O]) -> O:
        """A field that takes a step reference or a local path (a tokenizer, a classifier): either, typed."""
        return self.input(value, output) if is_ref(value) else output(self.local_path(value))


@dataclass
class StepResult:
    """Counts (documents in/out, tokens, ...) and metrics (loss, bpb, ...) recorded in the catalog."""

    counts: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    series: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    """Per-step values (loss curve, learning rate, throughput), stored in the catalog's series table."""
