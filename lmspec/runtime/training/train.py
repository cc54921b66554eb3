"""`train`: MaxText as a child process, resumable, with its curves in the catalog.

MaxText writes into the step's resume directory (kept across killed attempts), so re-running a killed
step restores its last checkpoint and data iterator and continues; the schedule length never changes
between attempts, so the resumed curve equals an uninterrupted one. When MaxText exits cleanly, its
checkpoints and TensorBoard directory move into the output beside the tokenizer, the flags and the log
(the layout, and its reader, are `lmspec.outputs.model`).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lmspec.compiler.hardware import Slice, resolve_slice
from lmspec.compiler.maxtext import RUN_NAME, TrainingData, command_line, data_size_flags, lower
from lmspec.errors import LmspecError
from lmspec.outputs.model import (
    Flags,
    ModelCheckpoint,
    ModelInfo,
    last_checkpoint,
    publish_run,
    weight_shape,
    write_flags,
)
from lmspec.outputs.tokenizer import Tokenizer
from lmspec.outputs.tokens import TokenizedData, TokensInfo
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.registry import executes
from lmspec.runtime.training.events import read_series
from lmspec.schemas.training import MaxTextTraining, Train

POLL_S = 1.0
"""How often lmspec reads MaxText's log for progress and a NaN loss."""
PROGRESS = re.compile(r"completed step: (\d+), seconds: ([\d.]+).*?Tokens/s/device: ([\d.]+).*?loss: ([-\w.]+)")


class TrainingError(LmspecError):
    """The training data, the initial checkpoint or the run itself cannot give a model; says why and what to do."""


@executes(Train)
def train(ctx: StepContext[Train]) -> StepResult:
    spec = ctx.spec
    data = {ref: ctx.input(ref, TokenizedData) for ref in spec.mixture()}
    infos = {ref: tokens.info() for ref, tokens in data.items()}
    vocab_size = _vocab_size(spec, infos)
    _check_enough_data(spec, infos)
    hardware = resolve_slice(spec.resources.model_dump())
    flags = _flags(spec, ctx, hardware, vocab_size, data, infos)
    _warn_about_data(spec, flags, infos, ctx)
    write_flags(ctx.output_dir, flags)
    ctx.resume_dir.mkdir(parents=True, exist_ok=True)
    resumed = last_checkpoint(ctx.resume_dir / RUN_NAME)
    if resumed is not None:
        ctx.log.info("resuming from the checkpoint at step %d in %s", resumed, ctx.resume_dir)
    started = time.time()
    throughput = _run_maxtext(flags, hardware.accelerator.family, ctx)
    tokenizer = next(iter(data.values())).tokenizer
    return _publish(spec, ctx, tokenizer, vocab_size, hardware.devices, throughput, time.time() - started)


def _flags(
    spec: MaxTextTraining,
    ctx: StepContext[Train],
    hardware: Slice,
    vocab_size: int,
    data: dict[str, TokenizedData],
    infos: dict[str, TokensInfo],
) -> Flags:
    """The compiler's lowering over this execution's paths (what `lmspec compile` shows), completed with
    what depends on the data's size."""
    paths = {ref: str(tokens.path) for ref, tokens in data.items()}
    planned = lower(
        spec,
        hardware=hardware,
        vocab_size=vocab_size,
        data=TrainingData(
            {paths[ref]: weight for ref, weight in spec.mixture().items()},
            append_eos=next(iter(infos.values())).append_eos,
        ),
        work_dir=str(ctx.resume_dir),
        init_checkpoint=_init_checkpoint(spec, ctx, vocab_size),
    )
    return {**planned, **data_size_flags(spec, {paths[ref]: info for ref, info in infos.items()})}


def _vocab_size(spec: MaxTextTraining, infos: dict[str, TokensInfo]) -> int:
    tokenizer_sizes = {info.tokenizer.vocab_size for info in infos.values()}
    if len(tokenizer_sizes) > 1:
        raise TrainingError(f"the data mixture's tokenize steps use different tokenizers ({sorted(tokenizer_sizes)})")
    tokenizer_vocab = tokenizer_sizes.pop()
    model_vocab = spec.model.vocab_size or tokenizer_vocab
    if tokenizer_vocab > model_vocab:
        raise TrainingError(
            f"the tokenizer has {tokenizer_vocab} tokens but model.vocab_size is {model_vocab}: token ids past "
            f"the embedding table cannot be trained; set model.vocab_size >= {tokenizer_vocab} or leave it unset"
        )
    return model_vocab


def _check_enough_data(spec: MaxTextTraining, infos: dict[str, TokensInfo]) -> None:
    """One batch at least: MaxText cannot fill a batch from less, and would wait for data forever."""
    batch_tokens = spec.batch_size * spec.model.seq_len
    train_tokens = _train_tokens(infos)
    if train_tokens < batch_tokens:
        raise TrainingError(
            f"the training data is too short: {train_tokens} tokens in the train split of {', '.join(infos)}, "
            f"but one batch of {spec.batch_size} x {spec.model.seq_len} needs {batch_tokens}; add documents, "
            "or lower batch_size or model.seq_len"
        )


