"""The DPO trainer lmspec runs as a child process: `python -m lmspec.runtime.training.dpo_maxtext key=value ...`.

MaxText 0.2.5 trains DPO through Tunix's `DPOTrainer` (`maxtext.trainers.post_train.dpo.train_dpo`), and Tunix
is not an lmspec dependency; MaxText's own pre-training loop refuses `use_dpo`. Everything around the step is
MaxText's, exactly as its pre-training loop uses it: the config (`use_dpo=true`, so MaxText checks its DPO
settings), `train_utils.setup_train_loop` (model, AdamW and schedule, the resumable checkpoint manager, and the
grain DPO pipeline: prompt left-padded, responses right-padded, by `dpo_utils.DPODataFormatting`), its
checkpoints (the layout `init_from` and `evaluate` load) and its metric logger (TensorBoard and the
`completed step` log lines). Only the step is lmspec's: the DPO loss of Rafailov et al. (2023), as Tunix
computes it, against a frozen reference model loaded from `load_parameters_path`.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any


def main(argv: Sequence[str]) -> None:
    """Train until `steps`, resuming from the newest checkpoint under the run directory when there is one.
    `argv[0]` is the program (absl's `app.run` convention, which also sets up MaxText's logging)."""
    import jax
    from flax import nnx
    from maxtext.common import checkpointing
    from maxtext.common.metric_logger import MetricLogger
    from maxtext.configs import pyconfig
    from maxtext.utils import model_creation_utils, train_utils

    jax.config.update("jax_default_prng_impl", "unsafe_rbg")  # type: ignore[no-untyped-call]  # as MaxText's
    config = pyconfig.initialize_pydantic([*argv, "use_dpo=true"])
    _, checkpoint_manager, _, _, mesh, schedule, data_iterator, data_loader, rampup, _, state = (
        train_utils.setup_train_loop(config, None)
    )
    start = int(state.optimizer.step.get_value())
    # The frozen reference: the init_from weights (given a mesh, from_pretrained returns the model alone).
    reference = nnx.state(model_creation_utils.from_pretrained(config, mesh), nnx.Param)
    graphdef, state = nnx.split(state)
    step_fn = jax.jit(_dpo_step(graphdef, config), donate_argnums=0)
    logger = MetricLogger(config, schedule, start)
    logger.write_setup_info_to_tensorboard(reference)
    last = datetime.datetime.now()
    for step in range(start, config.steps):
        batch = data_loader.load_next_batch(rampup_manager=rampup)
        with jax.set_mesh(mesh):
            state, metrics = step_fn(state, reference, batch)
        now = datetime.datetime.now()
        logger.buffer_and_write_metrics(metrics, step, now - last)
        last = now
        checkpointing.maybe_save_checkpoint(checkpoint_manager, state, config, data_iterator, step)
    logger.flush_metrics_and_cleanup()
    checkpointing.maybe_save_checkpoint(checkpoint_manager, state, config, data_iterator)
    checkpointing.wait_until_finished(checkpoint_manager)


def _dpo_step(graphdef: Any, config: Any) -> Any:
    """(state, reference params, batch) -> (new state, metrics): one optimizer step on the DPO loss."""
    import jax
    import jax.numpy as jnp
    from flax import nnx
    from maxtext.utils import max_utils, maxtext_utils

    beta, smoothing = config.dpo.dpo_beta, config.dpo.dpo_label_smoothing

    def step(state: Any, reference: Any, batch: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        train_state = nnx.merge(graphdef, state)
        model_graphdef, params, *rest = nnx.split(train_state.model, nnx.Param, ...)
        reference_logps = jax.lax.stop_gradient(_pair_logps(nnx.merge(model_graphdef, reference, *rest), batch))

        def loss_of(params: Any) -> tuple[Any, dict[str, Any]]:
            policy = _pair_logps(nnx.merge(model_graphdef, params, *rest, copy=True), batch)
            return dpo_loss(policy, reference_logps, beta, smoothing)

        (loss, aux), grads = jax.value_and_grad(loss_of, has_aux=True)(params)
        if config.gradient_clipping_threshold > 0:
            grads = maxtext_utils.apply_gradient_clipping(grads, None, config.gradient_clipping_threshold)
        train_state.apply_gradients(grads)
        tokens = jnp.sum(batch["chosen_mask"] != 0) + jnp.sum(batch["rejected_mask"] != 0)
        scalars = {
            "learning/loss": loss,
            "learning/dpo_loss": loss,
            "learning/total_weights": tokens,
            "learning/grad_norm": max_utils.l2norm_pytree(grads),
            **aux,
        }
        return nnx.state(train_state, nnx.Not(nnx.Intermediate)), {"scalar": scalars, "scalars": {}}

    return step


def dpo_loss(policy: Any, reference: Any, beta: float, smoothing: float) -> tuple[Any, dict[str, Any]]:
    """The (conservative, with label smoothing) DPO loss of (chosen, rejected) log-probabilities, and what
    it is watched by: the implicit rewards beta * (log pi - log pi_ref), their margin and how often the
    chosen response wins, and the policy's own log-probabilities."""
    import jax
    import jax.numpy as jnp

    chosen_reward = beta * (policy[0] - reference[0])
    rejected_reward = beta * (policy[1] - reference[1])
    margin = chosen_reward - rejected_reward
    losses = -jax.nn.log_sigmoid(margin) * (1 - smoothing) - jax.nn.log_sigmoid(-margin) * smoothing
    return jnp.mean(losses), {
        "learning/reward_accuracy": jnp.mean((margin > 0).astype(jnp.float32)),
        "dpo/reward_margin": jnp.mean(margin),
        "dpo/chosen_reward": jnp.mean(chosen_reward),
        "dpo/rejected_reward": jnp.mean(rejected_reward),
        "dpo/chosen_logps": jnp.mean(policy[0]),
        "dpo/rejected_logps": jnp.mean(policy[1]),
    }


