"""Our policies against mctx itself (the reference; Danihelka et al. 2022's implementation).

Same model, inputs and key: with Dirichlet noise off (``dirichlet_fraction=0``) and
``gumbel_scale=0``, root visit counts, action weights, actions and root values must be *equal*
(not close), on several batch sizes, depths, discount conventions (gamma, two-player ``-1``,
terminals ``0``) and root masks. The noisy defaults are checked too: we split the key as mctx
does, so they match as well. Each compiled search serves several inputs (discount mode and
noise level are traced), to keep compilation, which dominates, small.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import mctx
import numpy as np
import pytest
from mcts_models import GAMMA, TERMINALS, TWO_PLAYER, mlp_model, mlp_params, mlp_root

from evojax_rl import mcts

# (batch, simulations, max_depth, root_mask): one tree without depth limit or mask, and a batch
# with both (a middle case, 6 trees of 32 simulations to depth 2, added nothing the second does
# not check and cost 45 s of the suite's time).
CASES = [
    (1, 24, None, False),
    (16, 48, 3, True),
]
NOISE_ARG = {"muzero_policy": "dirichlet_fraction", "gumbel_muzero_policy": "gumbel_scale"}


@functools.lru_cache(maxsize=None)
def _compiled(lib, name, sims, max_depth):
    def run(params, key, root, invalid, noise):
        fn = getattr(lib, name)
        kw = {NOISE_ARG[name]: noise}
        if name == "gumbel_muzero_policy":
            kw["max_num_considered_actions"] = 4
        return fn(
            params,
            key,
            root,
            mlp_model(lib),
            sims,
            invalid_actions=invalid,
            max_depth=max_depth,
            **kw,
        )

    return jax.jit(run)


def _run(lib, name, batch, sims, max_depth, root_mask, mode, noise=0.0, params=None):
    params = mlp_params(jax.random.PRNGKey(0), mode=mode) if params is None else params
    root = mlp_root(lib, params, batch)
    invalid = None
    if root_mask:
        invalid = (jnp.arange(5)[None, :] + jnp.arange(batch)[:, None]) % 3 == 0
        invalid = invalid.astype(jnp.float32)  # mctx's convention: ones for invalid
    fn = _compiled(lib, name, sims, max_depth)
    return jax.device_get(fn(params, jax.random.PRNGKey(3), root, invalid, noise))


# Visit counts and actions are integers and must be equal. Values and action weights are float32
# computed by two different programs (ours and mctx's), which XLA may fuse and round differently
# on another CPU: each is a mean or softmax over at most 64 simulations of O(1) values, so allow
# 64 float32 ulps of error.
F32_TOL = dict(rtol=64 * np.finfo(np.float32).eps, atol=64 * np.finfo(np.float32).eps)


def _assert_same(ours, theirs):
    np.testing.assert_array_equal(
        ours.search_tree.children_visits[:, 0], theirs.search_tree.children_visits[:, 0]
    )
    np.testing.assert_allclose(ours.action_weights, theirs.action_weights, **F32_TOL)
    np.testing.assert_array_equal(ours.action, theirs.action)
    np.testing.assert_allclose(
        ours.search_tree.node_values[:, 0], theirs.search_tree.node_values[:, 0], **F32_TOL
    )


@pytest.mark.parametrize("name", ["muzero_policy", "gumbel_muzero_policy"])
@pytest.mark.parametrize("batch,sims,max_depth,root_mask", CASES)
def test_policy_equals_mctx(name, batch, sims, max_depth, root_mask):
    for mode in (GAMMA, TWO_PLAYER, TERMINALS):
        for noise in (0.0, 0.25 if name == "muzero_policy" else 1.0):
            args = (name, batch, sims, max_depth, root_mask, mode, noise)
            ours, theirs = _run(mcts, *args), _run(mctx, *args)
            assert ours.search_tree.children_visits[:, 0].sum() == batch * sims
            _assert_same(ours, theirs)


def test_tie_break_noise_matches_on_exact_ties():
    """Equal priors make exact ties at every new node: mctx breaks them with keyed noise, and we
    must draw the same noise there (and only the noise decides)."""
    params = mlp_params(jax.random.PRNGKey(0))
    params = dict(params, wp=jnp.zeros_like(params["wp"]))  # uniform priors: all ties
    args = ("muzero_policy", 16, 48, 3, True, GAMMA, 0.0, params)  # compiled for CASES[1]
    ours, theirs = _run(mcts, *args), _run(mctx, *args)
    _assert_same(ours, theirs)
    # The ties were broken differently across the batch: the noise did decide.
    first_actions = np.asarray(ours.search_tree.action_from_parent[:, 1]).tolist()
    assert len(set(first_actions)) > 1
