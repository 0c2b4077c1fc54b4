"""Monotonic transformations of Q-values, used by action selection.

Each takes a *batched* tree and ``node_index: [B]`` and returns ``[B, A]`` (mctx's take one
unbatched tree and a scalar index; the keyword arguments and defaults are the same).

- ``qtransform_by_parent_and_siblings``: min-max normalization over the parent's value and the
  visited siblings' Q, unvisited actions get 0 (MuZero, Schrittwieser et al. 2020, Appendix B;
  mctx's default for PUCT).
- ``qtransform_by_min_max``: normalization by given bounds.
- ``qtransform_completed_by_mix_value``: completed Q-values (Danihelka et al. 2022, "Policy
  improvement by planning with Gumbel", Eq. 10 for completion, Appendix D Eq. 33 for the mixed
  value ``v_mix``, Eq. 8 for the ``sigma`` scaling ``(c_visit + max_b N(b)) * c_scale * q``).

The arithmetic follows the formulas term by term in the order written there, so our values
are bit-identical to mctx's on CPU (the exact-equality tests depend on it).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from evojax_rl.mcts.tree import Tree


def _rows(tree: Tree, node_index):
    rows = jnp.arange(node_index.shape[0])
    visits = tree.children_visits[rows, node_index]
    return rows, visits, tree.qvalues(node_index)


def qtransform_by_min_max(tree: Tree, node_index, *, min_value, max_value):
    """``(q - min_value) / (max_value - min_value)``; unvisited actions get 0. ``-> [B, A]``."""
    _, visits, q = _rows(tree, node_index)
    score = jnp.where(visits > 0, q, min_value)
    return (score - min_value) / (max_value - min_value)


def qtransform_by_parent_and_siblings(tree: Tree, node_index, *, epsilon=1e-8):
    """Q normalized to [0, 1] by min and max over ``V(node)`` and the visited Q. ``-> [B, A]``."""
    rows, visits, q = _rows(tree, node_index)
    node_value = tree.node_values[rows, node_index][:, None]
    seen = visits > 0
    safe = jnp.where(seen, q, node_value)
    lo = jnp.minimum(node_value, jnp.min(safe, axis=-1, keepdims=True))
    hi = jnp.maximum(node_value, jnp.max(safe, axis=-1, keepdims=True))
    completed = jnp.where(seen, q, lo)
    return (completed - lo) / jnp.maximum(hi - lo, epsilon)


def mixed_value(raw_value, qvalues, visits, prior_probs):
    """``v_mix`` (Danihelka et al. 2022, Eq. 33): ``[B], [B, A], [B, A], [B, A] -> [B]``.

    ``(v + sum_b N(b) * sum_{visited a} pi(a) q(a) / sum_{visited a} pi(a)) / (1 + sum_b N(b))``.
    """
    seen = visits > 0
    total = jnp.sum(visits, axis=-1)
    probs = jnp.maximum(jnp.finfo(prior_probs.dtype).tiny, prior_probs)
    seen_mass = jnp.sum(jnp.where(seen, probs, 0.0), axis=-1, keepdims=True)
    weighted = jnp.sum(
        jnp.where(seen, probs * qvalues / jnp.where(seen, seen_mass, 1.0), 0.0), axis=-1
    )
    return (raw_value + total * weighted) / (total + 1)


def qtransform_completed_by_mix_value(
    tree: Tree,
    node_index,
    *,
    value_scale=0.1,
    maxvisit_init=50.0,
    rescale_values=True,
    use_mixed_value=True,
    epsilon=1e-8,
):
    """``sigma(completedQ)`` of Danihelka et al. 2022 (Eqs. 8, 10, 33). ``-> [B, A]``.

    Unvisited actions get ``v_mix`` (or the raw value if ``use_mixed_value=False``); the result
    is optionally min-max rescaled to [0, 1], then scaled by
    ``(maxvisit_init + max_a N(a)) * value_scale``.
    """
    rows, visits, q = _rows(tree, node_index)
    raw = tree.raw_values[rows, node_index]
    if use_mixed_value:
        probs = jax.nn.softmax(tree.children_prior_logits[rows, node_index])
        value = mixed_value(raw, q, visits, probs)
    else:
        value = raw
    completed = jnp.where(visits > 0, q, value[:, None])
    if rescale_values:
        lo = jnp.min(completed, axis=-1, keepdims=True)
        hi = jnp.max(completed, axis=-1, keepdims=True)
        completed = (completed - lo) / jnp.maximum(hi - lo, epsilon)
    visit_scale = maxvisit_init + jnp.max(visits, axis=-1, keepdims=True)
    return visit_scale * value_scale * completed
