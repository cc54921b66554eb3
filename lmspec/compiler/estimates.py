"""What each training step of a plan will cost: parameters, tokens, FLOPs, time and money, and its launch command.

Pure: computed from the validated configs alone, so `lmspec compile` shows it before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmspec.compiler.hardware import (
    Accelerator,
    Estimate,
    Slice,
    active_parameter_count,
    parameter_count,
    resolve_slice,
)
from lmspec.compiler.maxtext import DEFAULT_VOCAB_SIZE, TrainingData, launch_command, lower
from lmspec.compiler.plan import Plan, StepPlan
from lmspec.outputs.model import final_checkpoint
from lmspec.schemas.base import is_ref, ref_name
from lmspec.schemas.post_training import Dpo, PostTraining
from lmspec.schemas.training import MaxTextTraining, Tokenize, TrainTokenizer


@dataclass(frozen=True)
class TrainEstimate:
    """One training step's estimate on the slice its `resources` ask for."""

    step: str
    estimate: Estimate
    vocab_known: bool
    """False when the vocabulary comes from a tokenizer file only read at run time (DEFAULT_VOCAB_SIZE assumed)."""
    launch: str | None
    """The multi-host launch command, for a slice that spans hosts."""


def planned_vocab(plan: Plan, training: MaxTextTraining) -> tuple[int, bool]:
    """The vocabulary size a training step will have, and whether it is known before running."""
    if training.model.vocab_size is not None:
        return training.model.vocab_size, True
    if isinstance(training, PostTraining):  # the vocabulary of the model it continues
        return planned_vocab(plan, _upstream(plan, training.init_from))
    tokens = _first_tokenize(plan, training)
    if tokens is not None and is_ref(tokens.tokenizer):
        tokenizer = plan.step(ref_name(tokens.tokenizer)).config
        if isinstance(tokenizer, TrainTokenizer):
            return tokenizer.vocab_size, True
    return DEFAULT_VOCAB_SIZE, False


def estimate(training: MaxTextTraining, vocab_size: int, hardware: Slice) -> Estimate:
    """6 * N * D with N the parameters a token passes through (with MoE, its experts only); DPO runs the policy
    on both responses and the frozen reference forward (2 FLOPs per parameter per token) on both too."""
    dims = training.model.model_dump()
    total, active = parameter_count(dims, vocab_size), active_parameter_count(dims, vocab_size)
    per_token = (6.0 + 2.0) * 2 if isinstance(training, Dpo) else 6.0
    flops = per_token * active * training.total_tokens
    return Estimate(total, training.total_tokens, flops, hardware, active if active != total else None)


def train_estimates(plan: Plan, table: dict[str, Accelerator]) -> dict[str, TrainEstimate]:
    """Step name -> estimate, for every training step of the plan."""
    return {
        step.name: _estimate_step(plan, step, step.config, table)
        for step in plan.steps
        if isinstance(step.config, MaxTextTraining)
    }


def _estimate_step(
    plan: Plan, step: StepPlan, training: MaxTextTraining, table: dict[str, Accelerator]
) -> TrainEstimate:
    vocab_size, known = planned_vocab(plan, training)
    hardware = resolve_slice(training.resources.model_dump(), table)
    flags = lower(
        training,
        hardware=hardware,
        vocab_size=vocab_size,
        data=_planned_data(plan, training),
        work_dir=f"{step.output_path}.resume",
        init_checkpoint=_planned_init(plan, training),
    )
    return TrainEstimate(
        step.name,
        estimate(training, vocab_size, hardware),
        known,
        launch_command(step.name, step.hash, hardware, flags, training.trainer, *_cluster_and_image(training)),
    )


def _first_tokenize(plan: Plan, training: MaxTextTraining) -> Tokenize | None:
    """The tokenize step of the mixture's first entry, whose tokenizer the run uses."""
    config = plan.step(ref_name(next(iter(training.mixture())))).config
    return config if isinstance(config, Tokenize) else None


def _planned_data(plan: Plan, training: MaxTextTraining) -> TrainingData | None:
    """The tokenize outputs a train step reads; None for post-training, which prepares its own data."""
    if isinstance(training, PostTraining):
        return None
    weights = {plan.step(ref_name(ref)).output_path: weight for ref, weight in training.mixture().items()}
    first = _first_tokenize(plan, training)
    return TrainingData(weights, first.append_eos if first is not None else True)


def _planned_init(plan: Plan, training: MaxTextTraining) -> str | None:
    """Where the `init_from` step's final checkpoint will be."""
    if training.init_from is None:
        return None
    upstream = plan.step(ref_name(training.init_from))
    return final_checkpoint(upstream.output_path, _upstream(plan, training.init_from).final_step)


def _upstream(plan: Plan, reference: str) -> MaxTextTraining:
    """The training step an `init_from` names (validation allows only model producers there)."""
    config = plan.step(ref_name(reference)).config
    assert isinstance(config, MaxTextTraining)
    return config


def across_accelerators(plan: Plan, table: dict[str, Accelerator]) -> list[tuple[str, str, Estimate]]:
    """(step, accelerator, estimate) for every training step on one device of every accelerator, cheapest first.

    Cost does not depend on the device count (more devices, proportionally less time), so one device
    stands for any slice of that accelerator.
    """
    rows = []
    for step in plan.steps:
        if isinstance(step.config, MaxTextTraining):
            vocab_size, _ = planned_vocab(plan, step.config)
            for name, accelerator in table.items():
                hardware = Slice(name, name, accelerator, 1)
                rows.append((step.name, name, estimate(step.config, vocab_size, hardware)))
    return sorted(rows, key=lambda row: row[2].cost)


def _cluster_and_image(training: MaxTextTraining) -> tuple[str, str]:
    """The XPK cluster and image a step names in `resources.xpk`, else the placeholders of the command."""
    xpk = training.resources.xpk
    return (xpk.cluster, xpk.docker_image) if xpk is not None else ("$CLUSTER", "$IMAGE")
