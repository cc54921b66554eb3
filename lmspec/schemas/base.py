"""Building blocks shared by every step kind: the strict model base, references, execution-only fields.

Field docstrings become JSON Schema descriptions (editors show them), so every
field carries one. Fields that say *how* a step runs rather than *what* it
computes are marked execution-only with `execution_only()`; the hasher reads
that marker and keeps them out of the step's identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, StringConstraints, model_serializer

IDENTITY_KEY = "identity"
"""The JSON Schema extra key that marks a field as left out of the step hash."""

REF_PREFIX = "@"
REF_PATTERN = r"^@[a-z][a-z0-9_]*$"
STEP_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
EXPERIMENT_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
NAME_MAX_LENGTH = 100

OutputKind = Literal["documents", "classifier", "tokenizer", "tokens", "model", "metrics"]
"""What a step produces; a reference field accepts only some output kinds."""

FieldPath = tuple[str | int, ...]
Problems = list[tuple[FieldPath, str]]
"""(field path, message) for each cross-field rule a step breaks."""

StepName = Annotated[str, StringConstraints(pattern=STEP_NAME_PATTERN, max_length=NAME_MAX_LENGTH)]


@dataclass(frozen=True)
class Ref:
    """Marks a string field as pointing at another step's output: `Annotated[str, Ref(("documents",))]`.

    The validator collects references from these markers (`lmspec.schemas.references`), so no step
    lists its own; it checks that the named step exists and produces one of `accepts`.
    `paths=True` lets the field hold a local path instead (a string not starting with `@`).
    """

    accepts: tuple[OutputKind, ...]
    paths: bool = False


@dataclass(frozen=True)
class RawInput:
    """Marks a string field as naming data read from outside the plan (a file, directory, glob or URL), whose
    content enters the step's identity (`lmspec.compiler.inputs`). `hub_when = (field, value)`: when the
    step's `field` equals `value`, a name that is no local path is a Hugging Face Hub dataset."""

    hub_when: tuple[str, str] | None = None


DocumentsRef = Annotated[str, StringConstraints(pattern=REF_PATTERN), Ref(("documents",))]
"""`"@step"`: a step that produces documents."""
TokensRef = Annotated[str, StringConstraints(pattern=REF_PATTERN), Ref(("tokens",))]
"""`"@step"`: a step that produces tokenized data."""
ModelRef = Annotated[str, StringConstraints(pattern=REF_PATTERN), Ref(("model",))]
"""`"@step"`: a step that produces a model checkpoint."""
DocumentsRefOrPath = Annotated[str, StringConstraints(min_length=1), Ref(("documents",), paths=True)]
"""`"@step"` producing documents, or a local JSONL file or glob."""
ClassifierRefOrPath = Annotated[str, StringConstraints(min_length=1), Ref(("classifier",), paths=True)]
"""`"@step"` producing a classifier, or a local fastText model file."""
TokenizerRefOrPath = Annotated[str, StringConstraints(min_length=1), Ref(("tokenizer",), paths=True)]
"""`"@step"` producing a tokenizer, or a local Hugging Face tokenizer directory."""

OUTPUT_NOUNS: dict[str, str] = {
    "documents": "documents",
    "classifier": "a classifier",
    "tokenizer": "a tokenizer",
    "tokens": "tokenized data",
    "model": "a model checkpoint",
    "metrics": "metrics",
}
"""How messages name each output kind; the kinds that produce it are listed after it."""


def execution_only(**field_kwargs: Any) -> Any:
    """A field that changes how a step runs, never what it produces: not part of the hash."""
    return Field(json_schema_extra={IDENTITY_KEY: False}, **field_kwargs)


IDENTITY_UNLESS_DEFAULT = "unless-default"


def added_later(**field_kwargs: Any) -> Any:
    """A field added after specs were written: hashed only when it differs from its default, so adding it
    changed no existing step's hash (a spec that does not use it means what it meant before)."""
    return Field(json_schema_extra={IDENTITY_KEY: IDENTITY_UNLESS_DEFAULT}, **field_kwargs)


def is_hashed_only_when_set(field_extra: Any) -> bool:
    """True for a field made with `added_later()`."""
    return isinstance(field_extra, dict) and field_extra.get(IDENTITY_KEY) == IDENTITY_UNLESS_DEFAULT


@cache
def _later_defaults(model: type[BaseModel]) -> dict[str, Any]:
    """Name -> default of a model's `added_later()` fields (read once per class)."""
    return {
        name: info.get_default(call_default_factory=True)
        for name, info in model.model_fields.items()
        if is_hashed_only_when_set(info.json_schema_extra)
    }


def is_execution_only(field_extra: Any) -> bool:
    """True when a field's `json_schema_extra` carries the execution-only marker."""
    return isinstance(field_extra, dict) and field_extra.get(IDENTITY_KEY) is False


