"""The whole spec file after expansion: `[experiment]`, `[vars]`, `[sweep]` and `[steps.*]`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from lmspec.schemas.base import EXPERIMENT_NAME_PATTERN, NAME_MAX_LENGTH, SpecModel, StepName
from lmspec.schemas.data import Dedup, Extract, Filter, Ingest, TrainClassifier
from lmspec.schemas.evaluation import Evaluate
from lmspec.schemas.training import Tokenize, Train, TrainTokenizer

Step = Annotated[
    Ingest | Extract | TrainClassifier | Filter | Dedup | TrainTokenizer | Tokenize | Train | Evaluate,
    Field(discriminator="kind"),
]
"""Any step, chosen by its `kind`."""

STEP_CLASSES: dict[str, type[SpecModel]] = {
    cls.model_fields["kind"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in (Ingest, Extract, TrainClassifier, Filter, Dedup, TrainTokenizer, Tokenize, Train, Evaluate)
}
"""Step kind name -> its model."""


class ExperimentHeader(SpecModel):
    """Who the experiment is and why it exists."""

    name: Annotated[str, StringConstraints(pattern=EXPERIMENT_NAME_PATTERN, max_length=NAME_MAX_LENGTH)]
    """Unique name in the catalog: lowercase letters, digits, `-` and `_`, starting with a letter or digit."""
    description: str = ""
    """What question the experiment answers."""
    issue: str | None = None
    """Link to the issue or preregistration that motivates it."""
    tags: list[str] = Field(default_factory=list)
    """Free-form labels for searching the catalog."""
    extends: list[str] = Field(default_factory=list)
    """Spec files deep-merged under this one, in order (paths relative to this file); this file wins."""


VarValue = str | int | float | bool | list[Any] | dict[str, Any]


class ExperimentSpec(SpecModel):
    """An lmspec experiment: named steps whose `@references` form a graph."""

    experiment: ExperimentHeader
    """The experiment's identity and metadata."""
    vars: dict[str, VarValue] = Field(default_factory=dict)
    """Constants substituted wherever `"${vars.NAME}"` appears; a whole-string reference keeps the value's type."""
    sweep: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(default_factory=dict)
    """Grid over dotted step fields, e.g. `"steps.model.optimizer.lr" = [1e-3, 3e-3]`: one step per point."""
    steps: dict[StepName, Step] = Field(min_length=1)
    """The steps, by name (`[a-z][a-z0-9_]*`)."""
