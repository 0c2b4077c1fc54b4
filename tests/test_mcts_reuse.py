"""Subtree reuse (Silver et al. 2017, Methods, "Play": the played child's subtree is kept with
its statistics) and the tree capacity set apart from the number of simulations."""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest
from mcts_models import TWO_PLAYER, mlp_model, mlp_params, mlp_root

from evojax_rl import mcts

B, S, N = 3, 32, 80
NODE_FIELDS = ("node_visits", "raw_values", "node_values")
EDGE_FIELDS = (
    "children_visits",
    "children_values",
    "children_rewards",
    "children_discounts",
    "children_prior_logits",
    "invalid_actions",
)


@functools.lru_cache(maxsize=None)
def _policy(name, sims, num_nodes):
    kw = dict(dirichlet_fraction=0.0) if name == "muzero_policy" else dict(gumbel_scale=1.0)
    return jax.jit(
        functools.partial(
            getattr(mcts, name),
            recurrent_fn=mlp_model(mcts),
            num_simulations=sims,
            num_nodes=num_nodes,
            **kw,
        )
    )


def _search(name="muzero_policy", sims=S, num_nodes=N, tree=None, seed=0):
    params = mlp_params(jax.random.PRNGKey(0), mode=TWO_PLAYER)
    root = mlp_root(mcts, params, B, seed=1 + seed)
    return _policy(name, sims, num_nodes)(params, jax.random.PRNGKey(seed), root, tree=tree)


def _assert_same_subtree(old, b, old_node, new, new_node):
    """Walk both trees from the given nodes by action, comparing every statistic."""
    for f in NODE_FIELDS:
        assert getattr(old, f)[b, old_node] == getattr(new, f)[b, new_node], f
    for f in EDGE_FIELDS:
        np.testing.assert_array_equal(getattr(old, f)[b, old_node], getattr(new, f)[b, new_node])
    np.testing.assert_array_equal(old.embeddings[b, old_node], new.embeddings[b, new_node])
    size = 1
    for a in range(old.num_actions):
        oc, nc = old.children_index[b, old_node, a], new.children_index[b, new_node, a]
        assert (oc < 0) == (nc < 0)
        if oc >= 0:
            assert new.parents[b, nc] == new_node and new.action_from_parent[b, nc] == a
            size += _assert_same_subtree(old, b, oc, new, nc)
    return size


@pytest.mark.parametrize("name", ["muzero_policy", "gumbel_muzero_policy"])
def test_reused_subtree_carries_the_same_statistics(name):
    out = _search(name)
    tree = jax.device_get(out.search_tree)
    sub = jax.device_get(mcts.get_subtree(out.search_tree, out.action))
    for b in range(B):
        child = tree.children_index[b, 0, int(out.action[b])]
        assert child > 0
        size = _assert_same_subtree(tree, b, child, sub, 0)
        assert size == sub.node_count[b] > 1
        assert sub.parents[b, 0] == -1
        # Parents precede children, and unused rows are empty.
        used = np.arange(N) < size
        assert np.all(sub.parents[b, 1:size] < np.arange(1, size))
        assert np.all(sub.children_index[b, ~used] == -1)
        assert np.all(sub.node_visits[b, ~used] == 0)


def test_empty_subtree_for_negative_or_unexpanded_actions():
    out = _search()
    visits = np.asarray(out.search_tree.children_visits[:, 0])
    action = np.where(np.arange(B) == 0, -1, np.argmin(visits, axis=1))
    sub = mcts.get_subtree(out.search_tree, action)
    expected = np.where(np.arange(B) == 0, 0, np.where(visits.min(axis=1) > 0, 1, 0))
    assert np.all((np.asarray(sub.node_count) > 0) == expected.astype(bool))


@pytest.mark.parametrize("name", ["muzero_policy", "gumbel_muzero_policy"])
def test_search_continues_from_a_reused_subtree(name):
    out = _search(name)
    sub = mcts.get_subtree(out.search_tree, out.action)
    before = np.asarray(sub.node_visits[:, 0])
    count = np.asarray(sub.node_count)
    assert np.all(count + S <= N)  # room for all: nothing pruned
    again = jax.device_get(_search(name, tree=sub, seed=1).search_tree)
    np.testing.assert_array_equal(again.node_visits[:, 0], before + S)
    np.testing.assert_array_equal(again.node_count, count + S)  # one new node per simulation
    # Every node's visits are its first one plus those of its children.
    for b in range(B):
        n = int(again.node_count[b])
        np.testing.assert_array_equal(
            again.node_visits[b, :n], 1 + again.children_visits[b, :n].sum(axis=1)
        )


@pytest.mark.slow
def test_full_tree_is_pruned_to_leave_room():
    """With the capacity of a fresh search (N = S + 1), a reused subtree keeps only its root
    (its visits and mean stay), so the new search still gets all its simulations."""
    out = _search(num_nodes=S + 1)
    sub = mcts.get_subtree(out.search_tree, out.action)
    assert np.all(np.asarray(sub.node_count) > 1)
    again = jax.device_get(_search(num_nodes=S + 1, tree=sub, seed=1).search_tree)
    np.testing.assert_array_equal(again.children_visits[:, 0].sum(axis=1), S)
    np.testing.assert_array_equal(again.node_visits[:, 0], np.asarray(sub.node_visits[:, 0]) + S)
    np.testing.assert_array_equal(again.node_count, S + 1)


def test_embeddings_may_be_any_pytree():
    """A dict embedding (array leaves of different shapes and dtypes) is stored per node and
    carried over by subtree reuse; the search matches the one with a plain array embedding."""
    params = mlp_params(jax.random.PRNGKey(0), mode=TWO_PLAYER)
    plain = mlp_model(mcts)

    def recurrent_fn(params, key, action, emb):
        out, h = plain(params, key, action, emb["h"])
        return out, {"h": h, "steps": emb["steps"] + 1}

    root = mlp_root(mcts, params, B)
    tree_root = root.replace(embedding={"h": root.embedding, "steps": jax.numpy.zeros(B, "int32")})
    kw = dict(num_simulations=16, dirichlet_fraction=0.0)
    ours = mcts.muzero_policy(params, jax.random.PRNGKey(0), tree_root, recurrent_fn, **kw)
    ref = mcts.muzero_policy(params, jax.random.PRNGKey(0), root, plain, **kw)
    np.testing.assert_array_equal(ours.action_weights, ref.action_weights)
    tree = ours.search_tree
    assert tree.embeddings["steps"].dtype == np.int32
    # A node's step count is its depth.
    for b in range(B):
        for n in range(1, int(tree.node_count[b])):
            parent = int(tree.parents[b, n])
            assert tree.embeddings["steps"][b, n] == tree.embeddings["steps"][b, parent] + 1
    sub = mcts.get_subtree(tree, ours.action)
    np.testing.assert_array_equal(sub.embeddings["steps"][:, 0], 1)