class SpecModel(BaseModel):
    """Strict, frozen, closed: unknown keys are errors and no value is coerced from another type."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        validate_default=True,
        use_attribute_docstrings=True,
        defer_build=True,
        allow_inf_nan=False,
    )

    @model_serializer(mode="wrap")
    def _omit_later_defaults(self, handler: SerializerFunctionWrapHandler) -> Any:
        """A field made with `added_later()` is left out of dumps while at its default, as it is out of the hash:
        a spec that does not use it dumps (in plans, step records, golden files) what it dumped before."""
        data = handler(self)
        if isinstance(data, dict):
            for name, default in _later_defaults(type(self)).items():
                if name in data and getattr(self, name) == default:
                    del data[name]
        return data

    def identity_extra(self) -> dict[str, Any]:
        """Entries added to this model's canonical form (its hash) beside its fields: how a setting's meaning
        changed, for the specs that use it, without changing the hash of those that do not."""
        return {}

    def cross_field_errors(self) -> Problems:
        """Rules that involve several fields, as (field path relative to this model, message).

        Kept apart from pydantic validators so that every such problem is reported
        at the field it concerns, together with all the others, instead of
        aborting the model at its first broken rule.
        """
        return []


class SlurmOptions(SpecModel):
    """How `launcher = "slurm"` submits a step with `sbatch`. Execution-only."""

    partition: str | None = None
    """`--partition`; None: the cluster's default."""
    account: str | None = None
    """`--account` charged for the job."""
    time_limit: Annotated[str, StringConstraints(pattern=r"^[0-9]+([-:][0-9]+){0,3}$")] | None = None
    """`--time`, in Slurm's formats: `30` (minutes), `4:00:00`, `2-00:00:00`."""
    nodes: int = Field(default=1, ge=1)
    """Hosts of the job: a training step starts one MaxText process on each (`jax.distributed` over Slurm)."""
    tasks_per_node: int = Field(default=1, ge=1)
    """`--ntasks-per-node`: lmspec starts one process per host itself, so more only reserves more task slots."""
    gpus_per_node: int | None = Field(default=None, ge=1)
    """`--gpus-per-node`; None asks for no GPUs."""
    cpus_per_task: int | None = Field(default=None, ge=1)
    """`--cpus-per-task`; None: the cluster's default."""
    sbatch_flags: list[str] = Field(default_factory=list)
    """Further `sbatch` flags, each as one word, e.g. `["--qos=high", "--exclusive"]`, among `SBATCH_FLAGS`:
    a spec is data, so flags that would run other commands or write elsewhere (`--wrap`, `--output`, a
    script path, ...) are refused."""

    def cross_field_errors(self) -> Problems:
        return [
            (
                ("sbatch_flags", i),
                f"`{flag}` is not a flag lmspec passes to sbatch; use one of {', '.join(SBATCH_FLAGS)}",
            )
            for i, flag in enumerate(self.sbatch_flags)
            if flag.partition("=")[0] not in SBATCH_FLAGS
        ]


SBATCH_FLAGS = (
    "--qos",
    "--constraint",
    "--mem",
    "--mem-per-cpu",
    "--mem-per-gpu",
    "--gres",
    "--exclusive",
    "--reservation",
    "--comment",
    "--nice",
    "--licenses",
    "--exclude",
    "--nodelist",
    "--mail-type",
    "--mail-user",
    "--requeue",
    "--no-requeue",
    "--hint",
    "--switches",
)
"""The `sbatch` flags `sbatch_flags` may hold: where and with what a job runs, never what it runs or writes."""


class RayOptions(SpecModel):
    """How `launcher = "ray"` runs a step as a Ray task. Execution-only."""

    address: str = "auto"
    """The cluster, as `ray.init(address=...)` takes it: `auto` (the one this machine belongs to), `host:6379`,
    or `ray://host:10001`."""
    num_cpus: float = Field(default=1.0, ge=0)
    """CPUs the task reserves on each host."""
    num_gpus: float = Field(default=0.0, ge=0)
    """GPUs the task reserves on each host."""
    resources: dict[str, float] = Field(default_factory=dict)
    """Custom Ray resources the task reserves on each host, e.g. `{ TPU = 4 }`."""
    hosts: int = Field(default=1, ge=1)
    """Hosts of the job: a placement group with one bundle per host, a MaxText process on each."""


class XpkOptions(SpecModel):
    """How `launcher = "xpk"` runs a step as a workload on a GKE cluster. Execution-only."""

    cluster: str = Field(min_length=1)
    """The GKE cluster XPK created (`xpk cluster create`)."""
    docker_image: str = Field(min_length=1)
    """The image the workload runs: lmspec and MaxText installed, the output root mounted at the same path."""
    project: str | None = None
    """The Google Cloud project; None: gcloud's configured one."""
    zone: str | None = None
    """The cluster's zone; None: gcloud's configured one."""


