"""Subtree reuse: keep the statistics of the move played for the next search.

After a move, the chosen child's subtree already holds visits and values for the new root;
AlphaGo Zero keeps it ("the child node corresponding to the played action becomes the new root
node; the subtree below this child is retained along with all its statistics, while the
remainder of the tree is discarded", Silver et al. 2017, Methods, "Play"). mctx leaves this to
users (its issue #51, PR #86).

``get_subtree(tree, action)`` returns a tree of the same capacity ``N`` whose nodes are the
child's subtree, renumbered in their old order (so parents still precede children), with every
statistic, prior, mask and embedding copied. Pass it as ``tree=`` to a policy. If the subtree
plus the new simulations would not fit, the search keeps the first ``N - num_simulations``
nodes (``prune``): a prefix is a connected tree, and edges to dropped children become
unvisited again, while their ancestors' means keep what was backed up through them.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from evojax_rl.mcts.tree import NO_PARENT, UNVISITED, Tree


def prune(tree: Tree, keep) -> Tree:
    """Keep nodes ``< min(node_count, keep)`` (``keep``: int or ``[B]``); empty the rest.

    ``[B, N, ...]`` fields in, same shapes out.
    """
    count = jnp.minimum(tree.node_count, keep)
    alive = jnp.arange(tree.num_nodes)[None, :] < count[:, None]  # [B, N]
    ci = tree.children_index
    edge = alive[..., None] & ((ci == UNVISITED) | (ci < count[:, None, None]))  # [B, N, A]
    zero_edge = lambda x: jnp.where(edge, x, jnp.zeros_like(x))  # noqa: E731
    zero_node = lambda x, fill=0: jnp.where(alive, x, jnp.full_like(x, fill))  # noqa: E731
    return tree.replace(
        node_visits=zero_node(tree.node_visits),
        raw_values=zero_node(tree.raw_values),
        node_values=zero_node(tree.node_values),
        parents=zero_node(tree.parents, NO_PARENT),
        action_from_parent=zero_node(tree.action_from_parent, NO_PARENT),
        children_index=jnp.where(edge, ci, UNVISITED),
        children_prior_logits=jnp.where(alive[..., None], tree.children_prior_logits, 0),
        children_visits=zero_edge(tree.children_visits),
        children_rewards=zero_edge(tree.children_rewards),
        children_discounts=zero_edge(tree.children_discounts),
        children_values=zero_edge(tree.children_values),
        invalid_actions=alive[..., None] & tree.invalid_actions,
        node_count=count,
    )


def _subtree_members(tree: Tree, child):
    """``[B, N]`` bool: nodes at or below ``child: [B]`` (pointer doubling, log2(N) rounds)."""
    n = tree.num_nodes
    idx = jnp.arange(n)[None, :]
    hop = jnp.where(tree.parents >= 0, tree.parents, idx)  # root and unused nodes: self-loop
    member = idx == child[:, None]
    for _ in range(max(1, math.ceil(math.log2(n)))):
        member = member | jnp.take_along_axis(member, hop, axis=1)
        hop = jnp.take_along_axis(hop, hop, axis=1)
    return member


def get_subtree(tree: Tree, action) -> Tree:
    """The subtree under the root's child ``action: [B]``, as a tree of the same capacity.

    A tree whose child was never expanded, or whose ``action`` is negative (e.g. a new episode),
    comes back empty; the next search then starts it from its ``root`` argument. The returned
    tree's ``extra_data`` is ``None``.
    """
    b, n = tree.node_visits.shape
    rows = jnp.arange(b)
    action = jnp.asarray(action, jnp.int32)
    child = tree.children_index[rows, 0, jnp.clip(action, 0, tree.num_actions - 1)]
    child = jnp.where(action >= 0, child, UNVISITED)
    member = _subtree_members(tree, child) & (child != UNVISITED)[:, None]
    count = jnp.sum(member, axis=1, dtype=jnp.int32)
    new_of_old = jnp.cumsum(member, axis=1, dtype=jnp.int32) - 1  # [B, N]
    old_of_new = (
        jnp.zeros((b, n), jnp.int32)
        .at[rows[:, None], jnp.where(member, new_of_old, n)]
        .set(jnp.broadcast_to(jnp.arange(n, dtype=jnp.int32), (b, n)), mode="drop")
    )
    take = jax.vmap(lambda x, i: x[i])  # [B, N, ...] gathered by [B, N]

    def renumber(ids):  # old node ids [B, ...] -> new ids; negative ids stay
        new = jnp.take_along_axis(new_of_old, jnp.maximum(ids, 0).reshape(b, -1), axis=1)
        return jnp.where(ids >= 0, new.reshape(ids.shape), ids)

    parents = renumber(take(tree.parents, old_of_new))
    is_root = jnp.arange(n)[None, :] == 0
    moved = Tree(
        node_visits=take(tree.node_visits, old_of_new),
        raw_values=take(tree.raw_values, old_of_new),
        node_values=take(tree.node_values, old_of_new),
        parents=jnp.where(is_root, NO_PARENT, parents),
        action_from_parent=jnp.where(is_root, NO_PARENT, take(tree.action_from_parent, old_of_new)),
        children_index=renumber(take(tree.children_index, old_of_new)),
        children_prior_logits=take(tree.children_prior_logits, old_of_new),
        children_visits=take(tree.children_visits, old_of_new),
        children_rewards=take(tree.children_rewards, old_of_new),
        children_discounts=take(tree.children_discounts, old_of_new),
        children_values=take(tree.children_values, old_of_new),
        embeddings=jax.tree.map(lambda x: take(x, old_of_new), tree.embeddings),
        invalid_actions=take(tree.invalid_actions, old_of_new),
        node_count=count,
        extra_data=None,
    )
    return prune(moved, count)
