"""Evaluation players and matches (``alphazero.evaluate``) and the perfect tic-tac-toe player
(``alphazero.perfect``), checked against pgx's own rules."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("pgx")

from evojax_rl.alphazero import evaluate  # noqa: E402
from evojax_rl.alphazero import game as game_lib  # noqa: E402

TTT = game_lib.make_game("tic_tac_toe")


_STEP = jax.jit(TTT.env.step)


def _position(moves, batch=1):
    """``batch`` copies of the tic-tac-toe position after ``moves`` (cells, X first), played
    through pgx."""
    state = jax.jit(TTT.env.init)(jax.random.PRNGKey(0))
    for a in moves:
        state = _STEP(state, jnp.int32(a))
    return jax.tree.map(lambda x: jnp.repeat(x[None], batch, axis=0), state)


# --- evaluate: players ---------------------------------------------------------------------------

def test_random_player_plays_only_legal_moves_and_all_of_them():
    state = _position([4, 0, 8], batch=400)  # 6 empty cells
    moves = np.asarray(jax.jit(evaluate.random_player(TTT))(jax.random.PRNGKey(1), state))
    assert set(moves.tolist()) == {1, 2, 3, 5, 6, 7}


def test_random_rollout_return_is_from_the_movers_view():
    rollout = jax.jit(evaluate.random_rollout_fn(TTT))
    # X to move, one empty cell (8), which completes X's diagonal 0-4-8: the mover wins.
    won = _position([0, 1, 4, 2, 5, 3, 6, 7], batch=400)
    assert int(won._x.color[0]) == 0
    np.testing.assert_array_equal(rollout(None, jax.random.PRNGKey(0), won), np.ones(400))
    # O to move with cells 3 and 5 empty: 3 lets X win with 5 (-1), 5 draws (0), so a random
    # playout is worth -1/2 on average to O, the mover.
    two = _position([0, 4, 8, 1, 7, 6, 2], batch=400)
    assert int(two._x.color[0]) == 1
    z = np.asarray(rollout(None, jax.random.PRNGKey(1), two))
    assert set(np.unique(z).tolist()) == {-1.0, 0.0}
    assert abs(z.mean() + 0.5) < 0.1
    # A finished game is worth 0.
    np.testing.assert_array_equal(rollout(None, jax.random.PRNGKey(2), _position(
        [0, 3, 1, 4, 2], batch=400)), np.zeros(400))


def test_rollout_mcts_plays_the_winning_move():
    player = jax.jit(evaluate.rollout_mcts_player(TTT, 64))
    # X to move: 2 completes 0-1-2 (O threatens 5 with 3-4).
    x_wins = _position([0, 3, 1, 4], batch=4)
    np.testing.assert_array_equal(player(jax.random.PRNGKey(0), x_wins), [2] * 4)
    # O to move: 5 completes 3-4-5 (X threatens 2 with 0-1).
    o_wins = _position([0, 3, 1, 4, 8], batch=4)
    np.testing.assert_array_equal(player(jax.random.PRNGKey(1), o_wins), [5] * 4)


def test_players_are_cached_so_matches_compile_once():
    assert evaluate.random_player(TTT) is evaluate.random_player(TTT)
    assert evaluate.rollout_mcts_player(TTT, 8) is evaluate.rollout_mcts_player(TTT, 8)
    player = evaluate.random_player(TTT)
    assert evaluate.make_match(TTT, player, player, 4) is evaluate.make_match(TTT, player, player, 4)


# --- evaluate: matches ---------------------------------------------------------------------------

def test_match_counts_random_against_random():
    player = evaluate.random_player(TTT)
    result = evaluate.match(jax.random.PRNGKey(0), TTT, player, player, 200)
    assert set(result) == {"win", "draw", "loss"}
    assert all(type(v) is int for v in result.values())
    assert sum(result.values()) == 200
    assert result["win"] > 40 and result["loss"] > 40 and result["draw"] > 0
    assert 0.35 < evaluate.score(result) < 0.65


def test_match_seats_alternate():
    def lowest_legal(key, state):
        del key
        return jnp.argmax(state.legal_action_mask, axis=-1).astype(jnp.int32)

    # Lowest-legal play by both sides: X takes 0, 2, 4, 6 and O 1, 3, 5, so X (the first
    # mover) wins on the diagonal 2-4-6: the player wins the half where it moves first.
    result = evaluate.match(jax.random.PRNGKey(1), TTT, lowest_legal, lowest_legal, 10)
    assert result == {"win": 5, "draw": 0, "loss": 5}


def test_match_refuses_an_odd_number_of_games():
    player = evaluate.random_player(TTT)
    with pytest.raises(ValueError, match="even"):
        evaluate.match(jax.random.PRNGKey(0), TTT, player, player, 7)
    with pytest.raises(ValueError, match="even"):
        evaluate.make_match(TTT, player, player, 3)


def test_rollout_mcts_beats_random():
    result = evaluate.match(jax.random.PRNGKey(0), TTT, evaluate.rollout_mcts_player(TTT, 64),
                            evaluate.random_player(TTT), 40)
    # Measured over 20 keys: score 0.81 to 0.94 (random against random: about 0.5).
    assert evaluate.score(result) >= 0.75, result
    assert result["win"] >= 25, result
