"""What every training kind (train, sft, dpo) does around its trainer: the child process, the start checkpoint,
publishing the run as a model output.

MaxText writes into the step's resume directory (kept across killed attempts), so re-running a killed step
restores its last checkpoint and data iterator and continues; the schedule length never changes between
attempts, so the resumed curve equals an uninterrupted one. When the trainer exits cleanly, its checkpoints
and TensorBoard directory move into the output beside the tokenizer, the flags and the log (the layout, and
its reader, are `lmspec.outputs.model`).
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

from lmspec.compiler.maxtext import RUN_NAME, command_line
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
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.launchers.hosts import host_flags, share_trainer
from lmspec.runtime.training.events import read_series
from lmspec.schemas.training import MaxTextTraining

POLL_S = 1.0
"""How often lmspec reads MaxText's log for progress and a NaN loss."""
PROGRESS = re.compile(r"completed step: (\d+), seconds: ([\d.]+).*?Tokens/s/device: ([\d.]+).*?loss: ([-\w.]+)")
FINAL_METRICS = ("eval_loss", "preference_accuracy", "reward_margin")
"""Series whose last value is also a metric of the step, when the run records them (validation, DPO)."""


class TrainingError(LmspecError):
    """The training data, the initial checkpoint or the run itself cannot give a model; says why and what to do."""


def init_checkpoint(spec: MaxTextTraining, ctx: StepContext[Any], vocab_size: int) -> str | None:
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


def train_to_completion(spec: MaxTextTraining, flags: Flags, ctx: StepContext[Any]) -> tuple[list[float], float]:
    """Write the flags into the output, run the kind's trainer (resuming a killed attempt's checkpoint), and
    return its tokens/s/device per step and the wall seconds it took."""
    write_flags(ctx.output_dir, flags)
    ctx.resume_dir.mkdir(parents=True, exist_ok=True)
    resumed = last_checkpoint(ctx.resume_dir / RUN_NAME)
    if resumed is not None and resumed >= spec.final_step:
        # A killed attempt finished training but not publishing: MaxText would refuse to train "up to" a step it
        # has passed, and the checkpoint is the run's result. Publish it as it is.
        note = f"MaxText was not run again: a killed attempt had saved the final checkpoint (step {resumed})\n"
        ModelCheckpoint(ctx.output_dir).log_file.write_text(note)
        ctx.log.info(note.strip())
        return [], 0.0
    if resumed is not None:
        ctx.log.info("resuming from the checkpoint at step %d in %s", resumed, ctx.resume_dir)
    started = time.time()
    throughput = run_maxtext(flags, spec.trainer, spec.resources.accelerator, ctx)
    return throughput, time.time() - started


def run_maxtext(flags: Flags, module: str, family: str, ctx: StepContext[Any]) -> list[float]:
    """Run a trainer to completion with its output in maxtext.log; returns tokens/s/device per step.

    The child writes the log file itself and lmspec reads it once a second: no pipe to drain on every
    line, so the trainer never waits on lmspec and lmspec takes no CPU from it between polls.
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if family == "cpu":
        env["JAX_PLATFORMS"] = "cpu"
    command = command_line(host_flags(flags), python=sys.executable, module=module)
    share_trainer(command, env, ctx.output_dir)  # a multi-host job's other hosts start it too
    ctx.log.info("MaxText: %s", " ".join(command))
    log_path = ModelCheckpoint(ctx.output_dir).log_file
    throughput: list[float] = []
    tail: list[str] = []
    with (
        log_path.open("w") as log,
        log_path.open() as reader,
        subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=die_with_parent) as child,
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
    step: int, loss: str, tokens_per_s: str, log_path: Path, ctx: StepContext[Any], child: subprocess.Popen[bytes]
) -> None:
    if loss.lower() in ("nan", "inf", "-inf"):
        child.kill()
        raise TrainingError(
            f"the loss became {loss} at step {step}; lower optimizer.lr, raise warmup_steps, or set "
            f"optimizer.grad_clip (MaxText log: {log_path})"
        )
    if step % 10 == 0:
        ctx.log.info("step %d loss %s, %s tokens/s/device", step, loss, tokens_per_s)


def die_with_parent() -> None:
    """Linux: SIGKILL MaxText when lmspec dies, so a killed run leaves no trainer writing to the resume
    directory that the next attempt resumes from."""
    if sys.platform == "linux":
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def publish(
    spec: MaxTextTraining,
    ctx: StepContext[Any],
    tokenizer: Tokenizer,
    vocab_size: int,
    devices: int,
    run: tuple[list[float], float],
) -> StepResult:
    """Move the finished run into the output with `tokenizer` and model.json; the curves and metrics for the catalog.
    `run` is what `train_to_completion` returned."""
    throughput, seconds = run
    folder = ctx.resume_dir / RUN_NAME
    final = last_checkpoint(folder)
    if final is None:
        raise TrainingError(f"MaxText finished without a checkpoint under {folder}")
    tokenizer.copy_to(ctx.output_dir)
    publish_run(folder, ctx.output_dir, ModelInfo(spec.model, vocab_size, final))
    series = read_series(ModelCheckpoint(ctx.output_dir).tensorboard)
    warm = throughput[1:] or throughput  # the first step includes compilation
    losses = [v for _, v in series.get("loss", [])]
    metrics: dict[str, Any] = {
        "final_loss": losses[-1] if losses else None,
        # the median: steps that save a checkpoint or evaluate are slow outliers
        "tokens_per_s": devices * statistics.median(warm) if warm else None,
        "seconds": round(seconds, 3),
    }
    metrics.update({name: series[name][-1][1] for name in FINAL_METRICS if series.get(name)})
    counts = {"steps": spec.total_steps, "tokens": spec.total_tokens}
    return StepResult(counts=counts, metrics=metrics, series=series)
