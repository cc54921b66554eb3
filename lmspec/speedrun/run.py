"""`lmspec speedrun run SPEC`: check the submission, run it as `lmspec run` does, write results.json beside it."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import lmspec
from lmspec.catalog import Catalog, default_catalog_url
from lmspec.errors import LmspecError, UsageError
from lmspec.outputs.metrics import Metrics
from lmspec.runtime.provenance import git_commit, plan_hash
from lmspec.runtime.runner import run_plan
from lmspec.runtime.summary import describe
from lmspec.speedrun.check import Submission, check_submission
from lmspec.speedrun.results import (
    RESULTS_SCHEMA_VERSION,
    SPEC_NAMES,
    Results,
    RunHardware,
    curve_of,
    document_scores,
    spec_sha256,
    write_results,
)


class SpeedrunFailed(LmspecError):
    """A submission's run did not finish: its failed steps, with their logs."""


def run_submission(spec: Path, root: str | None, catalog_url: str | None = None, live: bool = False) -> Path:
    """Train and evaluate the submission in `spec` under `root`; returns the results file written beside it."""
    if spec.name not in SPEC_NAMES:
        raise UsageError(f"{spec}: a submission is a folder holding its spec as {' or '.join(SPEC_NAMES)}; rename it")
    submission = check_submission(spec, root)
    plan = submission.plan
    summary = run_plan(plan, spec, catalog_url=catalog_url, live=live)
    if not summary.ok:
        raise SpeedrunFailed("the submission's run failed:\n" + "\n".join(describe(summary)))
    catalog = Catalog(catalog_url or default_catalog_url(plan.root)).open(create=False)
    return write_results(spec.resolve().parent, measure(submission, catalog))


def measure(submission: Submission, catalog: Catalog) -> Results:
    """The results of a finished submission, from its outputs and its catalog records."""
    track, plan, estimate = submission.track, submission.plan, submission.estimate.estimate
    evaluation = Metrics(Path(submission.eval_output))
    items = evaluation.items(track.metric)
    metrics = evaluation.results().metrics
    if items is None:
        raise SpeedrunFailed(f"{submission.eval_output} holds no per-document scores for `{track.metric}`")
    spec_text = submission.spec.read_text(encoding="utf-8")
    return Results(
        schema_version=RESULTS_SCHEMA_VERSION,
        track=track.name,
        submission=submission.entry,
        spec_file=submission.spec.name,
        spec_text=spec_text,
        spec_sha256=spec_sha256(spec_text),
        plan_hash=plan_hash(plan),
        steps={step.name: step.hash for step in plan.steps},
        model_step=track.model_step,
        lmspec_version=lmspec.__version__,
        git_commit=git_commit(submission.spec.resolve().parent),
        hardware=RunHardware(
            accelerator=estimate.slice.type, devices=estimate.slice.devices, cpu=cpu_name(), cores=os.cpu_count() or 1
        ),
        parameters=estimate.active_parameters or estimate.parameters,
        tokens=estimate.tokens,
        flops=estimate.flops,
        wall_seconds=sum(_seconds(catalog, out) for out in (submission.model_output, submission.eval_output)),
        bits_per_byte=metrics[f"{track.metric}/bits_per_byte"],
        bits_per_byte_stderr=metrics[f"{track.metric}/bits_per_byte_stderr"],
        documents=document_scores(items),
        curve=curve_of(catalog.series(submission.model_output)),
    )


def _seconds(catalog: Catalog, output_path: str) -> float:
    record = catalog.find(output_path)
    return float(record.duration_s or 0.0) if record is not None else 0.0


def cpu_name() -> str:
    """The CPU model as Linux names it (`/proc/cpuinfo`), else what the platform module says."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
