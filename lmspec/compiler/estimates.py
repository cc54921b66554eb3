"""What each train step of a plan will cost: parameters, tokens, FLOPs, time and money, and its launch command.

Pure: computed from the validated configs alone, so `lmspec compile` shows it before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmspec.compiler.hardware import Accelerator, Estimate, Slice, parameter_count, resolve_slice
from lmspec.compiler.maxtext import (
    DEFAULT_VOCAB_SIZE,
    checkpoint_items,
    data_flags,
    hardware_flags,
    launch_command,
    output_flags,
    train_flags,
)
from lmspec.compiler.plan import Plan, StepPlan, join
from lmspec.schemas.training import Tokenize, Train, TrainTokenizer


@dataclass(frozen=True)
class TrainEstimate:
    """One train step's estimate on the slice its `resources` ask for."""

    step: str
    estimate: Estimate
    vocab_known: bool
    """False when the vocabulary comes from a tokenizer file only read at run time (DEFAULT_VOCAB_SIZE assumed)."""
    launch: str | None
    """The multi-host launch command, for a slice that spans hosts."""


def planned_vocab(plan: Plan, train: Train) -> tuple[int, bool]:
    """The vocabulary size a train step will have, and whether it is known before running."""
    if train.model.vocab_size is not None:
        return train.model.vocab_size, True
    first = train.data if isinstance(train.data, str) else next(iter(train.data))
    tokens = plan.step(first[1:]).config
    if isinstance(tokens, Tokenize) and tokens.tokenizer.startswith("@"):
        tokenizer = plan.step(tokens.tokenizer[1:]).config
        if isinstance(tokenizer, TrainTokenizer):
            return tokenizer.vocab_size, True
    return DEFAULT_VOCAB_SIZE, False


def estimate(train: Train, vocab_size: int, hardware: Slice) -> Estimate:
    parameters = parameter_count(train.model.model_dump(), vocab_size)
    return Estimate(parameters, train.total_tokens, 6.0 * parameters * train.total_tokens, hardware)


def train_estimates(plan: Plan, table: dict[str, Accelerator]) -> dict[str, TrainEstimate]:
    """Step name -> estimate, for every train step of the plan."""
    found: dict[str, TrainEstimate] = {}
    for step in plan.steps:
        if isinstance(step.config, Train):
            found[step.name] = _estimate_step(plan, step, step.config, table)
    return found


def _estimate_step(plan: Plan, step: StepPlan, train: Train, table: dict[str, Accelerator]) -> TrainEstimate:
    vocab_size, known = planned_vocab(plan, train)
    hardware = resolve_slice(train.resources.model_dump(), table)
    tokens = {name: plan.step(name).output_path for name in step.inputs if isinstance(plan.step(name).config, Tokenize)}
    first = plan.step(next(iter(tokens))).config
    append_eos = first.append_eos if isinstance(first, Tokenize) else True
    flags = {
        **train_flags(train, vocab_size),
        **hardware_flags(hardware, train),
        **data_flags(train, tokens, append_eos),
        **output_flags(train, f"{step.output_path}.resume"),
    }
    if train.init_from is not None:
        upstream = plan.step(train.init_from[1:])
        assert isinstance(upstream.config, Train)
        flags["load_parameters_path"] = join(upstream.output_path, checkpoint_items(upstream.config.total_steps - 1))
    return TrainEstimate(
        step.name, estimate(train, vocab_size, hardware), known, launch_command(step.name, step.hash, hardware, flags)
    )


def across_accelerators(plan: Plan, table: dict[str, Accelerator]) -> list[tuple[str, str, Estimate]]:
    """(step, accelerator, estimate) for every train step on one device of every accelerator, cheapest first.

    Cost does not depend on the device count (more devices, proportionally less time), so one device
    stands for any slice of that accelerator.
    """
    rows = []
    for step in plan.steps:
        if isinstance(step.config, Train):
            vocab_size, _ = planned_vocab(plan, step.config)
            for name, accelerator in table.items():
                hardware = Slice(name, name, accelerator, 1)
                rows.append((step.name, name, estimate(step.config, vocab_size, hardware)))
    return sorted(rows, key=lambda row: row[2].cost)
