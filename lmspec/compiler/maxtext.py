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
from lmspec.schemas.training import ConstantSchedule, CosineSchedule, LinearSchedule, Train, WsdSchedule

Flags = dict[str, str | int | float | bool]

TRAIN_MODULE = "maxtext.trainers.pre_train.train"
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


def hardware_flags(hardware: Slice, batch_size: int) -> Flags:
    """Device flags and the per-device share of the global batch."""
    flags: Flags = {"per_device_batch_size": batch_size / hardware.devices}
    family = hardware.accelerator.family
    if family == "cpu":
        # Without skip_jax_distributed_system, hardware=cpu fails inside jax.distributed (engine notes).
        flags.update(hardware="cpu", skip_jax_distributed_system=True, async_checkpointing=False)
    elif family == "gpu":
        flags["hardware"] = "gpu_multiprocess" if hardware.hosts > 1 else "gpu"
    else:
        flags["hardware"] = "tpu"
    return flags


def command_line(flags: Flags, python: str = "python3") -> list[str]:
    """The MaxText training command for a flag set, keys in a stable order."""
    return [python, "-m", TRAIN_MODULE, *(f"{key}={_value(value)}" for key, value in sorted(flags.items()))]


def launch_command(step_name: str, step_hash: str, hardware: Slice, flags: Flags) -> str | None:
    """For a job that spans hosts, the XPK command that launches it on a GKE cluster; None for one host.

    CLUSTER and IMAGE are placeholders the user fills in: lmspec does not provision clusters.
    """
    if hardware.hosts <= 1:
        return None
    device_flag = (
        f"--tpu-type={hardware.type}"
        if hardware.accelerator.family == "tpu"
        else f"--device-type={hardware.name}-{hardware.accelerator.devices_per_host}"
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
