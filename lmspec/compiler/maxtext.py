"""Lowering a training step to MaxText: its `key=value` config overrides and, for pods, the launch command.

Pure data, one lowering for both commands: `lmspec compile` calls `lower` with the plan's paths to show
the estimates and the launch command without importing MaxText, and the train executor calls the same
`lower` with one execution's paths, adding only what depends on the data's size (`data_size_flags`,
once the tokenize outputs exist). Every spec field has exactly one MaxText key here; a setting MaxText
cannot express is rejected by the schema's cross-field rules, never silently dropped.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lmspec.compiler.hardware import Slice
from lmspec.outputs.chat import CONVERSATIONS, PAIRS, prepared_glob
from lmspec.outputs.model import Flags
from lmspec.outputs.tokenizer import tokenizer_dir
from lmspec.outputs.tokens import TRAIN, VALIDATION, TokensInfo, split_glob
from lmspec.schemas.post_training import Dpo, Sft
from lmspec.schemas.training import (
    ConstantSchedule,
    CosineSchedule,
    LinearSchedule,
    MaxTextTraining,
    ModelConfig,
    WsdSchedule,
)

TRAIN_MODULE = MaxTextTraining.trainer
DPO_COLUMNS = "['prompt','chosen','rejected']"
"""The text features of a dpo step's prepared ArrayRecord files, as MaxText's DPO pipeline reads them."""
RUN_NAME = "run"
"""MaxText's run directory under a train step's resume directory: `<out>.resume/run/checkpoints/...`."""
DEFAULT_VOCAB_SIZE = 32_000
"""Assumed by estimates when a step's vocabulary is known only at run time (a tokenizer file path)."""
DATA_MARGIN = 1.25
"""Extra epochs of data beyond the tokens the steps consume, for packing and padding losses."""
MAX_EVAL_STEPS = 20
"""Batches per validation round at most: a stable loss without making evaluation cost like training."""


@dataclass(frozen=True)
class TrainingData:
    """The tokenize outputs a run reads, by path or URL, with their mixture weights in the spec's order."""

    weights: dict[str, float]
    append_eos: bool
    """Whether the documents end with eos (the first output's tokenize setting; MaxText adds it on the fly)."""


def lower(
    training: MaxTextTraining,
    *,
    hardware: Slice,
    vocab_size: int,
    data: TrainingData | None,
    work_dir: str,
    init_checkpoint: str | None,
) -> Flags:
    """Every MaxText override of a training step on `hardware`, reading `data` (None for sft and dpo, which read
    what they prepare under `work_dir`), writing under `work_dir`, starting from the weights at
    `init_checkpoint` (None: from scratch)."""
    flags: Flags = {
        **train_flags(training, vocab_size),
        **hardware_flags(hardware, training),
        **input_flags(training, data, work_dir),
        **output_flags(training, work_dir),
    }
    if init_checkpoint is not None:
        flags["load_parameters_path"] = init_checkpoint
    return flags


