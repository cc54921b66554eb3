"""`train`: MaxText as a child process, resumable, with its curves in the catalog.

MaxText writes into the step's resume directory (kept across killed attempts), so re-running a killed
step restores its last checkpoint and data iterator and continues; the schedule length never changes
between attempts, so the resumed curve equals an uninterrupted one. When MaxText exits cleanly, the
checkpoints, TensorBoard directory and tokenizer move into the output:

  checkpoints/<step>/items   orbax checkpoints (the last one is what `init_from` and evaluation load)
  tensorboard/               MaxText's event files
  tokenizer/                 the tokenizer the model was trained with
  maxtext.log                the child's output
  maxtext-flags.json         every override MaxText ran with
  model.json                 dimensions, vocabulary, final step, where the final checkpoint is
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lmspec.compiler.hardware import resolve_slice
from lmspec.compiler.maxtext import (
    RUN_NAME,
    TOKENIZER_DIR,
    Flags,
    checkpoint_items,
    command_line,
    data_flags,
    hardware_flags,
    output_flags,
    split_glob,
    train_flags,
)
from lmspec.errors import LmspecError
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.registry import executes
from lmspec.runtime.training.events import read_series
from lmspec.runtime.training.tokenize import read_tokens_info
from lmspec.runtime.training.tokenizer import TOKENIZER_FILE
from lmspec.schemas.training import Train

MODEL_FILE = "model.json"
SHAPE_FIELDS = ("emb_dim", "num_layers", "num_heads", "num_kv_heads", "mlp_dim", "head_dim", "vocab_size")
"""Dimensions that must match for `init_from` to load another run's weights (seq_len may differ: RoPE)."""
DATA_MARGIN = 1.25
"""Extra epochs of data beyond the tokens the steps consume, for packing and padding losses."""
MAX_EVAL_STEPS = 20
POLL_S = 1.0
"""How often lmspec reads MaxText's log for progress and a NaN loss."""
PROGRESS = re.compile(r"completed step: (\d+), seconds: ([\d.]+).*?Tokens/s/device: ([\d.]+).*?loss: ([-\w.]+)")


class TrainingError(LmspecError):
    """The training data, the initial checkpoint or the run itself cannot give a model; says why and what to do."""


@executes(Train)
def train(ctx: StepContext[Train]) -> StepResult:
    spec = ctx.step.config
    assert isinstance(spec, Train)
    data = _data_inputs(spec, ctx)
    infos = {name: read_tokens_info(path) for name, path in data.items()}
    vocab_size = _vocab_size(spec, infos)
    hardware = resolve_slice(spec.resources.model_dump())
    work = ctx.resume_dir
    work.mkdir(parents=True, exist_ok=True)
    flags: Flags = {
        **train_flags(spec, vocab_size),
        **hardware_flags(hardware, spec),
        **_data_flags(spec, data, infos, ctx),
        **output_flags(spec, str(work)),
    }
    if spec.init_from is not None:
        flags["load_parameters_path"] = str(_init_checkpoint(spec, ctx.inputs[spec.init_from[1:]], vocab_size))
    (ctx.output_dir / "maxtext-flags.json").write_text(json.dumps(flags, indent=2, sort_keys=True))
    resumed = _last_checkpoint(work / RUN_NAME / "checkpoints")
    if resumed is not None:
        ctx.log.info("resuming from the checkpoint at step %d in %s", resumed, work)
    started = time.time()
    throughput = _run_maxtext(flags, hardware.accelerator.family, ctx)
    return _publish(spec, ctx, work, vocab_size, hardware.devices, throughput, time.time() - started)


def _data_inputs(spec: Train, ctx: StepContext[Train]) -> dict[str, Path]:
    names = [spec.data] if isinstance(spec.data, str) else list(spec.data)
    return {name[1:]: ctx.inputs[name[1:]] for name in names}


def _vocab_size(spec: Train, infos: dict[str, dict[str, Any]]) -> int:
    tokenizer_sizes = {info["vocab_size"] for info in infos.values()}
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