def _train_tokens(infos: dict[str, TokensInfo]) -> int:
    return sum(info.train.tokens for info in infos.values())


def _warn_about_data(
    spec: MaxTextTraining, flags: Flags, infos: dict[str, TokensInfo], ctx: StepContext[Train]
) -> None:
    """Say when the run repeats its data, or gets no validation loss although the spec asks for one."""
    if (repeats := int(flags["num_epoch"])) > 1:
        tokens = _train_tokens(infos)
        ctx.log.warning("the train split holds %d tokens; the run repeats it about %d times", tokens, repeats)
    if spec.eval_every and "grain_eval_files" not in flags:
        ctx.log.warning("eval_every is set but the validation splits hold less than one batch; no validation loss")


def _init_checkpoint(spec: MaxTextTraining, ctx: StepContext[Train], vocab_size: int) -> str | None:
    """The final checkpoint of the `init_from` run, after checking its shape fits this model."""
    if spec.init_from is None:
        return None
    upstream = ctx.input(spec.init_from, ModelCheckpoint)
    theirs, mine = upstream.info().shape, weight_shape(spec.model, vocab_size)
    differ = [f"{k}: {theirs[k]} there, {mine[k]} here" for k in mine if theirs[k] != mine[k]]
    if differ:
        raise TrainingError(
            f"init_from = {spec.init_from} has another model shape ({'; '.join(differ)}); its weights cannot "
            "initialise this model: use the same model sizes (seq_len may differ)"
        )
    return str(upstream.final_checkpoint())


def _run_maxtext(flags: Flags, family: str, ctx: StepContext[Train]) -> list[float]:
    """Run MaxText to completion with its output in maxtext.log; returns tokens/s/device per step.

    The child writes the log file itself and lmspec reads it once a second: no pipe to drain on every
    line, so the trainer never waits on lmspec and lmspec takes no CPU from it between polls.
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if family == "cpu":
        env["JAX_PLATFORMS"] = "cpu"
    command = command_line(flags, python=sys.executable)
    ctx.log.info("MaxText: %s", " ".join(command))
    log_path = ModelCheckpoint(ctx.output_dir).log_file
    throughput: list[float] = []
    tail: list[str] = []
    with (
        log_path.open("w") as log,
        log_path.open() as reader,
        subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent) as child,
    ):
        pending = ""
        while True:
            finished = child.poll() is not None
            pending += reader.read()
            *lines, pending = pending.split("\n")
            tail = [*tail, *lines][-8:]
            for line in lines:
                if match := PROGRESS.search(line):
                    throughput.append(float(match[3]))
                    _check_progress(int(match[1]), match[4], match[3], log_path, ctx, child)
            if finished:
                break
            time.sleep(POLL_S)
    if child.returncode != 0:
        raise TrainingError(
            f"MaxText exited with code {child.returncode}; its log is {log_path}. Last lines:\n" + "\n".join(tail)
        )
    return throughput


def _check_progress(
    step: int, loss: str, tokens_per_s: str, log_path: Path, ctx: StepContext[Train], child: subprocess.Popen[bytes]
) -> None:
    if loss.lower() in ("nan", "inf", "-inf"):
        child.kill()
        raise TrainingError(
            f"the loss became {loss} at step {step}; lower optimizer.lr, raise warmup_steps, or set "
            f"optimizer.grad_clip (MaxText log: {log_path})"
        )
    if step % 10 == 0:
        ctx.log.info("step %d loss %s, %s tokens/s/device", step, loss, tokens_per_s)


def _die_with_parent() -> None:
    """Linux: SIGKILL MaxText when lmspec dies, so a killed run leaves no trainer writing to the resume
    directory that the next attempt resumes from."""
    if sys.platform == "linux":
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _publish(
    spec: MaxTextTraining,
    ctx: StepContext[Train],
    tokenizer: Tokenizer,
    vocab_size: int,
    devices: int,
    throughput: list[float],
    seconds: float,
) -> StepResult:
    run = ctx.resume_dir / RUN_NAME
    final = last_checkpoint(run)
    if final is None:
        raise TrainingError(f"MaxText finished without a checkpoint under {run}")
    tokenizer.copy_to(ctx.output_dir)
    publish_run(run, ctx.output_dir, ModelInfo(spec.model, vocab_size, final))
    series = read_series(ModelCheckpoint(ctx.output_dir).tensorboard)
    warm = throughput[1:] or throughput  # the first step includes compilation
    losses = [v for _, v in series.get("loss", [])]
    metrics: dict[str, Any] = {
        "final_loss": losses[-1] if losses else None,
        # the median: steps that save a checkpoint or evaluate are slow outliers
        "tokens_per_s": devices * statistics.median(warm) if warm else None,
        "seconds": round(seconds, 3),
    }
    if eval_losses := series.get("eval_loss"):
        metrics["eval_loss"] = eval_losses[-1][1]
    counts = {"steps": spec.total_steps, "tokens": spec.total_tokens}
    return StepResult(counts=counts, metrics=metrics, series=series)
