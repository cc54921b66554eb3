"""What sft and dpo share: start from a model step, prepare their records with a chat template, train, publish.

The tokenizer with the step's chat template is written first, into the resume directory where MaxText reads
it and from where it is published beside the checkpoints, so the model's tokenizer carries its template.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmspec.compiler.hardware import resolve_slice
from lmspec.compiler.maxtext import lower, records_flags
from lmspec.outputs.model import ModelCheckpoint
from lmspec.outputs.tokenizer import Tokenizer
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.training.chat import ChatRenderer, resolve_template
from lmspec.runtime.training.maxtext_run import TrainingError, init_checkpoint, publish, train_to_completion
from lmspec.schemas.post_training import PostTraining


@dataclass(frozen=True)
class Start:
    """The model a post-training step continues, and its tokenizer with the step's chat template."""

    vocab_size: int
    checkpoint: str | None
    tokenizer: Tokenizer
    renderer: ChatRenderer


def start(ctx: StepContext[PostTraining]) -> Start:
    """Read the `init_from` model (its shape checked against the step's), and save its tokenizer with the template."""
    spec = ctx.spec
    base = ctx.input(spec.init_from, ModelCheckpoint)
    vocab_size = base.info().vocab_size
    checkpoint = init_checkpoint(spec, ctx, vocab_size)
    template = resolve_template(spec.chat_template, base.tokenizer, spec.init_from)
    tokenizer = base.tokenizer.with_chat_template(template, ctx.resume_dir)
    return Start(vocab_size, checkpoint, tokenizer, ChatRenderer.of(tokenizer))


def finish(ctx: StepContext[PostTraining], started: Start, records: int, noun: str) -> StepResult:
    """Train on the `records` prepared (`noun` names them in counts) and publish the model."""
    spec = ctx.spec
    if not records:
        raise TrainingError(f"{spec.data} holds no {noun}: there is nothing to train on")
    hardware = resolve_slice(spec.resources.model_dump())
    flags = lower(
        spec,
        hardware=hardware,
        vocab_size=started.vocab_size,
        data=None,
        work_dir=str(ctx.resume_dir),
        init_checkpoint=started.checkpoint,
    )
    run = train_to_completion(spec, {**flags, **records_flags(spec, records)}, ctx)
    result = publish(spec, ctx, started.tokenizer, started.vocab_size, hardware.devices, run)
    result.counts[noun] = records
    return result
