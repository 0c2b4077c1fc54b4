"""A pgx board game as the search's model: the real rules, no learned dynamics.

The embedding is the batched pgx ``State``; values and rewards are from the view of the player to
move; ``discount`` is ``-1`` between plies (the next value is the opponent's) and ``0`` after a
terminal ply; the legal-action mask goes to the search at every node (``invalid_actions``), so
illegal moves are never selected, not merely given a tiny prior.

Shapes: ``B`` games, ``A`` actions, ``O`` the observation shape (pgx's, from the mover's view).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from evojax_rl import mcts

# Two-player, zero-sum, deterministic, perfect-information pgx games, with the most plies a game
# can last (the length of one self-play episode). Others (chance, hidden information, one
# player) do not fit a search with the true state as the model.
MAX_PLIES = {
    "tic_tac_toe": 9,
    "connect_four": 42,
    "hex": 121,
    "othello": 128,
    "animal_shogi": 256,
    "gardner_chess": 256,
    "go_9x9": 243,
}
GAMES = tuple(MAX_PLIES)


class Game(NamedTuple):
    """A pgx game by id: ``env`` (``pgx.Env``), ``num_actions`` (A), ``observation_shape`` (O),
    ``max_plies`` (a game is over after at most this many plies)."""

    id: str
    env: Any
    num_actions: int
    observation_shape: tuple
    max_plies: int


@functools.lru_cache(maxsize=None)
def make_game(game_id: str) -> Game:
    """The pgx game ``game_id``; an unknown or unfit id raises ``ValueError`` listing the valid ones.

    Needs the ``[games]`` extra (pgx). Cached: one ``Game`` per id, so that what is compiled or
    cached per game (matches, players) is shared by everything that plays it.
    """
    if game_id not in MAX_PLIES:
        raise ValueError(f"unknown game {game_id!r}; valid games: {', '.join(GAMES)}.")
    try:
        import pgx
    except ImportError:
        raise ImportError("AlphaZero needs pgx: pip install 'evojax_rl[games]'.") from None
    env = pgx.make(game_id)
    return Game(game_id, env, int(env.num_actions), tuple(env.observation_shape), MAX_PLIES[game_id])


def init(game: Game, key: jax.Array, batch: int):
    """``batch`` fresh games (pgx randomizes which player id moves first)."""
    return jax.vmap(game.env.init)(jax.random.split(key, batch))


def step(game: Game, state, action: jax.Array):
    """Play ``action: int32[B]`` in every game (pgx leaves a finished game as it is, with zero
    rewards)."""
    return jax.vmap(game.env.step)(state, action)


def mover_reward(state, player: jax.Array) -> jax.Array:
    """``state.rewards[b, player[b]]``: ``[B]``."""
    return jnp.take_along_axis(state.rewards, player[:, None], axis=1)[:, 0]


def model(game: Game, apply_fn: Callable) -> tuple[Callable, Callable]:
    """``(root_fn, recurrent_fn)`` for ``mcts`` policies, with the network ``apply_fn(params,
    observation: [B, *O]) -> (logits: [B, A], value: [B])``.

    ``root_fn(params, state) -> RootFnOutput``; ``recurrent_fn(params, key, action, state) ->
    (RecurrentFnOutput, state)``. After a terminal ply the value is 0 and the discount 0, so
    the outcome enters the search only as the reward of the ply that ends the game, seen by the
    player who made it.
    """

    def root_fn(params, state):
        logits, value = apply_fn(params, state.observation)
        return mcts.RootFnOutput(prior_logits=logits, value=value, embedding=state,
                                 invalid_actions=~state.legal_action_mask)

    def recurrent_fn(params, key, action, state):
        del key  # the rules are deterministic
        mover = state.current_player
        state = step(game, state, action)
        logits, value = apply_fn(params, state.observation)
        done = state.terminated | state.truncated
        out = mcts.RecurrentFnOutput(
            reward=mover_reward(state, mover),
            discount=jnp.where(done, 0.0, -1.0).astype(value.dtype),
            prior_logits=logits,
            value=jnp.where(done, 0.0, value),
            invalid_actions=~state.legal_action_mask,
        )
        return out, state

    return root_fn, recurrent_fn


def uniform_apply(game: Game) -> Callable:
    """A network that knows nothing: uniform logits and value 0 (``params`` ignored)."""

    def apply_fn(params, observation):
        batch = observation.shape[0]
        return jnp.zeros((batch, game.num_actions)), jnp.zeros((batch,))

    return apply_fn
