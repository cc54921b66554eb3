"""The DPO trainer lmspec runs as a child process: `python -m lmspec.runtime.training.dpo_maxtext key=value ...`,
MaxText's own DPO trainer (`maxtext.trainers.post_train.dpo.train_dpo`: Tunix's `DPOTrainer` on the MaxText
model, its reference a frozen copy of the `load_parameters_path` weights, MaxText's grain DPO pipeline, optimizer,
schedule and metric logger) with three things of lmspec's around it, each for a gap in Tunix 0.1.5:

- Checkpoints. Tunix checkpoints the weights alone (no optimizer state, no data position), so a resumed run would
  restart Adam's moments and its schedule and re-read the first batches: another curve. lmspec turns Tunix's
  checkpointing off (`checkpoint_dir` unset in the config Tunix reads) and its training hooks save what MaxText's
  own trainers save, in their layout (`checkpoints/<step>/items`: the weights as `params/params`, which `init_from`
  and `evaluate` load, the optimizer state and the step), at MaxText's steps; a restarted run restores them before
  its first step and skips the batches already trained on (the pipeline is deterministic), so it continues the
  same curve.
- Curves. MaxText's DPO hooks log Tunix's preference metrics as the mean over all steps so far, one step number
  ahead of MaxText's pre-training loop; lmspec's hooks log each step's own values at that loop's step numbers.
- The model's name. MaxText's Tunix adapter looks up the Hugging Face config of `model_name` to map weights for
  vLLM rollouts, which DPO never does; lmspec's models are MaxText's `default` model sized by flags, so the
  name gets an empty config.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp  # type: ignore[import-untyped]
from flax import nnx
from maxtext.trainers.post_train.dpo.hooks import DPOTrainingHooks

TUNIX_METRICS = {
    "rewards/accuracy": "learning/reward_accuracy",
    "rewards/margin": "learning/reward_margin",
    "rewards/chosen": "learning/rewards/chosen",
    "rewards/rejected": "learning/rewards/rejected",
    "log_probs/chosen": "learning/log_probs/chosen",
    "log_probs/rejected": "learning/log_probs/rejected",
}
"""Tunix's DPO metric -> the TensorBoard tag it is written under (MaxText's tag where MaxText's hooks name one)."""


def main(argv: Sequence[str]) -> None:
    """Train until `steps`, resuming from the newest checkpoint under the run directory when there is one.
    `argv[0]` is the program (absl's `app.run` convention, which also sets up MaxText's logging)."""
    from maxtext.configs import pyconfig
    from maxtext.trainers.post_train.dpo import train_dpo

    # Tunix also logs to Weights & Biases whenever wandb imports (a MaxText dependency), which then wants a login;
    # lmspec's curves are the TensorBoard ones.
    os.environ.setdefault("WANDB_MODE", "disabled")
    config = pyconfig.initialize_pydantic(list(argv))
    train_dpo.validate_config(config)
    _name_model(config.model_name)
    checkpoints = Checkpoints(Path(config.checkpoint_dir), config.checkpoint_period)
    weights_only = config.model_copy(update={"checkpoint_dir": None})  # Tunix's own checkpoints: off
    hooks = functools.partial(ResumableDpoHooks, checkpoints=checkpoints)
    trainer, _ = train_dpo.train(weights_only, None, hooks)
    trainer.training_hooks.metric_logger.flush_metrics_and_cleanup()  # after Tunix logged the last step


def _name_model(name: str) -> None:
    from maxtext.checkpoint_conversion.utils.hf_model_configs import HF_MODEL_CONFIGS
    from transformers import PretrainedConfig

    HF_MODEL_CONFIGS.setdefault(name, PretrainedConfig())


