"""The AlphaZero learner: policy cross-entropy plus value L2 over valid positions, and ``steps``
minibatch updates from the replay window as one ``jax.lax.scan``.

Loss on a batch ``Sample [M]`` (network ``apply_fn(params, observation [M, *O]) -> (logits [M, A],
value [M])``), averaged over the valid positions only (0 if there are none)::

    policy_loss = mean_valid( -sum_a policy[a] * log_softmax(logits)[a] )
    value_loss  = mean_valid( (value - target)^2 )
    loss        = policy_loss + value_weight * value_loss

Invalid positions are replaced by zeros before the network sees them, so whatever they hold
(NaN included) changes neither the loss nor its gradient.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from evojax_rl import validation
from evojax_rl.alphazero.replay import Replay
from evojax_rl.alphazero.selfplay import Sample


class Learner(NamedTuple):
    """``loss(params, batch) -> (loss, metrics)``; ``train(params, opt_state, replay_state, key,
    steps) -> (params, opt_state, metrics)`` (jitted, ``steps`` static)."""

    loss: Callable
    train: Callable


def _masked(batch: Sample) -> Sample:
    """``batch`` with every field of an invalid position set to zero."""
    valid = batch.valid.astype(bool)

    def zero(x):
        return jnp.where(valid.reshape(valid.shape + (1,) * (x.ndim - 1)), x, jnp.zeros_like(x))

    return Sample(zero(batch.observation), zero(batch.policy), zero(batch.value), valid)


def make_learner(apply_fn: Callable, optimizer: optax.GradientTransformation, replay: Replay, *,
                 value_weight: float = 1.0) -> Learner:
    """The learner for ``apply_fn`` with ``optimizer``, sampling minibatches from ``replay``.

    metrics (float32 scalars): ``loss``, ``policy_loss``, ``value_loss``, ``valid_fraction`` (of
    the batch); ``train`` returns their means over the ``steps`` minibatches.
    """
    validation.check_number("value_weight", value_weight, 0.0)

    def loss(params: Any, batch: Sample):
        batch = _masked(batch)
        weight = batch.valid.astype(jnp.float32)
        count = jnp.maximum(jnp.sum(weight), 1.0)
        logits, value = apply_fn(params, batch.observation)
        policy = -jnp.sum(batch.policy * jax.nn.log_softmax(logits, axis=-1), axis=-1)
        policy_loss = jnp.sum(weight * policy) / count
        value_loss = jnp.sum(weight * jnp.square(value - batch.value)) / count
        total = policy_loss + value_weight * value_loss
        metrics = {"loss": total, "policy_loss": policy_loss, "value_loss": value_loss,
                   "valid_fraction": jnp.mean(weight)}
        return total, metrics

    grad_fn = jax.value_and_grad(loss, has_aux=True)

    def train(params, opt_state, replay_state, key: jax.Array, steps: int):
        def update(carry, step_key):
            params, opt_state = carry
            batch = replay.sample(replay_state, step_key)
            (_, metrics), grads = grad_fn(params, batch)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), metrics

        (params, opt_state), metrics = jax.lax.scan(
            update, (params, opt_state), jax.random.split(key, steps))
        return params, opt_state, jax.tree.map(jnp.mean, metrics)

    def checked_train(params, opt_state, replay_state, key, steps):
        validation.check_int("steps", steps, 1, who="train")
        return jitted(params, opt_state, replay_state, key, steps)

    jitted = jax.jit(train, static_argnames=("steps",))
    return Learner(loss=loss, train=checked_train)