class Resources(SpecModel):
    """Where a step runs. Execution-only: moving a step to other hardware keeps its identity."""

    accelerator: Literal["cpu", "gpu", "tpu"] = "cpu"
    """The device family the step runs on."""
    type: str | None = None
    """Accelerator type, e.g. `h100` or `v5litepod-8`; None lets the runtime pick."""
    topology: str | None = None
    """Device topology for multi-device slices, e.g. `2x2`."""
    memory: Annotated[str, StringConstraints(pattern=r"^[0-9]+(\.[0-9]+)?\s*([KMGT]i?B)$")] | None = None
    """Memory the step needs, e.g. `16GiB`: `lmspec run` refuses to start it on a machine with less."""
    # The launcher fields came after specs were written: `added_later` keeps them out of dumps (plans, records)
    # while at their defaults. Like every field of `resources`, they are never hashed.
    launcher: Literal["local", "slurm", "ray", "xpk"] = added_later(default="local")
    """Who runs the step: `local` (this process), or a cluster scheduler that runs it as a job (`slurm`, `ray`,
    `xpk` for GKE); the output root must then be a filesystem the job's machines share."""
    slurm: SlurmOptions | None = added_later(default=None)
    """Options of `launcher = "slurm"`."""
    ray: RayOptions | None = added_later(default=None)
    """Options of `launcher = "ray"`."""
    xpk: XpkOptions | None = added_later(default=None)
    """Options of `launcher = "xpk"` (required with it: the cluster and the image)."""

    def cross_field_errors(self) -> Problems:
        """Only xpk needs its table. Another launcher's table may stay: `--set steps.X.resources.launcher=local`
        then moves a cluster step here with one flag."""
        if self.launcher == "xpk" and self.xpk is None:
            return [(("xpk",), 'launcher = "xpk" needs `xpk = { cluster = "...", docker_image = "..." }`')]
        return []


class Runner(SpecModel):
    """The Apache Beam runner a data step uses and its pipeline options. Execution-only."""

    name: str = "FnApiRunner"
    """Beam runner, by name: `FnApiRunner` (default, in-process), `DirectRunner`, `DaskRunner`,
    `DataflowRunner`, `PortableRunner`, `FlinkRunner`, `SparkRunner`, or one installed through the
    `lmspec.beam_runners` entry points; never an import path."""
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    """Pipeline options the runner reads, e.g. `{ dask_client_address = "tcp://host:8786" }`; settings that
    start local processes need `lmspec run --allow-runner-processes`."""

    def cross_field_errors(self) -> Problems:
        from lmspec.errors import did_you_mean
        from lmspec.schemas.beam_runners import BEAM_RUNNERS, runner_names

        # A built-in name is known without reading every installed distribution's entry points for plugins.
        if self.name not in BEAM_RUNNERS and self.name not in (names := runner_names()):
            hint = did_you_mean(self.name, names)
            dotted = " (an import path is not accepted: install a runner plugin instead)" if "." in self.name else ""
            return [(("name",), f"unknown Beam runner `{self.name}`{hint}{dotted}; expected one of {', '.join(names)}")]
        known = BEAM_RUNNERS.get(self.name)
        if known is None:  # a plugin's options are its installer's business
            return []
        return [
            (("options", key), f"`{self.name}` takes no option `{key}`{did_you_mean(key, sorted(known.options))}")
            for key in self.options
            if key not in known.options
        ]


class StepBase(SpecModel):
    """Fields every step accepts."""

    output: ClassVar[OutputKind]
    """What this kind of step produces (the type of an `@reference` to it)."""
    executor: ClassVar[str]
    """The module whose `@executes(ThisClass)` function runs this kind; set by `@step_kind(executor=...)`."""
    implementation: ClassVar[int] = 1
    """Bump when the executor's output for the same config changes (a bug fix, a new default behaviour): it
    is hashed from 2 on, so outputs of the old behaviour are never served for the new one."""

    description: str | None = execution_only(default=None)
    """Free text for people; not hashed."""
    version: int = Field(default=1, ge=1)
    """Bump to force a new identity when the code behind this step changes behaviour."""
    resources: Resources = execution_only(default_factory=Resources)
    """Hardware for this step; execution-only."""
    workers: int | None = execution_only(default=None, ge=1)
    """Parallelism for this step; execution-only."""


class DataStepBase(StepBase):
    """Steps that run as Apache Beam pipelines over documents."""

    on_error: Literal["fail", "skip"] = "fail"
    """`skip` drops a document that fails (counted in stats) instead of failing the step; hashed."""
    compression: Literal["gzip", "zstd"] = "gzip"
    """Codec of the output shards, `part-*.jsonl.gz` or `part-*.jsonl.zst` (zstd level 3: smaller and
    several times faster to decompress); hashed, since the files differ. Readers accept either."""
    runner: Runner = execution_only(default_factory=Runner)
    """Beam runner and pipeline options; execution-only."""


def ref_name(ref: str) -> str:
    """`"@tokens"` -> `"tokens"`."""
    return ref[1:]


def is_ref(value: object) -> bool:
    """True for a string written as a step reference."""
    return isinstance(value, str) and value.startswith("@")
