"""The whole spec file after expansion: `[experiment]`, `[vars]`, `[sweep]` and `[steps.*]`.

The step union is built from the registered kinds (`lmspec.schemas.kinds`), so a plugin's kind is
validated, hashed and shown in the JSON Schema exactly like a built-in one.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Union

from pydantic import Field, StringConstraints, create_model

from lmspec.schemas.base import EXPERIMENT_NAME_PATTERN, NAME_MAX_LENGTH, SpecModel, StepBase, StepName
from lmspec.schemas.kinds import step_kinds

SPEC_VERSION = 2
"""The spec language's version; `lmspec.compiler.migrations` upgrades older specs (in memory, or in place
with `lmspec migrate`)."""


class Budget(SpecModel):
    """Any subset of limits on the plan's estimated training cost (6·N·D FLOPs on each step's `resources`)."""

    usd: float | None = Field(default=None, gt=0)
    """Dollars, at the price table's on-demand prices (`lmspec compile --prices` / `$LMSPEC_PRICES`)."""
    gpu_hours: float | None = Field(default=None, gt=0)
    """Accelerator-hours (GPU or TPU devices x hours; CPU steps count none)."""
    flops: float | None = Field(default=None, gt=0)
    """Training FLOPs."""


class WandbConfig(SpecModel):
    """Where `lmspec run` logs the experiment in Weights & Biases (`WANDB_MODE=offline` keeps it on disk)."""

    project: str = Field(min_length=1)
    """The W&B project."""
    entity: str | None = None
    """The W&B team or user; None: your default entity."""


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
    wandb: WandbConfig | None = None
    """Log training curves, evaluation results and the spec to Weights & Biases: one run per trained model,
    grouped by experiment. None: no W&B."""
    spec_version: int = Field(default=SPEC_VERSION, ge=1, le=SPEC_VERSION)
    """The spec language version the file is written in; older ones are migrated (`lmspec migrate`)."""
    budget: Budget | None = None
    """Limits on what the plan's training may cost; `validate` and `compile` fail when an estimate exceeds one."""


class SpeedrunEntry(SpecModel):
    """A speedrun submission (`lmspec speedrun check|run|board`): the track it competes on and who submits it.
    Not part of any step's hash: renaming a submission never retrains it."""

    track: str = Field(min_length=1)
    """The track (`tiny`, `150m`, `1b`): it fixes the data, the held-out evaluation, the FLOPs budget and the
    hardware class."""
    name: Annotated[str, StringConstraints(pattern=EXPERIMENT_NAME_PATTERN, max_length=NAME_MAX_LENGTH)]
    """The submission's name on the board: lowercase letters, digits, `-` and `_`."""
    author: str = Field(min_length=1)
    """Who submits it (a name or a handle)."""
    description: str = Field(min_length=1)
    """What the submission changes, in a sentence."""
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")] | None = None
    """A link to the write-up or pull request (http or https: the board links it); None: none."""


VarValue = str | int | float | bool | list[Any] | dict[str, Any]


class ExperimentSpec(SpecModel):
    """An lmspec experiment: named steps whose `@references` form a graph."""

    experiment: ExperimentHeader
    """The experiment's identity and metadata."""
    vars: dict[str, VarValue] = Field(default_factory=dict)
    """Constants substituted wherever `"${vars.NAME}"` appears; a whole-string reference keeps the value's type."""
    sweep: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(default_factory=dict)
    """Grid over dotted step fields, e.g. `"steps.model.optimizer.lr" = [1e-3, 3e-3]`: one step per point."""
    steps: dict[StepName, StepBase] = Field(min_length=1)
    """The steps, by name (`[a-z][a-z0-9_]*`)."""
    speedrun: SpeedrunEntry | None = None
    """Makes the spec a speedrun submission on a track; None: an ordinary experiment."""


STEPS_DOC = "The steps, by name (`[a-z][a-z0-9_]*`)."


def step_union() -> Any:
    """Any registered step, chosen by its `kind`."""
    return _union(tuple(step_kinds().values()))


def experiment_model() -> type[ExperimentSpec]:
    """`ExperimentSpec` with `steps` typed as the union of every registered kind (built-ins and plugins)."""
    return _experiment_model(tuple(step_kinds().values()))


@functools.cache
def _union(classes: tuple[type[StepBase], ...]) -> Any:
    return Annotated[Union[classes], Field(discriminator="kind")]  # noqa: UP007 (a union built from a tuple)


@functools.cache
def _experiment_model(classes: tuple[type[StepBase], ...]) -> type[ExperimentSpec]:
    step: Any = _union(classes)
    steps: Any = (dict[StepName, step], Field(min_length=1, description=STEPS_DOC))
    return create_model("ExperimentSpec", __base__=ExperimentSpec, __doc__=ExperimentSpec.__doc__, steps=steps)
