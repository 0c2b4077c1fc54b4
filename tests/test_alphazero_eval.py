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
from evojax_rl.alphazero import perfect  # noqa: E402

TTT = game_lib.make_game("tic_tac_toe")


_INIT, _STEP = jax.jit(TTT.env.init), jax.jit(TTT.env.step)


def _position(moves, batch=1):
    """``batch`` copies of the tic-tac-toe position after ``moves`` (cells, X first), played
    through pgx."""
    state = _INIT(jax.random.PRNGKey(0))
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


def _weighted_player(weights, key, state):
    """Plays the legal move of highest weight: a stand-in for a player with parameters."""
    del key
    return jnp.argmax(jnp.where(state.legal_action_mask, weights, -jnp.inf), axis=-1)


def test_new_parameters_reuse_the_compiled_match_and_change_the_play():
    from compile_count import count_compilations

    assert evaluate.random_player(TTT) is evaluate.random_player(TTT)
    assert evaluate.rollout_mcts_player(TTT, 8) is evaluate.rollout_mcts_player(TTT, 8)
    assert evaluate.make_match(TTT, 4) is evaluate.make_match(TTT, 4)
    rand = evaluate.random_player(TTT)
    key = jax.random.PRNGKey(0)
    corner_first = jax.tree_util.Partial(_weighted_player, jnp.arange(9.0)[::-1])
    evaluate.match(key, TTT, corner_first, rand, 20)
    players = [jax.tree_util.Partial(_weighted_player, w)
               for w in (jnp.arange(9.0), jnp.ones(9).at[4].set(2.0))]
    results = []
    with count_compilations() as compiled:
        for player in players:
            results.append(evaluate.match(key, TTT, player, rand, 20))
    assert compiled[0] == 0  # the parameters are arguments of the compiled match
    assert results[0] != results[1]  # ... and they are used, not the first ones baked in


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
        evaluate.make_match(TTT, 3)


def test_rollout_mcts_beats_random():
    result = evaluate.match(jax.random.PRNGKey(0), TTT, evaluate.rollout_mcts_player(TTT, 64),
                            evaluate.random_player(TTT), 40)
    # Measured over 20 keys: score 0.81 to 0.94 (random against random: about 0.5).
    assert evaluate.score(result) >= 0.75, result
    assert result["win"] >= 25, result


# --- perfect: the solver ------------------------------------------------------------------------

def _board(x=(), o=()):
    board = -np.ones(9, np.int64)
    board[list(x)] = 0
    board[list(o)] = 1
    return board


def test_solver_values():
    values = perfect.solve()
    assert len(values) == 5478  # the positions reachable in play, finished ones included
    assert values[perfect.board_code(_board())] == 0  # tic-tac-toe is a draw
    assert perfect.optimal_moves(_board(), 0) == list(range(9))  # every first move draws
    # X has 0-1, O has 3-4, X to move: X wins at once.
    assert values[perfect.board_code(_board(x=(0, 1), o=(3, 4)))] == 1
    assert perfect.optimal_moves(_board(x=(0, 1), o=(3, 4)), 0) == [2]
    # O to move against three threats of X (1, 3, 4) and none of its own: lost, every move.
    fork = _board(x=(0, 2, 6), o=(7, 8))
    assert values[perfect.board_code(fork)] == -1
    assert perfect.optimal_moves(fork, 1) == [1, 3, 4, 5]
    # Known replies: to a corner only the center draws; to the center only a corner.
    assert perfect.optimal_moves(_board(x=(0,)), 1) == [4]
    assert perfect.optimal_moves(_board(x=(4,)), 1) == [0, 2, 6, 8]
    assert perfect.optimal_moves(_board(x=(0, 1, 2), o=(3, 4)), 1) == []  # over
    with pytest.raises(ValueError, match="not reachable"):
        perfect.optimal_moves(_board(x=(0,)), 0)  # O is to move here


