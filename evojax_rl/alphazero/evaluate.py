"""Evaluation of AlphaZero players on pgx games: reference players and compiled matches.

A *player* is ``(key, state) -> int32[B]``: one move for every game of a batched pgx state, for
the player to move in each game (any value for a finished game; pgx ignores it).

- ``random_player``: uniform among the legal moves.
- ``rollout_mcts_player``: search without a network: uniform prior, each new leaf valued by the
  return of one uniformly random playout to the end of the game (rollout lambda 1), PUCT
  selection, no root noise; plays the most visited legal move (ties broken at random).
- ``match`` / ``make_match``: ``games`` games at once, half with the player moving first, ply by
  ply until every game is over; counts of wins, draws and losses. Players are compiled as
  ``jax.tree_util.Partial`` arguments (``as_player``, ``call_player``), so a player's
  parameters are arguments (a new checkpoint does not recompile it) and one player meeting
  several opponents compiles once.

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


def as_player(fn: Player) -> jax.tree_util.Partial:
    """``fn`` as a ``jax.tree_util.Partial`` (unchanged if it is one): a player that compiled
    code takes as an argument. A player with parameters should be built as
    ``Partial(fn, params)``: its parameters are then traced, not baked in, so new parameters
    (another checkpoint) reuse the compiled match."""
    return fn if isinstance(fn, jax.tree_util.Partial) else jax.tree_util.Partial(fn)


@mcts.jit
def call_player(player, key, state):
    """``player(key, state)`` compiled (as a search, ``mcts.jit``), with ``player`` (an
    ``as_player`` Partial) an argument: every caller with the same player function and batch
    shares one compilation."""
    return player(key, state).astype(jnp.int32)


@functools.lru_cache(maxsize=None)
def make_match(game: Game, games: int) -> Callable:
    """``fn(key, player, opponent, opening_plies=0) -> int32[3]``: ``(wins, draws, losses)`` of
    ``player`` against ``opponent`` (both ``as_player`` Partials) over ``games`` games (even),
    the first half with ``player`` moving first and the second half with ``opponent`` moving
    first. ``opening_plies``: the first plies of every game are uniformly random legal moves
    (so that two deterministic players do not replay one game).

    All games run at once, ply by ply: each ply both players move on the whole batch
    (``call_player``) and the move of whoever is to move is played; the loop stops when every
    game is over (a game still running after ``game.max_plies`` plies counts as a draw). The
    players are compiled once per function and batch size, not once per match, so an agent
    met by several opponents (and by ``perfect.perfect_lines`` at the same batch size)
    compiles its search once. Cached per ``(game, games)``.
    """
    games = _check_games(games)
    half = games // 2
    rand = random_player(game)

    @jax.jit
    def start(key):
        state = game_lib.init(game, key, games)
        first = state.current_player  # pgx randomizes which player id moves first
        seat = jnp.where(jnp.arange(games) < half, first, 1 - first)  # player's id per game
        return state, seat, jnp.zeros((games,), jnp.float32)

    @jax.jit
    def ply(state, seat, total, t, opening_plies, key, ours, theirs):
        move = jnp.where(state.current_player == seat, ours, theirs)
        move = jnp.where(t < opening_plies, rand(key, state), move)
        state = game_lib.step(game, state, move)
        total = total + game_lib.mover_reward(state, seat)
        return state, total, jnp.all(state.terminated | state.truncated)

    @jax.jit
    def counts(total):
        return jnp.stack([(total > 0).sum(), (total == 0).sum(), (total < 0).sum()]
                         ).astype(jnp.int32)

    def run(key, player, opponent, opening_plies: int = 0):
        opening_plies = validation.check_int("opening_plies", opening_plies, 0)
        k_init, k_play = jax.random.split(key)
        state, seat, total = start(k_init)
        # Committed to the device they are on, as every ply's outputs are, and the players'
        # parameters with them: jit compiles once per placement of its arguments, so
        # uncommitted first-ply inputs compiled the players and the ply a second time, and an
        # agent loaded from disk compiled its search again (about 10 s each on 2 CPU cores).
        device = next(iter(seat.devices()))
        state, seat, total, player, opponent = jax.device_put(
            (state, seat, total, player, opponent), device)
        for t in range(game.max_plies):
            k_player, k_opponent, k_random = jax.random.split(jax.random.fold_in(k_play, t), 3)
            ours = call_player(player, k_player, state)
            theirs = call_player(opponent, k_opponent, state)
            state, total, over = ply(state, seat, total, t, opening_plies, k_random, ours,
                                     theirs)
            if over:
                break
        return counts(total)

    return run


def match(key: jax.Array, game: Game, player: Player, opponent: Player, games: int,
          opening_plies: int = 0) -> dict:
    """``{"win", "draw", "loss"}`` (Python ints, from ``player``'s view) over ``games`` games
    (even): half with ``player`` first, half second (see ``make_match``)."""
    validation.check_key(key)
    run = make_match(game, _check_games(games))
    counts = jax.device_get(run(key, as_player(player), as_player(opponent), opening_plies))
    return dict(zip(OUTCOMES, (int(c) for c in counts)))


def score(result: dict) -> float:
    """``(win + draw / 2) / games`` of a ``match`` result: 1 all won, 0.5 even, 0 all lost."""
    games = sum(result[k] for k in OUTCOMES)
    return (result["win"] + 0.5 * result["draw"]) / games