def data_size_flags(training: MaxTextTraining, tokens: dict[str, TokensInfo]) -> Flags:
    """What depends on the size of the data (tokenize output path -> its counts), known once it exists:
    enough epochs of the train splits for the run's tokens, and evaluation on the validation splits
    when they hold at least one batch (MaxText's eval needs a whole batch). The train splits must hold a
    batch too, which the executor checks first, with the step's references in its message."""
    batch_tokens = training.batch_size * training.model.seq_len
    train_tokens = sum(info.train.tokens for info in tokens.values())
    flags: Flags = {"num_epoch": math.ceil(training.total_tokens * DATA_MARGIN / train_tokens)}
    validation = {split_glob(path, VALIDATION): info.validation.tokens for path, info in tokens.items()}
    held_out = {pattern: count for pattern, count in validation.items() if count}
    if sum(held_out.values()) >= batch_tokens:
        # MaxText evaluates after step index i when (i - eval_start_step) % eval_interval == 0: this makes it
        # every `eval_every` completed steps, or once after the last step.
        interval = training.eval_every or training.total_steps
        flags.update(
            grain_eval_files=_weighted(held_out),
            eval_interval=interval,
            eval_start_step=interval - 1,
            eval_steps=min(MAX_EVAL_STEPS, sum(held_out.values()) // batch_tokens),
        )
    return flags


def records_flags(training: MaxTextTraining, records: int) -> Flags:
    """What depends on how many records an sft or dpo step prepared: enough epochs of them for every step (sft
    packs several conversations into one sequence, so this over-counts, never under)."""
    return {"num_epoch": math.ceil(training.total_steps * training.batch_size * DATA_MARGIN / records)}


def train_flags(train: MaxTextTraining, vocab_size: int) -> Flags:
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
    flags.update(architecture_flags(model))
    return flags


def architecture_flags(model: ModelConfig) -> Flags:
    """The MaxText decoder block that has what the model asks for, and its keys. A plain model keeps MaxText's
    default Llama block and adds no key, so its flags are what they always were.

    MaxText's llama2 block ignores experts, QK-norm and post-norms, so each option picks a block that reads it:
    qwen3 is the Llama block with `use_qk_norm`, qwen3_moe the same with routed experts (each `mlp_dim` wide),
    olmo3 normalises the attention and MLP outputs (OLMo 2's post-norm); its sliding-window layers get a
    window as long as the sequence, so every layer attends globally as Llama's do.
    """
    flags: Flags = {}
    if model.post_attn_norm:
        flags.update(decoder_block="olmo3", sliding_window_size=model.seq_len)
    elif model.is_moe:
        flags.update(
            decoder_block="qwen3_moe",
            num_experts=model.num_experts,
            num_experts_per_tok=model.experts_per_token,
            base_moe_mlp_dim=model.mlp_dim,
        )
    elif model.qk_norm:
        flags["decoder_block"] = "qwen3"
    if model.qk_norm:
        flags["use_qk_norm"] = True
    return flags


def schedule_flags(train: MaxTextTraining) -> Flags:
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


def input_flags(training: MaxTextTraining, data: TrainingData | None, work_dir: str) -> Flags:
    """What the trainer reads: a train step its tokenize outputs; sft and dpo the files (and the tokenizer with
    its chat template) their executor prepares under `work_dir`, whose templates place bos and eos."""
    if data is not None:
        return data_flags(data)
    post: Flags = {
        "dataset_type": "grain",
        "grain_worker_count": 0,
        "tokenizer_type": "huggingface",
        "tokenizer_path": tokenizer_dir(work_dir),
        "add_bos": False,
        "add_eos": False,
    }
    match training:
        case Sft():
            post.update(
                grain_file_type="parquet",
                grain_train_files=prepared_glob(work_dir, CONVERSATIONS),
                train_data_columns="['messages']",
                sft_train_on_completion_only=training.train_on == "assistant",
                packing=True,
            )
        case Dpo():
            post.update(
                {
                    "use_dpo": True,
                    "grain_file_type": "arrayrecord",
                    "grain_train_files": prepared_glob(work_dir, PAIRS),
                    "train_data_columns": DPO_COLUMNS,
                    "packing": False,
                    "dpo.dpo_beta": training.beta,
                    "dpo.dpo_label_smoothing": training.label_smoothing,
                    "dpo.max_prompt_length": training.prompt_length,
                }
            )
    return post


def data_flags(data: TrainingData) -> Flags:
    """Grain over the tokenize outputs' ArrayRecord files; a mixture is MaxText's weighted
    `pattern,weight;pattern,weight` form. The tokenizer is the first output's copy."""
    return {
        "dataset_type": "grain",
        "grain_file_type": "arrayrecord",
        "grain_train_files": _weighted({split_glob(path, TRAIN): weight for path, weight in data.weights.items()}),
        "grain_worker_count": 0,  # workers >= 1 print an AssertionError at exit (engine notes)
        "grain_worker_count_eval": 0,
        "use_truncation": False,  # split long documents into several sequences instead of cutting them
        "tokenizer_type": "huggingface",
        "tokenizer_path": tokenizer_dir(next(iter(data.weights))),
        "add_bos": True,
        "add_eos": data.append_eos,
    }


def _weighted(patterns: Mapping[str, float]) -> str:
    """One file pattern as is; several as MaxText's `pattern,weight;pattern,weight` mixture."""
    if len(patterns) == 1:
        return next(iter(patterns))
    return ";".join(f"{pattern},{weight}" for pattern, weight in patterns.items())


def output_flags(train: MaxTextTraining, work_dir: str) -> Flags:
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


def hardware_flags(hardware: Slice, train: MaxTextTraining) -> Flags:
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
        if train.model.is_moe:  # the same result 7x faster here than the grouped (megablox) matmul, emulated on CPU
            flags["sparse_matmul"] = False
    elif family == "gpu":
        flags["hardware"] = "gpu_multiprocess" if hardware.hosts > 1 else "gpu"
        if train.model.dtype == "bfloat16":
            flags["attention"] = "cudnn_flash_jax"
    else:
        flags["hardware"] = "tpu"
    return flags


def command_line(flags: Flags, python: str = "python3", module: str = TRAIN_MODULE) -> list[str]:
    """The MaxText training command for a flag set, keys in a stable order."""
    return [python, "-m", module, *(f"{key}={_value(value)}" for key, value in sorted(flags.items()))]


XPK_GPU_TYPES = {"h100": "h100-80gb-8", "h200": "h200-141gb-8", "a100": "a100-80gb-8"}
"""XPK's names for 8-GPU hosts."""


def launch_command(
    step_name: str,
    step_hash: str,
    hardware: Slice,
    flags: Flags,
    module: str = TRAIN_MODULE,
    cluster: str = "$CLUSTER",
    image: str = "$IMAGE",
) -> str | None:
    """For a job that spans hosts, the XPK command that launches its trainer on a GKE cluster; None for one
    host. The cluster and image are the step's `resources.xpk` ones, else placeholders the user fills in
    (lmspec does not provision clusters)."""
    if hardware.hosts <= 1:
        return None
    workload = f"lmspec-{step_name.replace('_', '-')}-{step_hash}"[:40]
    inner = shlex.join(command_line(flags, module=module))
    return (
        f"xpk workload create --cluster={cluster} --docker-image={image} --workload={workload} "
        f"{xpk_device_flag(hardware)} --num-slices=1 --command={shlex.quote(inner)}"
    )


def xpk_device_flag(hardware: Slice) -> str:
    """XPK's name for the slice: a TPU type, or its name for hosts of 8 GPUs."""
    if hardware.accelerator.family == "tpu":
        return f"--tpu-type={hardware.type}"
    per_host = hardware.accelerator.devices_per_host
    return f"--device-type={XPK_GPU_TYPES.get(hardware.name, f'{hardware.name}-{per_host}')}"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
