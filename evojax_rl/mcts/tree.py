"""A fixed-size batch of search trees, allocated once.

Each edge holds the statistics of AlphaGo Zero's search (Silver et al. 2017, Methods, "Search
algorithm": visit count ``N(s, a)``, mean value ``Q(s, a)``, prior ``P(s, a)``), with MuZero's
reward and discount per edge (Schrittwieser et al. 2020, Appendix B).

Layout after mctx's ``Tree`` (same field names and meaning), plus two fields of ours: a per-node
mask of invalid actions (masking at every depth) and a per-tree count of nodes in use (so the
capacity ``N`` is set apart from the number of simulations, and a reused subtree can be grown).

Shapes: ``B`` batch, ``N`` capacity (nodes per tree), ``A`` actions.

Invariants: node ``0`` is the root; nodes ``0 .. node_count - 1`` are in use and every node's
parent has a smaller index (nodes are numbered in creation order), so a prefix of the nodes is
always a connected tree. Rows at or beyond ``node_count`` are empty (``UNVISITED`` children,
zero statistics).

Memory of one tree (``B = 1``), from the fields below: ``N * (20 + 25 * A)`` bytes plus the
embeddings, ``N * bytes_per_embedding``, plus ``4`` for the count; ``tree_nbytes`` computes it.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

ROOT_INDEX = 0
NO_PARENT = -1
UNVISITED = -1


@chex.dataclass(frozen=True)
class Tree:
    """State of ``B`` search trees.

    node_visits: ``[B, N]`` int32, visits of each node (1 on expansion, +1 per backup through it).
    raw_values: ``[B, N]`` the model's value of each node (the leaf evaluation).
    node_values: ``[B, N]`` the mean of the returns backed up through each node.
    parents: ``[B, N]`` int32, parent index (``NO_PARENT`` for the root and unused nodes).
    action_from_parent: ``[B, N]`` int32, action leading from the parent (``NO_PARENT`` likewise).
    children_index: ``[B, N, A]`` int32, child node index per action, ``UNVISITED`` if none.
    children_prior_logits: ``[B, N, A]`` prior logits of each node (invalid actions masked).
    children_visits: ``[B, N, A]`` int32, visits of each child.
    children_rewards: ``[B, N, A]`` reward of each transition.
    children_discounts: ``[B, N, A]`` discount of each transition.
    children_values: ``[B, N, A]`` the child's ``node_values`` (0 if unvisited).
    embeddings: ``[B, N, ...]`` pytree, the model state of each node.
    invalid_actions: ``[B, N, A]`` bool (ours), invalid actions of each node.
    node_count: ``[B]`` int32 (ours), nodes in use.
    extra_data: ``[B, ...]`` data of the policy (e.g. the root's Gumbel noise), or ``None``.
    """

    node_visits: chex.Array
    raw_values: chex.Array
    node_values: chex.Array
    parents: chex.Array
    action_from_parent: chex.Array
    children_index: chex.Array
    children_prior_logits: chex.Array
    children_visits: chex.Array
    children_rewards: chex.Array
    children_discounts: chex.Array
    children_values: chex.Array
    embeddings: Any
    invalid_actions: chex.Array
    node_count: chex.Array
    extra_data: Any = None

    ROOT_INDEX: ClassVar[int] = ROOT_INDEX
    NO_PARENT: ClassVar[int] = NO_PARENT
    UNVISITED: ClassVar[int] = UNVISITED

    @property
    def num_actions(self) -> int:
        return self.children_index.shape[-1]

    @property
    def num_nodes(self) -> int:
        """The capacity ``N``."""
        return self.children_index.shape[-2]

    @property
    def num_simulations(self) -> int:
        """``N - 1``, as in mctx (the most simulations one fresh tree can hold)."""
        return self.num_nodes - 1

    @property
    def root_invalid_actions(self) -> chex.Array:
        """``[B, A]`` bool, the root's mask (an mctx field; here a view of ``invalid_actions``)."""
        return self.invalid_actions[:, ROOT_INDEX]

    def qvalues(self, indices: chex.Array) -> chex.Array:
        """``r + discount * v`` of each action of ``indices: [B]`` nodes -> ``[B, A]``."""
        rows = jnp.arange(self.node_visits.shape[0])
        return (
            self.children_rewards[rows, indices]
            + self.children_discounts[rows, indices] * self.children_values[rows, indices]
        )

    def summary(self) -> "SearchSummary":
        """Root statistics (as mctx's ``Tree.summary``)."""
        value = self.node_values[:, ROOT_INDEX]
        qvalues = self.qvalues(jnp.full(value.shape, ROOT_INDEX, jnp.int32))
        visit_counts = self.children_visits[:, ROOT_INDEX].astype(value.dtype)
        total = jnp.sum(visit_counts, axis=-1, keepdims=True)
        visit_probs = visit_counts / jnp.maximum(total, 1)
        visit_probs = jnp.where(total > 0, visit_probs, 1 / self.num_actions)
        return SearchSummary(visit_counts, visit_probs, value, qvalues)


class SearchSummary(NamedTuple):
    """visit_counts, visit_probs, qvalues: ``[B, A]``; value: ``[B]``."""

    visit_counts: chex.Array
    visit_probs: chex.Array
    value: chex.Array
    qvalues: chex.Array


def empty_tree(
    batch_size: int,
    num_nodes: int,
    num_actions: int,
    embedding: Any,
    value_dtype: Any = jnp.float32,
    logits_dtype: Any = jnp.float32,
    extra_data: Any = None,
) -> Tree:
    """All ``B`` trees with no node in use; ``embedding: [B, ...]`` gives the per-node shapes."""
    bn, bna = (batch_size, num_nodes), (batch_size, num_nodes, num_actions)
    return Tree(
        node_visits=jnp.zeros(bn, jnp.int32),
        raw_values=jnp.zeros(bn, value_dtype),
        node_values=jnp.zeros(bn, value_dtype),
        parents=jnp.full(bn, NO_PARENT, jnp.int32),
        action_from_parent=jnp.full(bn, NO_PARENT, jnp.int32),
        children_index=jnp.full(bna, UNVISITED, jnp.int32),
        children_prior_logits=jnp.zeros(bna, logits_dtype),
        children_visits=jnp.zeros(bna, jnp.int32),
        children_rewards=jnp.zeros(bna, value_dtype),
        children_discounts=jnp.zeros(bna, value_dtype),
        children_values=jnp.zeros(bna, value_dtype),
        embeddings=jax.tree.map(lambda x: jnp.zeros(bn + x.shape[1:], x.dtype), embedding),
        invalid_actions=jnp.zeros(bna, bool),
        node_count=jnp.zeros((batch_size,), jnp.int32),
        extra_data=extra_data,
    )


def tree_nbytes(num_nodes: int, num_actions: int, embedding_bytes: int = 0) -> int:
    """Bytes of one tree (``B = 1``) with float32 values: what ``empty_tree`` allocates.

    ``embedding_bytes`` is the size of one node's embedding (e.g. ``64 * 4`` for 64 float32).
    """
    shapes = jax.eval_shape(
        lambda: empty_tree(1, num_nodes, num_actions, np.zeros((1, 0), np.float32))
    )
    fixed = sum(int(np.prod(x.shape)) * x.dtype.itemsize for x in jax.tree.leaves(shapes))
    return fixed + num_nodes * int(embedding_bytes)
