"""Action selection at a node, for a whole batch of trees at once.

- ``muzero_action_selection``: PUCT (Silver et al. 2017, AlphaGo Zero, "Methods: Select";
  the ``c(s)`` schedule of MuZero, Schrittwieser et al. 2020, Appendix B, Eq. 2):
  ``argmax_a Q(s, a) + c(s) * P(s, a) * sqrt(N(s)) / (1 + N(s, a))`` with
  ``c(s) = pb_c_init + log((N(s) + pb_c_base + 1) / pb_c_base)``.
- ``gumbel_muzero_root_action_selection``: Sequential Halving with Gumbel at the root
  (Danihelka et al. 2022, Section 3.2 and Algorithm 2; scores ``g(a) + logits(a) + sigma(q(a))``,
  Eq. 8).
- ``gumbel_muzero_interior_action_selection``: the deterministic interior selection of Full
  Gumbel MuZero (Danihelka et al. 2022, Section 5, Eq. 14):
  ``argmax_a pi'(a) - N(a) / (1 + sum_b N(b))`` with ``pi' = softmax(logits + sigma(completedQ))``.

Every selection here masks the node's invalid actions (``tree.invalid_actions[b, node]``), at
every depth. Signatures: ``fn(keys: StepKeys, tree, node_index: [B], depth) -> (action: [B]
int32, unresolved: [B] bool)``; root selections take no ``depth``.

Tie-breaking (a fact of mctx that exact equality needs): mctx's PUCT adds
``1e-7 * uniform(key)`` to the scores, with one key per tree and step, and drawing those keys
costs more than the rest of the descent on CPU. The noise can change the argmax only where
another score is within ``1e-7`` of the best, so the search first descends without keys
(``keys.keys is None``) and a selection flags the trees where its choice is ``unresolved``;
only if some tree is, the search descends again with mctx's keys. Deterministic selections
(Gumbel) never flag.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from evojax_rl.mcts import qtransforms
from evojax_rl.mcts.tree import Tree

_TIE_NOISE = 1e-7


class StepKeys(NamedTuple):
    """The randomness offered to one selection step.

    keys: ``[B]`` keys (mctx's per-tree ``action_selection_key`` of this step), or ``None`` in
      the search's first, noiseless pass.
    active: ``[B]`` bool, trees still descending (others' selections are discarded).
    """

    keys: Optional[jax.Array]
    active: jax.Array


def masked_argmax(scores, invalid):
    """``argmax`` over valid actions: ``scores: [B, A]``, ``invalid: [B, A] bool -> [B]``.

    If every action is invalid the result is 0 (the search never gets there).
    """
    return jnp.argmax(jnp.where(invalid, -jnp.inf, scores), axis=-1).astype(jnp.int32)


def _argmax_with_tie_noise(scores, invalid, keys: StepKeys):
    """mctx's ``argmax(scores + 1e-7 * U)``. ``-> (action: [B], unresolved: [B] bool)``.

    Without keys, returns the noiseless argmax and flags the active trees where the noise could
    have changed it: with ``0 <= noise <= 1e-7``, ``score_j + noise_j <= fl(score_j + 1e-7)``
    and the best's noisy score is at least its own, so if every other ``fl(score_j + 1e-7)`` is
    below the best score, the argmax cannot move.
    """
    if keys.keys is not None:
        uniform = jax.vmap(lambda k: jax.random.uniform(k, (scores.shape[-1],)))(keys.keys)
        action = masked_argmax(scores + _TIE_NOISE * uniform, invalid)
        return action, jnp.zeros(action.shape, bool)
    masked = jnp.where(invalid, -jnp.inf, scores)
    best = jnp.argmax(masked, axis=-1).astype(jnp.int32)
    top = jnp.take_along_axis(masked, best[:, None], axis=-1)
    others = jnp.arange(scores.shape[-1]) != best[:, None]
    near = jnp.any((masked + _TIE_NOISE >= top) & others, axis=-1) & keys.active
    return best, near


def _resolved(action):
    return action, jnp.zeros(action.shape, bool)


def _node_rows(tree: Tree, node_index):
    rows = jnp.arange(node_index.shape[0])
    return (
        tree.children_visits[rows, node_index],
        tree.children_prior_logits[rows, node_index],
        tree.invalid_actions[rows, node_index],
        rows,
    )


def muzero_action_selection(
    keys: StepKeys,
    tree: Tree,
    node_index,
    depth,
    *,
    pb_c_init=1.25,
    pb_c_base=19652.0,
    qtransform=qtransforms.qtransform_by_parent_and_siblings,
):
    """PUCT with mctx's tie-breaking noise. ``node_index: [B] -> (action, unresolved): [B]``."""
    del depth
    visits, logits, invalid, rows = _node_rows(tree, node_index)
    node_visit = tree.node_visits[rows, node_index][:, None]
    pb_c = pb_c_init + jnp.log((node_visit + pb_c_base + 1.0) / pb_c_base)
    policy_score = jnp.sqrt(node_visit) * pb_c * jax.nn.softmax(logits) / (visits + 1)
    value_score = qtransform(tree, node_index)
    return _argmax_with_tie_noise(value_score + policy_score, invalid, keys)


@functools.lru_cache(maxsize=None)
def considered_visits_table(max_num_considered_actions: int, num_simulations: int) -> np.ndarray:
    """``[m + 1, S]`` int32: row ``k`` lists, per root simulation, the visit count an action
    must have to be visited next when ``k`` actions are considered (Sequential Halving, Karnin
    et al. 2013, as scheduled in Danihelka et al. 2022, Section 3.2: each phase gives every
    remaining action ``max(1, floor(S / (ceil(log2 m) * k)))`` visits, then halves ``k``, never
    below 2)."""
    table = np.zeros((max_num_considered_actions + 1, num_simulations), np.int32)
    for m in range(max_num_considered_actions + 1):
        if m <= 1:
            table[m] = np.arange(num_simulations)
            continue
        rounds = int(math.ceil(math.log2(m)))
        seq, level, k = [], 0, m
        while len(seq) < num_simulations:
            for _ in range(max(1, int(num_simulations / (rounds * k)))):
                seq.extend([level] * k)
                level += 1
            k = max(2, k // 2)
        table[m] = seq[:num_simulations]
    return table


def score_considered(considered_visit, gumbel, logits, qvalues, visits):
    """``g + logits + sigma(q)`` for actions with ``considered_visit`` visits, ``-inf`` else.

    ``considered_visit: [B, 1]``; others ``[B, A]``. Scores are floored at ``-1e9`` so a lone
    considered action with a masked (very negative) logit can still be visited.
    """
    logits = logits - jnp.max(logits, axis=-1, keepdims=True)
    penalty = jnp.where(visits == considered_visit, 0.0, -jnp.inf)
    return jnp.maximum(-1e9, gumbel + logits + qvalues) + penalty


def gumbel_muzero_root_action_selection(
    keys: StepKeys,
    tree: Tree,
    node_index,
    *,
    num_simulations: int,
    max_num_considered_actions: int,
    qtransform=qtransforms.qtransform_completed_by_mix_value,
):
    """Sequential Halving with Gumbel at the root. ``node_index: [B] -> (action, unresolved)``.

    Uses ``tree.extra_data.root_gumbel: [B, A]`` and, for a reused tree, counts only this
    search's root visits (``tree.extra_data.root_visits_before: [B, A]``) in the schedule.
    """
    del keys
    visits, logits, invalid, _ = _node_rows(tree, node_index)
    completed = qtransform(tree, node_index)
    data = tree.extra_data
    visits = visits - data.root_visits_before
    table = jnp.asarray(considered_visits_table(max_num_considered_actions, num_simulations))
    num_valid = jnp.sum(~invalid, axis=-1).astype(jnp.int32)
    num_considered = jnp.minimum(max_num_considered_actions, num_valid)
    simulation_index = jnp.minimum(jnp.sum(visits, axis=-1), num_simulations - 1)
    considered = table[num_considered, simulation_index][:, None]
    scores = score_considered(considered, data.root_gumbel, logits, completed, visits)
    return _resolved(masked_argmax(scores, invalid))


def gumbel_muzero_interior_action_selection(
    keys: StepKeys,
    tree: Tree,
    node_index,
    depth,
    *,
    qtransform=qtransforms.qtransform_completed_by_mix_value,
):
    """Deterministic Full Gumbel MuZero selection (Eq. 14). ``node_index: [B] -> (action, 0)``."""
    del keys, depth
    visits, logits, invalid, _ = _node_rows(tree, node_index)
    improved = jax.nn.softmax(logits + qtransform(tree, node_index))
    scores = improved - visits / (1 + jnp.sum(visits, axis=-1, keepdims=True))
    return _resolved(masked_argmax(scores, invalid))