class ResumableDpoHooks(DPOTrainingHooks):  # type: ignore[misc]  # MaxText is untyped
    """MaxText's DPO training hooks, resuming from and saving `checkpoints`, logging every step's own metrics.

    Tunix counts updates (it calls `on_train_step_end` with 1 after the first); MaxText's loops number a step
    by the updates before it, as lmspec's curves and checkpoints do: step = updates - 1.
    """

    step_start_time: float  # MaxText's: when the step being logged began

    def __init__(self, *args: Any, checkpoints: Checkpoints) -> None:
        super().__init__(*args)
        self.checkpoints = checkpoints

    def on_train_start(self, train_ctx: Any) -> None:
        step = self.checkpoints.latest()
        if step is not None:
            self.checkpoints.restore(train_ctx, step)
            _continue_after(train_ctx, step + 1)
        super().on_train_start(train_ctx)

    def on_train_step_start(self, train_ctx: Any) -> None:
        """Before each update: save the state of the previous one when it is a checkpoint step."""
        updates = train_ctx.train_steps
        if updates and (updates - 1) % self.checkpoints.period == 0:
            self.checkpoints.save(train_ctx, updates - 1)
        super().on_train_step_start(train_ctx)

    def on_train_step_end(self, train_ctx: Any, train_step: int, train_loss: float, step_time: float = 0.0) -> None:
        """Write the step's loss and Tunix's preference metrics of that step (the last value it logged of each),
        with MaxText's throughput figures and its `completed step` log line."""
        step = train_step - 1
        now = time.perf_counter()
        seconds = now - self.step_start_time
        self.step_start_time = now
        history = train_ctx.metrics_logger.get_metric_history
        scalars = {
            "learning/loss": float(train_loss),
            "learning/total_weights": self.train_metadata.pop(step)["total_weights"],
            **{tag: float(history(train_ctx.metrics_prefix, name, "train")[-1]) for name, tag in TUNIX_METRICS.items()},
        }
        metrics = {"scalar": scalars}
        self.metric_logger.record_train_metrics(metrics, step, seconds)
        self.metric_logger.write_metrics(metrics, step)

    def on_train_end(self, train_ctx: Any) -> None:
        """Save the final state; keep the metric logger open (Tunix logs the last step after this, `main` closes it)."""
        self.checkpoints.save(train_ctx, train_ctx.train_steps - 1)


class Checkpoints:
    """MaxText-layout checkpoints of a Tunix DPO run: `<folder>/<step>/items` holding the policy's weights as
    `params/params` (what MaxText loads with `load_parameters_path`), the optimizer state's arrays and the step."""

    def __init__(self, folder: Path, period: int) -> None:
        self.period = period
        options = ocp.CheckpointManagerOptions(create=True, enable_async_checkpointing=False)
        self.manager = ocp.CheckpointManager(folder, item_names=("items",), options=options)

    def latest(self) -> int | None:
        step = self.manager.latest_step()
        return None if step is None else int(step)

    def save(self, trainer: Any, step: int) -> None:
        """Save the trainer's state after update `step` (counted from 0), unless that step is saved already."""
        if step in self.manager.all_steps():
            return
        state = _train_state(trainer, step)
        self.manager.save(step, args=ocp.args.Composite(items=ocp.args.PyTreeSave(state)), force=True)
        self.manager.wait_until_finished()

    def restore(self, trainer: Any, step: int) -> None:
        """Load the policy's weights and the optimizer state of checkpoint `step` into the trainer."""
        target = _train_state(trainer, step)
        restore_args = ocp.checkpoint_utils.construct_restore_args(target)
        restored = self.manager.restore(
            step, args=ocp.args.Composite(items=ocp.args.PyTreeRestore(item=target, restore_args=restore_args))
        )["items"]
        params = nnx.state(trainer.model.base, nnx.Param)
        params.replace_by_pure_dict(restored["params"]["params"])
        nnx.update(trainer.model.base, params)
        optimizer = nnx.state(trainer.optimizer)
        nnx.update(trainer.optimizer, _unflatten_like(optimizer, restored["opt_state"]))


def _train_state(trainer: Any, step: int) -> dict[str, Any]:
    """What a checkpoint holds: MaxText's layout for the weights; the optimizer state as its list of arrays
    (only this module reads it back, into the same optimizer)."""
    weights = nnx.state(trainer.model.base, nnx.Param).to_pure_dict()
    return {
        "params": {"params": weights},
        "opt_state": jax.tree.leaves(nnx.state(trainer.optimizer)),
        "step": step,
    }


def _unflatten_like(state: Any, leaves: list[Any]) -> Any:
    return jax.tree.unflatten(jax.tree.structure(state), leaves)


def _continue_after(trainer: Any, updates: int) -> None:
    """Set Tunix's counters to `updates` (it resumes them only from its own checkpoints, in `PeftTrainer.__init__`)
    and have the batches those updates consumed skipped."""
    per_update = trainer.config.get_with_default("gradient_accumulation_steps", 1)
    trainer._train_steps = updates
    trainer._iter_steps = updates * per_update
    hooks = trainer.data_hooks
    hooks.train_data_loader = SkippingLoader(hooks.train_data_loader, updates * per_update)


class SkippingLoader:
    """MaxText's data loader, reading past the first `skip` batches at its first read. Not before: Tunix's loop
    starts the pipeline over (`iter()` resets MaxText's iterator) after `on_train_start`."""

    def __init__(self, loader: Any, skip: int) -> None:
        self.loader = loader
        self.skip = skip

    def load_next_batch(self, *args: Any, **kwargs: Any) -> Any:
        for _ in range(self.skip):
            self.loader.load_next_batch_pre_sharding()
        self.skip = 0
        return self.loader.load_next_batch(*args, **kwargs)


if __name__ == "__main__":
    from absl import app

    app.run(main)
