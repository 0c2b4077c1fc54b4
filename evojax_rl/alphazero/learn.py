"""The AlphaZero learner: policy cross-entropy plus value L2 over valid positions, and ``steps``
minibatch updates from the replay window as one ``jax.lax.scan``.

Loss on a batch ``Sample [M]`` (network ``apply_fn(params, observation [M, *O]) -> (logits [M, A],
value [M])``), averaged over the valid positions only (0 if there are none)::

    policy_loss = mean_valid( -sum_a policy[a] * log_softmax(logits)[a] )
    value_loss  = mean_valid( (value - target)^2 )
    loss        = policy_loss + value_weight * value_loss

Invalid positions are replaced by zeros before the network sees them, so whatever they hold
(NaN included) changes neither the loss nor its gradient.

Data-parallel (``axis``, inside ``jax.shard_map`` over that mesh axis of ``n`` devices): every
device draws the same minibatch (the key is replicated), takes its own ``batch_size / n`` slice,
and differentiates the SUMS of its slice's losses; one ``psum`` per step adds the gradients and
the sums (and the valid counts) over the devices, and dividing by the global valid count gives
exactly the full minibatch's gradient and losses. Every device then applies the same Adam update,
so the parameters stay identical on all of them.
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
                 value_weight: float = 1.0, axis: str | None = None) -> Learner:
    """The learner for ``apply_fn`` with ``optimizer``, sampling minibatches from ``replay``.

    metrics (float32 scalars): ``loss``, ``policy_loss``, ``value_loss``, ``valid_fraction`` (of
    the batch); ``train`` returns their means over the ``steps`` minibatches. ``axis``: split each
    minibatch over that mesh axis (``train`` must then run inside ``jax.shard_map`` over it, with
    ``replay.batch_size`` a multiple of its size; see the module docstring).
    """
    validation.check_number("value_weight", value_weight, 0.0)

    def sums(params: Any, batch: Sample):
        """``(policy + value_weight * value, (policy, value, valid))``: the sums over ``batch``'s
        valid positions of the two losses, and how many are valid."""
        batch = _masked(batch)
        weight = batch.valid.astype(jnp.float32)
        logits, value = apply_fn(params, batch.observation)
        policy = -jnp.sum(batch.policy * jax.nn.log_softmax(logits, axis=-1), axis=-1)
        policy_sum = jnp.sum(weight * policy)
        value_sum = jnp.sum(weight * jnp.square(value - batch.value))
        return policy_sum + value_weight * value_sum, (policy_sum, value_sum, jnp.sum(weight))

    def metrics_of(parts, size: int):
        policy_sum, value_sum, valid = parts
        count = jnp.maximum(valid, 1.0)
        policy_loss, value_loss = policy_sum / count, value_sum / count
        total = policy_loss + value_weight * value_loss
        return total, {"loss": total, "policy_loss": policy_loss, "value_loss": value_loss,
                       "valid_fraction": valid / size}

    def loss(params: Any, batch: Sample):
        _, parts = sums(params, batch)
        return metrics_of(parts, batch.valid.shape[0])

    grad_fn = jax.grad(sums, has_aux=True)

    def train(params, opt_state, replay_state, key: jax.Array, steps: int):
        def update(carry, step_key):
            params, opt_state = carry
            batch = replay.sample(replay_state, step_key)  # [batch_size], the same everywhere
            size = batch.valid.shape[0]
            if axis is not None:  # this device's slice of it
                part = size // jax.lax.axis_size(axis)
                batch = jax.tree.map(lambda x: jax.lax.dynamic_slice_in_dim(
                    x, jax.lax.axis_index(axis) * part, part), batch)
            grads, parts = grad_fn(params, batch)
            if axis is not None:
                grads, parts = jax.lax.psum((grads, parts), axis)
            count = jnp.maximum(parts[2], 1.0)
            grads = jax.tree.map(lambda g: g / count, grads)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), metrics_of(parts, size)[1]

        (params, opt_state), metrics = jax.lax.scan(
            update, (params, opt_state), jax.random.split(key, steps))
        return params, opt_state, jax.tree.map(jnp.mean, metrics)

    def checked_train(params, opt_state, replay_state, key, steps):
        validation.check_int("steps", steps, 1, who="train")
        return jitted(params, opt_state, replay_state, key, steps)

    jitted = jax.jit(train, static_argnames=("steps",))
    return Learner(loss=loss, train=checked_train)
