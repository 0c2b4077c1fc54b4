"""Exact bandit and game cases with closed-form answers.

- PUCT (Silver et al. 2017) on a bandit whose every arm ends the game with reward 0: all Q are
  equal, so each simulation takes ``argmax_a P(a) / (1 + N(a))``, i.e. D'Hondt's apportionment
  of the simulations in proportion to the prior.
- Gumbel MuZero (Danihelka et al. 2022) with ``gumbel_scale=0`` on a bandit: Sequential Halving
  gives 16 simulations over 4 arms as 2 each, then 4 more to the best 2, and the policy target
  is ``softmax(logits + (50 + 6) * 0.1 * (q - min q) / (max q - min q))`` (Eqs. 8, 10, 11).
- A two-player zero-sum game (``discount = -1``, terminal ``discount = 0``) where the greedy
  first move loses: the search must find the minimax move.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from mcts_models import terminal_bandit

from evojax_rl import mcts


def _dhondt(probs, seats):
    counts = np.zeros(len(probs), int)
    for _ in range(seats):
        counts[np.argmax(np.asarray(probs) / (1 + counts))] += 1
    return counts


def test_puct_bandit_visits_follow_dhondt_apportionment_of_the_prior():
    probs = np.array([0.47, 0.33, 0.2])
    root = mcts.RootFnOutput(
        prior_logits=jnp.log(jnp.asarray(probs, jnp.float32))[None],
        value=jnp.zeros(1),
        embedding=jnp.zeros((1, 1)),
    )
    out = mcts.muzero_policy(
        None,
        jax.random.PRNGKey(0),
        root,
        terminal_bandit(mcts, [0.0, 0.0, 0.0]),
        num_simulations=9,
        dirichlet_fraction=0.0,
    )
    np.testing.assert_array_equal(out.search_tree.children_visits[0, 0], [4, 3, 2])
    np.testing.assert_array_equal(_dhondt(probs, 9), [4, 3, 2])
    np.testing.assert_allclose(out.action_weights[0], np.array([4, 3, 2]) / 9, rtol=1e-6)
    assert float(out.search_tree.node_values[0, 0]) == 0.0


def test_puct_prefers_the_rewarding_arm_and_backs_up_mean_values():
    # Arm 1 pays 1, arm 0 pays 0, equal priors: the root's value is the mean of the returns.
    root = mcts.RootFnOutput(
        prior_logits=jnp.zeros((1, 2)), value=jnp.zeros(1), embedding=jnp.zeros((1, 1))
    )
    out = mcts.muzero_policy(
        None,
        jax.random.PRNGKey(1),
        root,
        terminal_bandit(mcts, [0.0, 1.0]),
        num_simulations=20,
        dirichlet_fraction=0.0,
        temperature=0.0,
    )
    visits = np.asarray(out.search_tree.children_visits[0, 0])
    assert visits[1] > visits[0] and visits.sum() == 20
    assert int(out.action[0]) == 1
    expected_root = (0.0 + visits[1] * 1.0) / (1 + 20)  # root's own value, then each return
    np.testing.assert_allclose(out.search_tree.node_values[0, 0], expected_root, rtol=1e-6)
    np.testing.assert_array_equal(out.search_tree.summary().qvalues[0], [0.0, 1.0])


def test_gumbel_sequential_halving_bandit():
    rewards = np.array([0.1, 0.4, 0.3, 0.2], np.float32)
    root = mcts.RootFnOutput(
        prior_logits=jnp.zeros((1, 4)), value=jnp.zeros(1), embedding=jnp.zeros((1, 1))
    )
    out = mcts.gumbel_muzero_policy(
        None,
        jax.random.PRNGKey(0),
        root,
        terminal_bandit(mcts, rewards),
        num_simulations=16,
        max_num_considered_actions=4,
        gumbel_scale=0.0,
    )
    np.testing.assert_array_equal(out.search_tree.children_visits[0, 0], [2, 6, 6, 2])
    assert int(out.action[0]) == 1
    sigma = (50 + 6) * 0.1 * (rewards - rewards.min()) / (rewards.max() - rewards.min())
    expected = np.exp(sigma) / np.exp(sigma).sum()
    np.testing.assert_allclose(out.action_weights[0], expected, rtol=1e-5)


def test_considered_visits_table_is_sequential_halving():
    from evojax_rl.mcts.action_selection import considered_visits_table

    table = considered_visits_table(4, 16)
    np.testing.assert_array_equal(table[4], [0] * 4 + [1] * 4 + [2, 2, 3, 3, 4, 4, 5, 5])
    np.testing.assert_array_equal(table[1], np.arange(16))
    np.testing.assert_array_equal(table[2][:6], [0, 0, 1, 1, 2, 2])


# A two-move zero-sum game: we pick a, the opponent picks b, we receive PAYOFF[a, b].
# Greedy on the best outcome picks a = 0 (it holds the +1), but the opponent answers -1 there;
# the minimax move is a = 1 (worst case 0.2).
PAYOFF = jnp.array([[1.0, -1.0], [0.5, 0.2]])


def _game(params, key, action, embedding):
    """embedding: [B, 2] = (stage, our move). Stage 0 -> 1 -> 2 (over, every action invalid)."""
    del params, key
    stage, first = embedding[:, 0], embedding[:, 1]
    b = action.shape[0]
    at_root = stage == 0
    # The opponent moves at stage 1 and gets -PAYOFF; values are for the player to move.
    reward = jnp.where(at_root, 0.0, -PAYOFF[first.astype(jnp.int32), action])
    discount = jnp.where(at_root, -1.0, 0.0)
    next_stage = stage + 1
    out = mcts.RecurrentFnOutput(
        reward=reward,
        discount=discount,
        prior_logits=jnp.zeros((b, 2)),
        value=jnp.zeros(b),
        invalid_actions=jnp.broadcast_to((next_stage >= 2)[:, None], (b, 2)),
    )
    new_first = jnp.where(at_root, action.astype(jnp.float32), first)
    return out, jnp.stack([next_stage, new_first], axis=1)


def test_two_player_zero_sum_search_finds_the_minimax_move():
    root = mcts.RootFnOutput(
        prior_logits=jnp.zeros((2, 2)), value=jnp.zeros(2), embedding=jnp.zeros((2, 2))
    )
    puct = jax.jit(
        functools.partial(
            mcts.muzero_policy,
            recurrent_fn=_game,
            num_simulations=64,
            dirichlet_fraction=0.0,
            temperature=0.0,
        )
    )(None, jax.random.PRNGKey(0), root)
    gumbel = jax.jit(
        functools.partial(
            mcts.gumbel_muzero_policy, recurrent_fn=_game, num_simulations=64, gumbel_scale=0.0
        )
    )(None, jax.random.PRNGKey(0), root)
    for out in (puct, gumbel):
        np.testing.assert_array_equal(out.action, [1, 1])
        tree = out.search_tree
        # Terminal nodes (stage 2) are never expanded below: at most 1 + 2 + 4 nodes.
        assert int(tree.node_count.max()) <= 7
        # Q(a = 1) averages the answers 0.5 and 0.2 (mostly 0.2) and the opponent node's own
        # value 0; Q(a = 0) is pulled towards -1 by the opponent's winning answer.
        q0, q1 = np.asarray(tree.summary().qvalues[0])
        assert 0.15 < q1 < 0.5 and q0 < 0.0, (q0, q1)
