"""Search policies with mctx's signatures and defaults: ``muzero_policy`` (PUCT) and
``gumbel_muzero_policy``.

- ``muzero_policy``: AlphaZero's root Dirichlet noise, ``P = (1 - eps) p + eps * Dir(alpha)``
  (Silver et al. 2017, Methods, "Self-play": eps = 0.25; alpha = 0.3 is AlphaZero's chess value),
  PUCT search, and an action drawn from ``N(a)^(1 / temperature)`` (Silver et al. 2017, "Play").
- ``gumbel_muzero_policy``: Gumbel-Top-k sampling of root actions and Sequential Halving
  (Danihelka et al. 2022, Algorithm 2), acting with ``argmax g + logits + sigma(completedQ)``
  among the most visited actions (Eq. 8), and ``softmax(logits + sigma(completedQ))`` as the
  policy target (Eq. 11).

Both share mctx's argument names and defaults and its use of ``rng_key``; keyword-only
additions (defaults keep mctx's behaviour):

- ``num_nodes``: the tree capacity ``N`` (default ``num_simulations + 1``);
- ``tree``: a tree from ``get_subtree`` to continue searching from (subtree reuse);
- models may return ``invalid_actions`` beside ``prior_logits`` (see ``base``), masked at every
  node; the ``invalid_actions`` argument stays the root mask it is in mctx.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

from evojax_rl import validation
from evojax_rl.mcts import action_selection, qtransforms, search
from evojax_rl.mcts.base import PolicyOutput, mask_invalid_logits


class GumbelMuZeroExtraData(NamedTuple):
    """root_gumbel: ``[B, A]`` the root's Gumbel noise (scaled); root_visits_before: ``[B, A]``
    int32, root visits a reused tree had before this search (zeros for a fresh tree)."""

    root_gumbel: jax.Array
    root_visits_before: jax.Array


def _logits_from_probs(probs):
    return jnp.log(jnp.maximum(probs, jnp.finfo(probs.dtype).tiny))


def _replace_logits(root, logits):
    return root.replace(prior_logits=logits)


def muzero_policy(
    params: Any,
    rng_key: jax.Array,
    root,
    recurrent_fn: Callable,
    num_simulations: int,
    invalid_actions=None,
    max_depth: Optional[int] = None,
    loop_fn: Callable = jax.lax.fori_loop,
    *,
    qtransform: Callable = qtransforms.qtransform_by_parent_and_siblings,
    dirichlet_fraction=0.25,
    dirichlet_alpha=0.3,
    pb_c_init=1.25,
    pb_c_base=19652,
    temperature=1.0,
    num_nodes: Optional[int] = None,
    tree: Optional[search.Tree] = None,
) -> PolicyOutput:
    """PUCT search with root Dirichlet noise; acts in proportion to ``visits^(1/temperature)``.

    root: ``RootFnOutput`` (``prior_logits: [B, A]``, ``value: [B]``, ``embedding: [B, ...]``).
    recurrent_fn: ``(params, key, action: [B], embedding) -> (RecurrentFnOutput, embedding)``.
    invalid_actions: ``[B, A]``, 1/True for invalid actions at the root.
    Returns ``PolicyOutput(action: [B], action_weights: [B, A] (visit frequencies), tree)``.
    """
    search.check_config(num_simulations, max_depth, num_nodes, tree)
    validation.check_number("dirichlet_fraction", dirichlet_fraction, 0.0, 1.0)
    validation.check_positive("dirichlet_alpha", dirichlet_alpha)
    validation.check_positive("pb_c_base", pb_c_base)
    validation.check_number("temperature", temperature, 0.0)

    rng_key, dirichlet_key, search_key = jax.random.split(rng_key, 3)
    probs = jax.nn.softmax(root.prior_logits)
    b, a = probs.shape
    noise = jax.random.dirichlet(dirichlet_key, jnp.full([a], dirichlet_alpha), shape=(b,))
    noisy = (1 - dirichlet_fraction) * probs + dirichlet_fraction * noise
    mask = search._root_mask(root, invalid_actions)
    root = _replace_logits(root, mask_invalid_logits(_logits_from_probs(noisy), mask))

    interior = functools.partial(
        action_selection.muzero_action_selection,
        pb_c_init=pb_c_init,
        pb_c_base=pb_c_base,
        qtransform=qtransform,
    )
    tree = search.search(
        params,
        search_key,
        root=root,
        recurrent_fn=recurrent_fn,
        root_action_selection_fn=functools.partial(interior, depth=0),
        interior_action_selection_fn=interior,
        num_simulations=num_simulations,
        max_depth=max_depth,
        invalid_actions=mask,
        loop_fn=loop_fn,
        num_nodes=num_nodes,
        tree=tree,
    )
    weights = tree.summary().visit_probs
    logits = _logits_from_probs(weights)
    logits = logits - jnp.max(logits, axis=-1, keepdims=True)
    logits = logits / jnp.maximum(jnp.finfo(logits.dtype).tiny, temperature)
    action = jax.random.categorical(rng_key, logits)
    return PolicyOutput(action=action, action_weights=weights, search_tree=tree)


def gumbel_muzero_policy(
    params: Any,
    rng_key: jax.Array,
    root,
    recurrent_fn: Callable,
    num_simulations: int,
    invalid_actions=None,
    max_depth: Optional[int] = None,
    loop_fn: Callable = jax.lax.fori_loop,
    *,
    qtransform: Callable = qtransforms.qtransform_completed_by_mix_value,
    max_num_considered_actions: int = 16,
    gumbel_scale=1.0,
    num_nodes: Optional[int] = None,
    tree: Optional[search.Tree] = None,
) -> PolicyOutput:
    """Full Gumbel MuZero search (Danihelka et al. 2022).

    Shapes as in ``muzero_policy``. ``max_num_considered_actions``: actions sampled without
    replacement at the root (fewer if fewer are valid). ``gumbel_scale``: 0 for deterministic
    evaluation. Returns ``action: [B]`` and ``action_weights = softmax(logits + sigma(Q))``.
    """
    search.check_config(num_simulations, max_depth, num_nodes, tree)
    validation.check_int("max_num_considered_actions", max_num_considered_actions, 1)
    validation.check_number("gumbel_scale", gumbel_scale, 0.0)

    mask = search._root_mask(root, invalid_actions)
    root = _replace_logits(root, mask_invalid_logits(root.prior_logits, mask))
    rng_key, gumbel_key = jax.random.split(rng_key)
    logits = root.prior_logits
    gumbel = gumbel_scale * jax.random.gumbel(gumbel_key, shape=logits.shape, dtype=logits.dtype)

    tree = search.instantiate_tree(
        root, num_simulations, num_nodes=num_nodes, tree=tree, invalid_actions=mask
    )
    tree = tree.replace(
        extra_data=GumbelMuZeroExtraData(gumbel, tree.children_visits[:, search.ROOT_INDEX])
    )
    tree = search.run_simulations(
        params,
        rng_key,
        tree,
        recurrent_fn=recurrent_fn,
        root_action_selection_fn=functools.partial(
            action_selection.gumbel_muzero_root_action_selection,
            num_simulations=num_simulations,
            max_num_considered_actions=max_num_considered_actions,
            qtransform=qtransform,
        ),
        interior_action_selection_fn=functools.partial(
            action_selection.gumbel_muzero_interior_action_selection, qtransform=qtransform
        ),
        num_simulations=num_simulations,
        max_depth=max_depth,
        loop_fn=loop_fn,
    )

    # Act with the best of the most visited (this search's visits): argmax g + logits + sigma(q).
    root_index = jnp.zeros(logits.shape[:1], jnp.int32)
    visits = (tree.children_visits[:, search.ROOT_INDEX] - tree.extra_data.root_visits_before)
    visits = visits.astype(root.value.dtype)
    considered = jnp.max(visits, axis=-1, keepdims=True)
    completed = qtransform(tree, root_index)
    scores = action_selection.score_considered(considered, gumbel, logits, completed, visits)
    root_invalid = tree.root_invalid_actions
    action = action_selection.masked_argmax(scores, root_invalid)
    weights = jax.nn.softmax(mask_invalid_logits(logits + completed, mask))
    return PolicyOutput(action=action, action_weights=weights, search_tree=tree)
