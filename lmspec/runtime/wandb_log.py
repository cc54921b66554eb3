"""Weights & Biases logging for `[experiment] wandb = { project = "...", entity = "..." }`.

One W&B run per trained model, grouped by experiment, so W&B's own run comparison lines up the variants:
its config is the model step's validated config plus the experiment header, its history the step's
curves from the catalog (loss, validation loss, learning rate, throughput: `train/<series>` against
`train/step`), its summary the metrics of every evaluate step that scores the model (`<evaluate
step>/<metric>`), and the spec file is saved with it. A run's id is derived from the experiment, the step
and its hash, so a later `lmspec run` that only evaluates resumes the model's run instead of starting
another. Called once a run has finished, for the steps it executed (`ran`): a cached step was logged by
the run that produced it. With `WANDB_MODE=offline` everything stays under `<root>/wandb/` for
`wandb sync`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmspec.catalog.store import Catalog
from lmspec.compiler.plan import Plan, StepPlan
from lmspec.errors import LmspecError
from lmspec.schemas.base import ref_name
from lmspec.schemas.evaluation import Evaluate
from lmspec.schemas.training import MaxTextTraining

STEP_METRIC = "train/step"


class WandbError(LmspecError):
    """W&B refused or failed to record a run: the lmspec run itself is complete."""


def log_experiment(plan: Plan, spec_path: Path, catalog: Catalog, ran: set[str]) -> list[str]:
    """Log the executed train steps' curves and the executed evaluate steps' metrics; returns the W&B run ids."""
    settings = plan.experiment.wandb
    if settings is None:
        return []
    models = [s for s in plan.steps if isinstance(s.config, MaxTextTraining) and _finished(catalog, s)]
    ids = []
    for model in models:
        evaluations = [e for e in _evaluations(plan, model) if e.name in ran and _finished(catalog, e)]
        if model.name in ran or evaluations:
            ids.append(_log_model(plan, spec_path, catalog, model, evaluations, history=model.name in ran))
    return ids


def _log_model(
    plan: Plan, spec_path: Path, catalog: Catalog, model: StepPlan, evaluations: list[StepPlan], history: bool
) -> str:
    import wandb

    settings = plan.experiment.wandb
    assert settings is not None  # checked by log_experiment
    run_id = f"{plan.experiment.name}-{model.name}-{model.hash}"
    try:
        run = wandb.init(
            project=settings.project,
            entity=settings.entity,
            group=plan.experiment.name,
            name=model.name,
            id=run_id,
            resume="allow",
            dir=plan.root,
            config=_config(plan, model),
            job_type="train",
            reinit="create_new",
        )
        if history:
            _log_curves(run, catalog.series(model.output_path))
        for evaluation in evaluations:
            record = catalog.find(evaluation.output_path)
            metrics = record.metrics if record is not None else {}
            run.summary.update({f"{evaluation.name}/{name}": value for name, value in metrics.items()})
        run.save(str(spec_path), base_path=str(spec_path.parent), policy="now")
        run.finish()
    except Exception as exc:  # W&B raises its own types for auth, network and quota problems
        raise WandbError(f"W&B logging of {model.name} failed ({exc}); the lmspec run itself is complete") from exc
    return run_id


def _log_curves(run: Any, series: dict[str, list[tuple[int, float]]]) -> None:
    """Every series against the training step, one `log` call per step."""
    run.define_metric(STEP_METRIC)
    run.define_metric("train/*", step_metric=STEP_METRIC)
    by_step: dict[int, dict[str, float]] = {}
    for name, points in series.items():
        for step, value in points:
            by_step.setdefault(step, {})[f"train/{name}"] = value
    for step in sorted(by_step):
        run.log({STEP_METRIC: step, **by_step[step]})


def _config(plan: Plan, model: StepPlan) -> dict[str, Any]:
    return {
        "experiment": plan.experiment.model_dump(mode="json", exclude={"wandb"}),
        "step": model.name,
        "hash": model.hash,
        "spec": plan.spec_file,
        model.name: model.config.model_dump(mode="json"),
    }


def _evaluations(plan: Plan, model: StepPlan) -> list[StepPlan]:
    return [s for s in plan.steps if isinstance(s.config, Evaluate) and ref_name(s.config.model) == model.name]


def _finished(catalog: Catalog, step: StepPlan) -> bool:
    record = catalog.find(step.output_path)
    return record is not None and record.status == "succeeded"
