"""Our policies against mctx itself (the reference; Danihelka et al. 2022's implementation).

Same model, inputs and key: with Dirichlet noise off (``dirichlet_fraction=0``) and
``gumbel_scale=0``, root visit counts, action weights and actions must be *equal* (not close),
on several batch sizes, depths, discount conventions and root masks. Two extra cases keep the
noise on: we split the key as mctx does, so those match too.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import mctx
import numpy as np
import pytest
from mcts_models import mlp_model, mlp_params, mlp_root

from evojax_rl import mcts

CASES = [
    # (batch, simulations, max_depth, discount_mode, root_mask)
    (1, 24, None, "gamma", False),
    (3, 32, 2, "two_player", False),
    (8, 40, None, "terminals", True),
    (5, 16, 1, "gamma", True),
    (16, 48, 4, "two_player", False),
]


def _run(lib, name, batch, sims, max_depth, mode, root_mask, key=3, **kw):
    params = mlp_params(jax.random.PRNGKey(0))
    root = mlp_root(lib, params, batch)
    invalid = None
    if root_mask:
        invalid = (jnp.arange(5)[None, :] + jnp.arange(batch)[:, None]) % 3 == 0
        invalid = invalid.astype(jnp.float32)  # mctx's convention: ones for invalid
    fn = functools.partial(
        getattr(lib, name),
        recurrent_fn=mlp_model(lib, discount_mode=mode),
        num_simulations=sims,
        max_depth=max_depth,
        **kw,
    )
    out = jax.jit(fn)(params, jax.random.PRNGKey(key), root, invalid_actions=invalid)
    return jax.device_get(out)


def _assert_same(ours, theirs):
    np.testing.assert_array_equal(
        ours.search_tree.children_visits[:, 0], theirs.search_tree.children_visits[:, 0]
    )
    np.testing.assert_array_equal(ours.action_weights, theirs.action_weights)
    np.testing.assert_array_equal(ours.action, theirs.action)
    np.testing.assert_array_equal(
        ours.search_tree.node_values[:, 0], theirs.search_tree.node_values[:, 0]
    )


@pytest.mark.parametrize("batch,sims,max_depth,mode,root_mask", CASES)
def test_muzero_policy_equals_mctx(batch, sims, max_depth, mode, root_mask):
    args = (batch, sims, max_depth, mode, root_mask)
    ours = _run(mcts, "muzero_policy", *args, dirichlet_fraction=0.0)
    theirs = _run(mctx, "muzero_policy", *args, dirichlet_fraction=0.0)
    assert ours.search_tree.children_visits[:, 0].sum() == batch * sims
    _assert_same(ours, theirs)


@pytest.mark.parametrize("batch,sims,max_depth,mode,root_mask", CASES)
def test_gumbel_muzero_policy_equals_mctx(batch, sims, max_depth, mode, root_mask):
    args = (batch, sims, max_depth, mode, root_mask)
    ours = _run(mcts, "gumbel_muzero_policy", *args, gumbel_scale=0.0)
    theirs = _run(mctx, "gumbel_muzero_policy", *args, gumbel_scale=0.0)
    _assert_same(ours, theirs)


def test_noisy_defaults_equal_mctx_too():
    args = (4, 32, None, "two_player", False)
    _assert_same(_run(mcts, "muzero_policy", *args), _run(mctx, "muzero_policy", *args))
    args = (4, 32, 3, "gamma", True)
    _assert_same(
        _run(mcts, "gumbel_muzero_policy", *args, max_num_considered_actions=4),
        _run(mctx, "gumbel_muzero_policy", *args, max_num_considered_actions=4),
    )


def test_tie_break_noise_matches_on_exact_ties():
    """Equal priors everywhere make exact ties at every new node: mctx breaks them with keyed
    noise; we must draw the same noise there (and only the noise decides)."""
    params = mlp_params(jax.random.PRNGKey(0))
    params = dict(params, wp=jnp.zeros_like(params["wp"]))  # uniform priors: all ties
    outs = []
    for lib in (mcts, mctx):
        root = mlp_root(lib, params, 6)
        fn = functools.partial(
            lib.muzero_policy,
            recurrent_fn=mlp_model(lib),
            num_simulations=24,
            dirichlet_fraction=0.0,
        )
        outs.append(jax.device_get(jax.jit(fn)(params, jax.random.PRNGKey(11), root)))
    _assert_same(*outs)
    # Ties were really broken differently across the batch (the noise mattered).
    firsts = outs[0].search_tree.action_from_parent[:, 1]
    assert len(set(np.asarray(firsts).tolist())) > 1
