"""Lowering a `train` step to MaxText: its `key=value` config overrides and, for pods, the launch command.

Pure data: `lmspec compile` shows these without importing MaxText, and the train executor adds only
the paths of one execution (data files, output directory, tokenizer) before running them. Every spec
field has exactly one MaxText key here; a setting MaxText cannot express is rejected by the schema's
cross-field rules, never silently dropped.
"""

from __future__ import annotations

import math
import shlex
from typing import Any

from lmspec.compiler.hardware import Slice
from lmspec.compiler.plan import join
from lmspec.schemas.training import ConstantSchedule, CosineSchedule, LinearSchedule, Train, WsdSchedule

Flags = dict[str, str | int | float | bool]

TRAIN_MODULE = "maxtext.trainers.pre_train.train"
RUN_NAME = "run"
"""MaxText's run directory under a train step's resume directory: `<out>.resume/run/checkpoints/...`."""
TOKENIZER_DIR = "tokenizer"
"""The tokenizer directory inside tokenizer, tokenize and train outputs."""


def checkpoint_items(step: int) -> str:
    """A train output's checkpoint of `step`, relative to the output (what `load_parameters_path` takes)."""
    return f"checkpoints/{step}/items"


DEFAULT_VOCAB_SIZE = 32_000
"""Assumed by estimates when a step's vocabulary is known only at run time (a tokenizer file path)."""


def train_flags(train: Train, vocab_size: int) -> Flags:
    """The MaxText keys for what the step computes: model, optimizer, schedule, length, batch, seed."""
    model = train.model
    steps = train.total_steps
    flags: Flags = {
        "base_emb_dim": model.emb_dim,
        "base_num_decoder_layers": model.num_layers,
        "base_num_query_heads": model.num_heads,
        "base_num_kv_heads": model.num_kv_heads,
        "base_mlp_dim": model.mlp_dim,
        "head_dim": model.head_dim,
        "vocab_size": vocab_size,
        "max_target_length": model.seq_len,
        "dtype": model.dtype,
        "steps": steps,
        "learning_rate_schedule_steps": steps,
        "init_weights_seed": train.seed,
        "data_shuffle_seed": train.seed,
        "dropout_rate": 0.0,
        "opt_type": train.optimizer.name,
        "learning_rate": train.optimizer.lr,
        "adam_b1": train.optimizer.beta1,
        "adam_b2": train.optimizer.beta2,
        "adam_eps": train.optimizer.eps,
        "adam_weight_decay": train.optimizer.weight_decay,
        "gradient_clipping_threshold": train.optimizer.grad_clip,
        "z_loss_multiplier": train.optimizer.z_loss,
    }
    flags.update(schedule_flags(train))
    return flags


def schedule_flags(train: Train) -> Flags:
    """Warm-up and decay as MaxText's fractions, chosen so that MaxText's `int(steps * fraction)` gives back
    exactly the spec's step counts."""
    schedule, steps = train.schedule, train.total_steps
    flags: Flags = {"warmup_steps_fraction": exact_fraction(schedule.warmup_steps, steps)}
    match schedule:
        case CosineSchedule():
            flags.update(lr_schedule_type="cosine", learning_rate_final_fraction=schedule.min_lr_ratio)
        case ConstantSchedule():
            flags.update(lr_schedule_type="wsd", wsd_decay_steps_fraction=0.0, learning_rate_final_fraction=1.0)
        case LinearSchedule():
            flags.update(
                lr_schedule_type="wsd",
                wsd_decay_style="linear",
                wsd_decay_steps_fraction=exact_fraction(steps - schedule.warmup_steps, steps),
                learning_rate_final_fraction=schedule.min_lr_ratio,
            )
        case WsdSchedule():
            flags.update(
                lr_schedule_type="wsd",
                wsd_decay_style="linear",
                wsd_decay_steps_fraction=schedule.decay_fraction,
                learning_rate_final_fraction=schedule.min_lr_ratio,
            )
    return flags


def exact_fraction(part: int, whole: int) -> float:
    """The smallest float f with int(whole * f) == part (part / whole can land one ulp short)."""
    fraction = part / whole
    while int(whole * fraction) < part:
        fraction = math.nextafter(fraction, 2.0)
    return fraction


def split_file(split: str, index: int) -> str:
    """Shard `index` of a tokenize output's `split` ("train" or "validation")."""
    return f"{split}-{index:05d}.array_record"