def _data_flags(spec: Train, data: dict[str, Path], infos: dict[str, dict[str, Any]], ctx: StepContext[Train]) -> Flags:
    """The plan's grain flags, plus what depends on the data's size: epochs, and evaluation on held-out tokens."""
    append_eos = bool(next(iter(infos.values()))["append_eos"])
    flags = data_flags(spec, {name: str(path) for name, path in data.items()}, append_eos)
    batch_tokens = spec.batch_size * spec.model.seq_len
    train_tokens = sum(info["splits"]["train"]["tokens"] for info in infos.values())
    if train_tokens < batch_tokens:
        raise TrainingError(
            f"the training data is too short: {train_tokens} tokens in the train split of "
            f"{', '.join('@' + n for n in data)}, but one batch of {spec.batch_size} x {spec.model.seq_len} needs "
            f"{batch_tokens}; add documents, or lower batch_size or model.seq_len"
        )
    flags["num_epoch"] = epochs = math.ceil(spec.total_tokens * DATA_MARGIN / train_tokens)
    if epochs > 1:
        ctx.log.warning("the train split holds %d tokens; the run repeats it about %d times", train_tokens, epochs)
    held_out = {n: info["splits"]["validation"]["tokens"] for n, info in infos.items()}
    validation = {n: tokens for n, tokens in held_out.items() if tokens}
    if sum(validation.values()) >= batch_tokens:
        patterns = {n: split_glob(str(data[n]), "validation") for n in validation}
        weighted = ";".join(f"{patterns[n]},{tokens}" for n, tokens in validation.items())
        flags["grain_eval_files"] = weighted if len(patterns) > 1 else next(iter(patterns.values()))
        # MaxText evaluates after step index i when (i - eval_start_step) % eval_interval == 0: this makes it
        # every `eval_every` completed steps, or once after the last step.
        interval = spec.eval_every or spec.total_steps
        flags.update(eval_interval=interval, eval_start_step=interval - 1)
        flags["eval_steps"] = min(MAX_EVAL_STEPS, sum(validation.values()) // batch_tokens)
    elif spec.eval_every:
        ctx.log.warning("eval_every is set but the validation splits hold less than one batch; no validation loss")
    return flags


def _init_checkpoint(spec: Train, upstream: Path, vocab_size: int) -> Path:
    """The final checkpoint of the `init_from` run, after checking its shape fits this model."""
    other = json.loads((upstream / MODEL_FILE).read_text())
    mine = {**spec.model.model_dump(), "vocab_size": vocab_size}
    differ = [f"{k}: {other['model'][k]} there, {mine[k]} here" for k in SHAPE_FIELDS if other["model"][k] != mine[k]]
    if differ:
        raise TrainingError(
            f"init_from = {spec.init_from} has another model shape ({'; '.join(differ)}); its weights cannot "
            "initialise this model: use the same model sizes (seq_len may differ)"
        )
    return upstream / str(other["checkpoint"])


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
    log_path = ctx.output_dir / "maxtext.log"
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


def _last_checkpoint(folder: Path) -> int | None:
    """The newest committed checkpoint step (orbax writes `commit_success.txt` last), if any."""
    if not folder.is_dir():
        return None
    steps = [int(p.name) for p in folder.iterdir() if p.name.isdigit() and (p / "commit_success.txt").is_file()]
    return max(steps, default=None)


def _publish(
    spec: Train,
    ctx: StepContext[Train],
    work: Path,
    vocab_size: int,
    devices: int,
    throughput: list[float],
    seconds: float,
) -> StepResult:
    run = work / RUN_NAME
    final = _last_checkpoint(run / "checkpoints")
    if final is None:
        raise TrainingError(f"MaxText finished without a checkpoint under {run / 'checkpoints'}")
    for name in ("checkpoints", "tensorboard"):
        os.replace(run / name, ctx.output_dir / name)
    shutil.copytree(next(iter(_data_inputs(spec, ctx).values())) / TOKENIZER_DIR, ctx.output_dir / TOKENIZER_DIR)
    series = read_series(ctx.output_dir / "tensorboard")
    model = {
        "model": {**spec.model.model_dump(), "vocab_size": vocab_size},
        "checkpoint": checkpoint_items(final),
        "final_step": final,
        "tokenizer": f"{TOKENIZER_DIR}/{TOKENIZER_FILE}",
    }
    (ctx.output_dir / MODEL_FILE).write_text(json.dumps(model, indent=2, sort_keys=True))
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