def _pair_logps(model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
    """log p(response | prompt) of the chosen and the rejected response of every pair, one forward pass for both."""
    import jax.numpy as jnp

    prompt, prompt_mask = batch["prompt_ids"], batch["prompt_mask"]
    responses = jnp.concatenate([batch["chosen_ids"], batch["rejected_ids"]], axis=0)
    response_masks = jnp.concatenate([batch["chosen_mask"], batch["rejected_mask"]], axis=0)
    prompts = jnp.concatenate([prompt, prompt], axis=0)
    prompt_masks = jnp.concatenate([prompt_mask, prompt_mask], axis=0)
    logps = sequence_logps(model, prompts, prompt_masks, responses, response_masks)
    pairs = prompt.shape[0]
    return logps[:pairs], logps[pairs:]


def sequence_logps(model: Any, prompt: Any, prompt_mask: Any, response: Any, response_mask: Any) -> Any:
    """Sum of log p(token) over each row's response tokens, the prompt (left-padded) as context.

    Padding is segment 0, so no real token attends to it; positions count real tokens only, so a left-padded
    prompt starts at position 0 as in training."""
    import jax
    import jax.numpy as jnp

    tokens = jnp.concatenate([prompt, response], axis=1)
    mask = jnp.concatenate([prompt_mask, response_mask], axis=1)
    positions = jnp.maximum(jnp.cumsum(mask, axis=1) - 1, 0)
    logits = model(
        decoder_input_tokens=tokens, decoder_positions=positions, decoder_segment_ids=mask, enable_dropout=False
    )
    logprobs = jax.nn.log_softmax(logits[:, :-1].astype(jnp.float32), axis=-1)
    picked = jnp.take_along_axis(logprobs, tokens[:, 1:, None], axis=-1)[..., 0]
    scored = jnp.concatenate([jnp.zeros_like(prompt_mask), response_mask], axis=1)[:, 1:]
    return jnp.sum(picked * scored, axis=-1)


if __name__ == "__main__":
    from absl import app

    app.run(main)