def split_glob(tokens_output: str, split: str) -> str:
    """The pattern MaxText's `grain_*_files` takes for one split of a tokenize output."""
    return join(tokens_output, f"{split}-*.array_record")


def data_flags(train: Train, tokens_outputs: dict[str, str], append_eos: bool) -> Flags:
    """Grain over the tokenize outputs' ArrayRecord shards, `tokens_outputs` in the order of `train.data`;
    a mixture is MaxText's weighted `pattern,weight;pattern,weight` form."""
    weights = {train.data: 1.0} if isinstance(train.data, str) else train.data
    patterns = {ref: split_glob(tokens_outputs[ref[1:]], "train") for ref in weights}
    files = ";".join(f"{patterns[ref]},{weight}" for ref, weight in weights.items())
    return {
        "dataset_type": "grain",
        "grain_file_type": "arrayrecord",
        "grain_train_files": files if len(weights) > 1 else next(iter(patterns.values())),
        "grain_worker_count": 0,  # workers >= 1 print an AssertionError at exit (engine notes)
        "grain_worker_count_eval": 0,
        "use_truncation": False,  # split long documents into several sequences instead of cutting them
        "tokenizer_type": "huggingface",
        "tokenizer_path": join(tokens_outputs[next(iter(weights))[1:]], TOKENIZER_DIR),
        "add_bos": True,
        "add_eos": append_eos,
    }


def output_flags(train: Train, work_dir: str) -> Flags:
    """Where MaxText writes (a directory that survives killed attempts), checkpoints and curves."""
    return {
        "run_name": RUN_NAME,
        "base_output_directory": work_dir,
        "enable_checkpointing": True,
        "checkpoint_period": train.checkpoint_every or max(1, train.total_steps // 10),
        "enable_tensorboard": True,
        "log_period": 1,  # TensorBoard flushes every step: a killed run keeps its curve up to its last step
        "enable_goodput_recording": False,
        "monitor_goodput": False,
    }


def hardware_flags(hardware: Slice, train: Train) -> Flags:
    """Device flags and the per-device share of the global batch.

    On GPUs a bfloat16 model gets cuDNN's fused attention through JAX (`cudnn_flash_jax`): the same
    attention, measured 11-12% faster than MaxText's default for the 150m preset on an H100
    (bench/README.md), with no Transformer Engine to install. cuDNN has no float32 fused attention, so a
    float32 model keeps the default.
    """
    flags: Flags = {"per_device_batch_size": train.batch_size / hardware.devices}
    family = hardware.accelerator.family
    if family == "cpu":
        # Without skip_jax_distributed_system, hardware=cpu fails inside jax.distributed (engine notes).
        flags.update(hardware="cpu", skip_jax_distributed_system=True, async_checkpointing=False)
    elif family == "gpu":
        flags["hardware"] = "gpu_multiprocess" if hardware.hosts > 1 else "gpu"
        if train.model.dtype == "bfloat16":
            flags["attention"] = "cudnn_flash_jax"
    else:
        flags["hardware"] = "tpu"
    return flags


def command_line(flags: Flags, python: str = "python3") -> list[str]:
    """The MaxText training command for a flag set, keys in a stable order."""
    return [python, "-m", TRAIN_MODULE, *(f"{key}={_value(value)}" for key, value in sorted(flags.items()))]


XPK_GPU_TYPES = {"h100": "h100-80gb-8", "h200": "h200-141gb-8", "a100": "a100-80gb-8"}
"""XPK's names for 8-GPU hosts."""


def launch_command(step_name: str, step_hash: str, hardware: Slice, flags: Flags) -> str | None:
    """For a job that spans hosts, the XPK command that launches it on a GKE cluster; None for one host.

    CLUSTER and IMAGE are placeholders the user fills in: lmspec does not provision clusters.
    """
    if hardware.hosts <= 1:
        return None
    per_host = hardware.accelerator.devices_per_host
    device_flag = (
        f"--tpu-type={hardware.type}"
        if hardware.accelerator.family == "tpu"
        else f"--device-type={XPK_GPU_TYPES.get(hardware.name, f'{hardware.name}-{per_host}')}"
    )
    workload = f"lmspec-{step_name.replace('_', '-')}-{step_hash}"[:40]
    inner = shlex.join(command_line(flags))
    return (
        f"xpk workload create --cluster=$CLUSTER --docker-image=$IMAGE --workload={workload} "
        f"{device_flag} --num-slices=1 --command={shlex.quote(inner)}"
    )


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
