"""Batch elements never affect each other: changing the other trees' inputs (their roots, their
masks, even making a root fully invalid) leaves tree 0's search bit-for-bit unchanged.
(Batched search as in mctx; Silver et al. 2017 and Danihelka et al. 2022 search one tree.)"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from mcts_models import TERMINALS, mlp_model, mlp_params, mlp_root

from evojax_rl import mcts

B = 6


@pytest.mark.parametrize("name", ["muzero_policy", "gumbel_muzero_policy"])
def test_batch_elements_are_independent(name):
    params = mlp_params(jax.random.PRNGKey(0), masked=True, threshold=0.6, mode=TERMINALS)
    policy = jax.jit(
        functools.partial(
            getattr(mcts, name), recurrent_fn=mlp_model(mcts, masked=True), num_simulations=24
        )
    )
    key = jax.random.PRNGKey(5)
    root_a = mlp_root(mcts, params, B, seed=1)
    root_b = mlp_root(mcts, params, B, seed=2)
    root_b = jax.tree.map(lambda a, b: b.at[0].set(a[0]), root_a, root_b)  # same tree 0
    invalid_a = jnp.zeros((B, 5), bool)
    invalid_b = invalid_a.at[1].set(True).at[2, :3].set(True)  # tree 1: nothing valid
    out_a = jax.device_get(policy(params, key, root_a, invalid_actions=invalid_a))
    out_b = jax.device_get(policy(params, key, root_b, invalid_actions=invalid_b))
    assert not np.array_equal(out_a.action_weights[1:], out_b.action_weights[1:])
    for x, y in zip(jax.tree.leaves(out_a), jax.tree.leaves(out_b)):
        np.testing.assert_array_equal(x[0], y[0])
    assert out_b.search_tree.node_count[1] == 1  # the tree with no valid action did nothing
