"""What a valid spec is: pydantic models with no I/O and no heavy imports."""

from lmspec.schemas.base import OutputKind, SpecModel, StepBase, is_execution_only
from lmspec.schemas.experiment import ExperimentHeader, ExperimentSpec, experiment_model, step_union
from lmspec.schemas.kinds import step_kind, step_kinds

__all__ = [
    "ExperimentHeader",
    "ExperimentSpec",
    "OutputKind",
    "SpecModel",
    "StepBase",
    "experiment_model",
    "is_execution_only",
    "step_kind",
    "step_kinds",
    "step_union",
]
