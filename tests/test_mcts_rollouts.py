"""Leaf evaluation by rollouts (AlphaGo, Silver et al. 2016): ``V = (1 - lambda) v + lambda z``.

A chain game: the state is a step counter ``t``; action 0 pays 1 and action 1 pays 0.5 per step
until ``t`` reaches ``T`` (then the game is over and pays nothing). The value net says 0.3
everywhere. With the rollout policy "always action 0", ``z(t) = T - t`` exactly, so every
node's leaf value is known in closed form.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from evojax_rl import mcts

T, B, S, V_NET = 6.0, 3, 24, 0.3


def step(params, key, action, t):
    del params, key
    over = t[:, 0] >= T
    reward = jnp.where(over, 0.0, jnp.where(action == 0, 1.0, 0.5))
    t = t + 1.0
    discount = jnp.where(t[:, 0] >= T, 0.0, 1.0)
    b = action.shape[0]
    out = mcts.RecurrentFnOutput(
        reward=reward, discount=discount, prior_logits=jnp.zeros((b, 2)), value=jnp.full(b, V_NET)
    )
    return out, t


def always_zero(params, key, t):
    return jnp.zeros(t.shape[:1], jnp.int32)


ROOT = mcts.RootFnOutput(
    prior_logits=jnp.zeros((B, 2)),
    value=jnp.full(B, V_NET),
    embedding=jnp.array([[0.0], [2.0], [4.0]]),
)


@functools.partial(jax.jit, static_argnums=0)
def _search(policy_fn, lam, key):
    rollout = mcts.make_rollout_fn(step, policy_fn, max_steps=20)
    k_root, k_search = jax.random.split(key)
    root = mcts.root_with_rollouts(None, k_root, ROOT, rollout, lam)
    out = mcts.muzero_policy(
        None,
        k_search,
        root,
        mcts.with_rollouts(step, rollout, lam),
        num_simulations=S,
        dirichlet_fraction=0.0,
    )
    return out.search_tree


def test_leaf_values_are_the_mixture_of_value_and_rollout_return():
    for lam in (0.0, 0.5, 1.0):
        tree = jax.device_get(_search(always_zero, lam, jax.random.PRNGKey(0)))
        t = tree.embeddings[..., 0]
        z = np.maximum(T - t, 0.0)
        expected = (1 - lam) * V_NET + lam * z
        used = np.arange(tree.num_nodes)[None, :] < tree.node_count[:, None]
        np.testing.assert_allclose(tree.raw_values[used], expected[used], rtol=1e-6)


def test_lambda_zero_is_the_plain_search():
    key = jax.random.PRNGKey(0)
    search_key = jax.random.split(key)[1]  # as in _search; the model ignores its own keys
    plain = jax.device_get(
        mcts.muzero_policy(
            None, search_key, ROOT, step, num_simulations=S, dirichlet_fraction=0.0
        ).search_tree
    )
    mixed = jax.device_get(_search(always_zero, 0.0, key))
    np.testing.assert_array_equal(plain.children_visits, mixed.children_visits)
    np.testing.assert_array_equal(plain.node_values, mixed.node_values)


def test_random_rollouts_alone_evaluate_leaves_with_lambda_one():
    """Classic MCTS evaluation: the value net is ignored, leaves get random-playout returns."""
    tree = jax.device_get(
        _search(mcts.uniform_random_policy(2), 1.0, jax.random.PRNGKey(2))
    )
    t = tree.embeddings[..., 0]
    used = np.arange(tree.num_nodes)[None, :] < tree.node_count[:, None]
    left = np.maximum(T - t, 0.0)[used]
    z = tree.raw_values[used]
    assert np.all(z >= 0.5 * left - 1e-6) and np.all(z <= left + 1e-6)
    assert np.any((z > 0.5 * left + 1e-6) & (z < left - 1e-6))  # playouts mixed both actions
    # The search prefers action 0, which pays more on every step.
    assert np.all(tree.children_visits[:, 0, 0] > tree.children_visits[:, 0, 1])
