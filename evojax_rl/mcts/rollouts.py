"""Leaf evaluation by rollouts, as in AlphaGo (Silver et al. 2016, "Mastering the game of Go
with deep neural networks and tree search", Eq. in "Evaluation"):

    V(s_L) = (1 - lambda) * v(s_L) + lambda * z_L

with ``v`` the value network and ``z_L`` the return of a fast rollout policy played from the
leaf to the end. ``lambda = 0`` is AlphaZero (value only); ``lambda = 1`` with a uniform random
rollout policy (and a uniform prior) is classic MCTS/UCT-style evaluation by random playouts.

This is composition, not a search option: ``with_rollouts`` wraps a ``recurrent_fn`` so every
new leaf's ``value`` is the mixture, and ``root_with_rollouts`` does the same for the root, so
both policies (and subtree reuse) work unchanged. ``rollout_lambda`` may be traced (swept).

Shapes: ``B`` batch, ``A`` actions; embeddings any ``[B, ...]`` pytree.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from evojax_rl import validation


def _check_lambda(rollout_lambda):
    validation.check_number("rollout_lambda", rollout_lambda, 0.0, 1.0)


def mix_value(value, rollout_return, rollout_lambda):
    """``(1 - lambda) * v + lambda * z``: ``[B], [B] -> [B]``."""
    return (1.0 - rollout_lambda) * value + rollout_lambda * rollout_return


def make_rollout_fn(step_fn: Callable, policy_fn: Callable, max_steps: int) -> Callable:
    """A ``rollout_fn(params, key, embedding) -> z: [B]`` from a model and a rollout policy.

    step_fn: ``(params, key, action: [B], embedding) -> (out, embedding)`` with ``out.reward``
      and ``out.discount`` of shape ``[B]`` (a ``recurrent_fn`` or an environment step).
    policy_fn: ``(params, key, embedding) -> action: [B]`` (e.g. ``uniform_random_policy``).
    max_steps: Python int >= 1, a cap on the rollout's length.

    ``z = r_1 + d_1 r_2 + d_1 d_2 r_3 + ...``: a trajectory ends when the product of discounts
    is 0 (a terminal), and the loop stops as soon as every trajectory has ended. With
    ``discount = -1`` in two-player games, ``z`` is from the view of the player to move at the
    leaf, like ``v``.
    """
    validation.check_int("max_steps", max_steps, 1)

    def rollout_fn(params, key, embedding):
        batch = jax.tree.leaves(embedding)[0].shape[0]

        def body(carry):
            key, state, ret, scale, t = carry
            key, k_policy, k_step = jax.random.split(key, 3)
            action = policy_fn(params, k_policy, state)
            out, state = step_fn(params, k_step, action, state)
            ret = ret + scale * out.reward
            return key, state, ret, scale * out.discount, t + 1

        def cond(carry):
            return (carry[4] < max_steps) & jnp.any(carry[3] != 0)

        ones = jnp.ones((batch,), jnp.float32)
        carry = (key, embedding, jnp.zeros_like(ones), ones, jnp.zeros((), jnp.int32))
        return jax.lax.while_loop(cond, body, carry)[2]

    return rollout_fn


def uniform_random_policy(num_actions: int, invalid_fn: Callable | None = None) -> Callable:
    """``policy_fn`` drawing each action uniformly among the valid ones.

    invalid_fn: optional ``(params, embedding) -> [B, A]`` bool mask of invalid actions.
    """

    def policy_fn(params, key, embedding):
        batch = jax.tree.leaves(embedding)[0].shape[0]
        logits = jnp.zeros((batch, num_actions))
        if invalid_fn is not None:
            logits = jnp.where(invalid_fn(params, embedding), -jnp.inf, logits)
        return jax.random.categorical(key, logits).astype(jnp.int32)

    return policy_fn


def with_rollouts(recurrent_fn: Callable, rollout_fn: Callable, rollout_lambda=0.5) -> Callable:
    """Wrap ``recurrent_fn`` so each new leaf's ``value`` is ``(1 - lambda) v + lambda z``.

    ``z = rollout_fn(params, key, next_embedding)``; the key given by the search is split into
    one for the model and one for the rollout.
    """
    _check_lambda(rollout_lambda)

    def wrapped(params, key, action, embedding):
        model_key, rollout_key = jax.random.split(key)
        out, embedding = recurrent_fn(params, model_key, action, embedding)
        z = rollout_fn(params, rollout_key, embedding)
        return out.replace(value=mix_value(out.value, z, rollout_lambda)), embedding

    return wrapped


def root_with_rollouts(params, key, root, rollout_fn: Callable, rollout_lambda=0.5):
    """``root`` with ``value`` replaced by ``(1 - lambda) v + lambda z`` (``z`` from the root)."""
    _check_lambda(rollout_lambda)
    z = rollout_fn(params, key, root.embedding)
    return root.replace(value=mix_value(root.value, z, rollout_lambda))