def test_cells_and_win_lines_agree_with_pgx():
    for line in perfect.WIN_LINES:
        others = [c for c in range(9) if c not in line][:2]
        moves = [line[0], others[0], line[1], others[1], line[2]]  # X completes ``line``
        state = _INIT(jax.random.PRNGKey(0))
        for ply, a in enumerate(moves):
            mover, color = int(state.current_player), int(state._x.color)
            before = np.asarray(state._x.board)
            state = _STEP(state, jnp.int32(a))
            after = np.asarray(state._x.board)
            assert after[a] == color and np.array_equal(np.delete(after, a), np.delete(before, a))
            assert bool(state.terminated) == perfect.is_terminal(after) == (ply == 4)
        assert perfect.winner(after) == 0
        assert float(state.rewards[mover]) == 1.0 and float(state.rewards[1 - mover]) == -1.0


def test_random_games_agree_with_the_solver():
    step, play = jax.jit(jax.vmap(TTT.env.step)), jax.jit(evaluate.random_player(TTT))
    state = jax.device_get(game_lib.init(TTT, jax.random.PRNGKey(3), 256))
    values = perfect.solve()
    for ply in range(9):
        live = ~np.asarray(state.terminated)
        for board, color in zip(state._x.board[live], state._x.color[live]):
            assert perfect.board_code(board) in values and perfect.color_to_move(board) == color
        mover = np.asarray(state.current_player)
        action = play(jax.random.PRNGKey(ply), state)
        state = jax.device_get(step(state, action))
        for b in np.flatnonzero(live):
            board = state._x.board[b]
            assert bool(state.terminated[b]) == perfect.is_terminal(board)
            won = perfect.winner(board) >= 0
            assert state.rewards[b, mover[b]] == (1.0 if won else 0.0)
    assert np.asarray(state.terminated).all()


# --- perfect: the player and the exhaustive lines ------------------------------------------------

def _lowest_legal(key, state):
    del key
    return jnp.argmax(state.legal_action_mask, axis=-1).astype(jnp.int32)


def _expected_lines(first: bool) -> int:
    """Lines of the lowest-optimal player against every optimal reply, counted in Python."""
    def count(board, color, mine):
        if perfect.is_terminal(board):
            return 1
        moves = perfect.optimal_moves(board, color)
        total = 0
        for a in (moves[:1] if color == mine else moves):
            child = board.copy()
            child[a] = color
            total += count(child, 1 - color, mine)
        return total

    return count(_board(), 0, 0 if first else 1)


def test_perfect_player_never_loses_a_line():
    result = perfect.perfect_lines(TTT, perfect.perfect_player(TTT), batch_bucket=16)
    assert result["lost"] == result["lost_first"] == result["lost_second"] == 0
    assert result["drawn"] == result["lines"] == _expected_lines(True) + _expected_lines(False)


def test_weak_players_lose_lines():
    lowest = perfect.perfect_lines(TTT, _lowest_legal)
    assert lowest["lost_second"] > 0  # X 0, O 1 is a known losing reply
    rand = perfect.perfect_lines(TTT, evaluate.random_player(TTT), key=jax.random.PRNGKey(1))
    assert rand["lost"] > 0 and rand["won"] == 0
    for r in (lowest, rand):
        assert r["won"] + r["drawn"] + r["lost"] == r["lines"]
        assert r["lost_first"] + r["lost_second"] == r["lost"]


def test_perfect_against_random_in_a_match():
    result = evaluate.match(jax.random.PRNGKey(0), TTT, perfect.perfect_player(TTT),
                            evaluate.random_player(TTT), 100)
    assert result["loss"] == 0 and result["win"] >= 70, result


def test_perfect_refuses_other_games():
    other = game_lib.make_game("connect_four")
    with pytest.raises(ValueError, match="tic_tac_toe"):
        perfect.perfect_player(other)
    with pytest.raises(ValueError, match="tic_tac_toe"):
        perfect.perfect_lines(other, evaluate.random_player(other))
