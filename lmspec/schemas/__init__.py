"""What a valid spec is: pydantic models with no I/O and no heavy imports."""

from lmspec.schemas.base import OUTPUT_KIND_PHRASES, OutputKind, SpecModel, StepBase, is_execution_only
from lmspec.schemas.experiment import STEP_CLASSES, ExperimentHeader, ExperimentSpec, Step

__all__ = [
    "OUTPUT_KIND_PHRASES",
    "STEP_CLASSES",
    "ExperimentHeader",
    "ExperimentSpec",
    "OutputKind",
    "SpecModel",
    "Step",
    "StepBase",
    "is_execution_only",
]
