"""Invalid actions are never selected, at any depth (property test with hypothesis).

The model returns a mask beside its prior at every node (``RecurrentFnOutput.invalid_actions``),
computed from the next embedding; hypothesis varies the weights, how many actions are invalid
(up to every action, i.e. terminals), the root mask, the key and the depth limit. After the
search we recompute each node's mask from its stored embedding (not from the tree's own copy)
and check that no edge out of any node (visited, or pointing to a child) is invalid there.
Masking below the root is what mctx's users ask for (its issues #29, #89); the searches are
PUCT (Silver et al. 2017) and Gumbel MuZero (Danihelka et al. 2022).
"""

from __future__ import annotations

import functools

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from mcts_models import mask_of, mlp_model, mlp_params, mlp_root

from evojax_rl import mcts

B, S, A = 4, 24, 5


@functools.lru_cache(maxsize=None)
def _policy(name, max_depth):
    fn = getattr(mcts, name)
    kw = dict(dirichlet_fraction=0.25) if name == "muzero_policy" else dict(gumbel_scale=1.0)
    return jax.jit(
        functools.partial(
            fn,
            recurrent_fn=mlp_model(mcts, masked=True),
            num_simulations=S,
            max_depth=max_depth,
            **kw,
        )
    )


def _check_tree(params, out, root_invalid):
    tree = jax.device_get(out.search_tree)
    masks = np.array(mask_of(params, jnp.asarray(tree.embeddings)))  # [B, N, A]
    masks[:, 0] = root_invalid
    for b in range(B):
        for n in range(int(tree.node_count[b])):
            used = (tree.children_visits[b, n] > 0) | (tree.children_index[b, n] >= 0)
            assert not np.any(used & masks[b, n]), (b, n, masks[b, n], used)
        if not root_invalid[b].all():
            assert not root_invalid[b, int(out.action[b])]
            assert np.all(np.asarray(out.action_weights)[b][root_invalid[b]] == 0)
    return tree


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(
    seed=st.integers(0, 2**16),
    threshold=st.sampled_from([0.9, 0.5, 0.0, -0.5, -1.1]),
    root_mask_bits=st.integers(0, 2 ** (B * A) - 1),
    name=st.sampled_from(["muzero_policy", "gumbel_muzero_policy"]),
    max_depth=st.sampled_from([None, 3]),
)
def test_no_invalid_action_is_ever_selected(seed, threshold, root_mask_bits, name, max_depth):
    params = mlp_params(jax.random.PRNGKey(seed), masked=True, threshold=threshold)
    bits = (root_mask_bits >> np.arange(B * A)) & 1
    root_invalid = bits.reshape(B, A).astype(bool)
    root = mlp_root(mcts, params, B, seed=seed + 1)
    policy = _policy(name, max_depth)
    out = policy(params, jax.random.PRNGKey(seed), root, invalid_actions=root_invalid)
    tree = _check_tree(params, out, root_invalid)
    # Trees with a valid root action ran every simulation; the others did nothing.
    has_valid = ~root_invalid.all(axis=1)
    np.testing.assert_array_equal(tree.children_visits[:, 0].sum(axis=1), S * has_valid)


def test_masks_bite_below_the_root():
    """With about half the actions invalid everywhere, interior nodes do carry masks, so the
    property above is not vacuous, and the stored priors give invalid actions zero mass."""
    params = mlp_params(jax.random.PRNGKey(0), masked=True, threshold=0.0)
    root = mlp_root(mcts, params, B)
    out = _policy("muzero_policy", None)(params, jax.random.PRNGKey(0), root)
    tree = _check_tree(params, out, np.zeros((B, A), bool))
    inner = np.asarray(tree.invalid_actions)[:, 1:]
    assert inner.any() and not inner.all()
    probs = np.asarray(jax.nn.softmax(tree.children_prior_logits, axis=-1))[:, 1:]
    used = np.arange(tree.num_nodes)[None, 1:] < np.asarray(tree.node_count)[:, None]
    partly = used & inner.any(-1) & ~inner.all(-1)  # all-invalid rows (terminals) stay finite
    assert partly.any()
    assert np.all(probs[inner & partly[..., None]] == 0)
    assert (tree.children_visits[:, 1:] > 0).any()  # the search did go below the root
