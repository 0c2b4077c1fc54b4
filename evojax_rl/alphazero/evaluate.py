"""Evaluation of AlphaZero players on pgx games: reference players and compiled matches.

A *player* is ``(key, state) -> int32[B]``: one move for every game of a batched pgx state, for
the player to move in each game (any value for a finished game; pgx ignores it).

- ``random_player``: uniform among the legal moves.
- ``rollout_mcts_player``: search without a network: uniform prior, each new leaf valued by the
  return of one uniformly random playout to the end of the game (rollout lambda 1), PUCT
  selection, no root noise; plays the most visited legal move (ties broken at random).
- ``match`` / ``make_match``: ``games`` games at once, half with the player moving first, as one
  jitted ``lax.scan`` over ``game.max_plies`` plies; counts of wins, draws and losses.

Shapes: ``B`` games, ``A`` actions.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp

from evojax_rl import mcts, validation
from evojax_rl.alphazero import game as game_lib
from evojax_rl.alphazero.game import Game

Player = Callable[[jax.Array, Any], jax.Array]
OUTCOMES = ("win", "draw", "loss")


def _legal_argmax(key: jax.Array, scores: jax.Array, legal: jax.Array) -> jax.Array:
    """The legal action with the highest score, ties broken uniformly at random: ``[B]``.

    ``scores`` are integers (visit counts) or 0, so noise in ``[0, 0.5)`` only breaks ties.
    """
    noise = jax.random.uniform(key, scores.shape, maxval=0.5)
    return jnp.argmax(jnp.where(legal, scores + noise, -jnp.inf), axis=-1).astype(jnp.int32)


@functools.lru_cache(maxsize=None)
def random_player(game: Game) -> Player:
    """Uniform among the legal moves. Cached per game, so repeated calls return the same
    function (and ``match`` reuses its compiled match)."""
    del game  # every pgx state carries its legal mask

    def player(key, state):
        return _legal_argmax(key, jnp.zeros(state.legal_action_mask.shape), state.legal_action_mask)

    return player


def random_rollout_fn(game: Game) -> Callable:
    """``rollout_fn(params, key, state) -> z: [B]``: a uniformly random playout from ``state`` to
    the end of the game (at most ``game.max_plies`` plies), its return from the view of the
    player to move in ``state`` (rewards are the mover's, discount -1 between plies, 0 after
    the end; 0 for a state that is already over)."""
    _, recurrent_fn = game_lib.model(game, game_lib.uniform_apply(game))
    policy = mcts.uniform_random_policy(
        game.num_actions, invalid_fn=lambda params, state: ~state.legal_action_mask)
    return mcts.make_rollout_fn(recurrent_fn, policy, game.max_plies)


@functools.lru_cache(maxsize=None)
def rollout_mcts_player(game: Game, num_simulations: int) -> Player:
    """Pure Monte Carlo tree search: uniform prior, leaf value = one random playout's return,
    PUCT search (``mcts.muzero_policy`` without Dirichlet noise) with ``num_simulations``
    simulations; plays the most visited legal move. Cached per ``(game, num_simulations)``."""
    num_simulations = validation.check_int("num_simulations", num_simulations, 1)
    root_fn, recurrent_fn = game_lib.model(game, game_lib.uniform_apply(game))
    rollout = random_rollout_fn(game)
    recurrent = mcts.with_rollouts(recurrent_fn, rollout, rollout_lambda=1.0)

    def player(key, state):
        k_root, k_search, k_tie = jax.random.split(key, 3)
        root = mcts.root_with_rollouts(None, k_root, root_fn(None, state), rollout, 1.0)
        out = mcts.muzero_policy(None, k_search, root, recurrent, num_simulations,
                                 dirichlet_fraction=0.0)
        visits = out.search_tree.summary().visit_counts.astype(jnp.float32)
        return _legal_argmax(k_tie, visits, state.legal_action_mask)

    return player


def _check_games(games) -> int:
    games = validation.check_int("games", games, 2)
    if games % 2:
        raise ValueError(f"games must be even (half with each player first), got {games}.")
    return games


@functools.lru_cache(maxsize=None)
def make_match(game: Game, player: Player, opponent: Player, games: int) -> Callable:
    """A jitted ``fn(key) -> int32[3]``: ``(wins, draws, losses)`` of ``player`` against
    ``opponent`` over ``games`` games (even), the first half with ``player`` moving first and
    the second half with ``opponent`` moving first.

    All games run at once as one ``lax.scan`` over ``game.max_plies`` plies: each ply both
    players move on the whole batch and the move of whoever is to move is played (a finished
    game stays as it is). A game still running after ``max_plies`` plies counts as a draw.
    Cached per ``(game, player, opponent, games)``, so pass the same player functions to
    reuse the compiled match.
    """
    games = _check_games(games)
    half = games // 2

    @jax.jit
    def run(key):
        k_init, k_play = jax.random.split(key)
        state = game_lib.init(game, k_init, games)
        first = state.current_player  # pgx randomizes which player id moves first
        seat = jnp.where(jnp.arange(games) < half, first, 1 - first)  # player's id per game

        def ply(state, key):
            k_player, k_opponent = jax.random.split(key)
            ours = player(k_player, state).astype(jnp.int32)
            theirs = opponent(k_opponent, state).astype(jnp.int32)
            action = jnp.where(state.current_player == seat, ours, theirs)
            state = game_lib.step(game, state, action)
            return state, game_lib.mover_reward(state, seat)

        _, rewards = jax.lax.scan(ply, state, jax.random.split(k_play, game.max_plies))
        outcome = rewards.sum(axis=0)
        return jnp.stack([(outcome > 0).sum(), (outcome == 0).sum(), (outcome < 0).sum()]
                         ).astype(jnp.int32)

    return run


def match(key: jax.Array, game: Game, player: Player, opponent: Player, games: int) -> dict:
    """``{"win", "draw", "loss"}`` (Python ints, from ``player``'s view) over ``games`` games
    (even): half with ``player`` first, half second. Compiles once per ``(game, player,
    opponent, games)`` (see ``make_match``)."""
    validation.check_key(key)
    counts = jax.device_get(make_match(game, player, opponent, _check_games(games))(key))
    return dict(zip(OUTCOMES, (int(c) for c in counts)))


def score(result: dict) -> float:
    """``(win + draw / 2) / games`` of a ``match`` result: 1 all won, 0.5 even, 0 all lost."""
    games = sum(result[k] for k in OUTCOMES)
    return (result["win"] + 0.5 * result["draw"]) / games
