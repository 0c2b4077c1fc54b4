"""Uncapped Tetris games of a linear afterstate policy, as one compiled loop.

``play(weights, key, games)`` plays ``games`` independent games with the policy that places each
piece at the valid slot whose afterstate has the highest value ``features @ weights`` (ties: the
lowest slot), until every game is over: a ``lax.while_loop`` with no step limit (``max_pieces``
sets one if wanted; ``height`` the board's rows, 20 by default). Finished games stop counting
while the others go on. ``weights`` is
``f32[22]`` (one policy for every game) or ``f32[games, 22]`` (a policy per game: a population).

Pieces: game ``g`` draws its pieces in blocks of ``BLOCK`` from ``fold_in(key_g, block)``
(``key_g = split(key, games)[g]``), uniformly from the seven (``game.random_piece``): one random
call per block rather than per piece, because a random call costs about as much as scoring
every placement of a piece.

Counts are ``int32``: a game would need 2^31 pieces (about 8.6e8 lines) to overflow, far beyond
the ~1e6 lines of the best linear policies; ``max_pieces`` must be below 2^31.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from evojax_rl import validation
from evojax_rl.tetris import features, game

BLOCK = 64  # pieces drawn per random call per game


class Games(NamedTuple):
    """The outcome of ``play``: ``lines int32[G]`` cleared per game, ``pieces int32[G]`` placed
    per game, ``over bool[G]`` whether the game ended (false only when ``max_pieces`` stopped it)."""

    lines: jax.Array
    pieces: jax.Array
    over: jax.Array


class _Carry(NamedTuple):
    board: jax.Array  # int32[G, 10]
    lines: jax.Array  # int32[G]
    pieces: jax.Array  # int32[G]
    over: jax.Array  # bool[G]
    block: jax.Array  # int32[]: blocks of pieces drawn so far


def choose(board, piece, weights, height: int = game.HEIGHT):
    """``(slot int32[], any_valid bool[])``: the slot the policy picks for ``piece`` on
    ``board`` of ``height`` rows (the first of the best valid ones; two plain reductions, which
    XLA's CPU backend runs several times faster than ``argmax``); for one board (``vmap`` it)."""
    v, _, valid = features.afterstate_values(board, piece, weights, height)
    v = jnp.where(valid, v, -jnp.inf)
    best = jnp.max(v)
    # Any valid slot has a finite value (non-finite weights end the game, as no valid slot).
    return game.first_index(v == best), best > -jnp.inf


def _turn(weights, c: _Carry, piece, max_pieces, height: int) -> _Carry:
    """Every game still going places ``piece`` (``int32[G]``)."""
    slot, ok = jax.vmap(choose, in_axes=(0, 0, 0, None))(c.board, piece, weights, height)
    board, lines, _ = jax.vmap(game.place, in_axes=(0, 0, 0, None))(c.board, piece, slot, height)
    going = ~c.over & (c.pieces < max_pieces)
    live = going & ok
    return c._replace(board=jnp.where(live[:, None], board, c.board),
                      lines=c.lines + jnp.where(live, lines, 0),
                      pieces=c.pieces + live.astype(jnp.int32),
                      over=c.over | (going & ~ok))


NO_LIMIT = 2**31 - 1


@functools.partial(jax.jit, static_argnames=("games", "height"))
def _play(weights, key, games, max_pieces, height=game.HEIGHT):
    """``weights f32[games, 22]``, ``max_pieces int32[]`` (``NO_LIMIT``: none; traced, so that
    every limit runs the same compiled program), ``height`` the board's rows."""
    keys = jax.random.split(key, games)

    def going(c):
        return jnp.any(~c.over & (c.pieces < max_pieces))

    def block(c):
        pieces = jax.vmap(lambda k: game.random_piece(jax.random.fold_in(k, c.block), (BLOCK,)))(keys)

        def step(ic):
            i, c = ic
            return i + 1, _turn(weights, c, pieces[:, i], max_pieces, height)

        _, c = jax.lax.while_loop(lambda ic: (ic[0] < BLOCK) & going(ic[1]), step, (0, c))
        return c._replace(block=c.block + 1)

    zeros = jnp.zeros((games,), jnp.int32)
    c = _Carry(jnp.zeros((games, game.WIDTH), jnp.int32), zeros, zeros,
               jnp.zeros((games,), bool), jnp.zeros((), jnp.int32))
    c = jax.lax.while_loop(going, block, c)
    return Games(c.lines, c.pieces, c.over)


def play(weights, key, games: int, *, max_pieces: int | None = None,
         height: int = game.HEIGHT) -> Games:
    """Play ``games`` games with the linear afterstate policy ``weights``.

    ``weights``: ``f32[22]`` (every game) or ``f32[games, 22]`` (one policy per game). ``key``:
    a JAX key (each game gets its own piece sequence from it). ``max_pieces``: None (the
    default) plays every game to its end; an int stops a game after that many pieces.
    ``height``: the board's rows (4 to 20).
    """
    validation.check_int("games", games, 1)
    if max_pieces is not None:
        validation.check_int("max_pieces", max_pieces, 1, 2**31 - 1)
    w = jnp.asarray(weights, jnp.float32)
    if w.shape not in ((features.NUM_FEATURES,), (games, features.NUM_FEATURES)):
        raise ValueError(f"weights must have shape ({features.NUM_FEATURES},) or ({games}, "
                         f"{features.NUM_FEATURES}) for {games} games, got {tuple(w.shape)}.")
    validation.check_key(key)
    height = game.check_height(height)
    w = jnp.broadcast_to(w, (games, features.NUM_FEATURES))
    limit = NO_LIMIT if max_pieces is None else int(max_pieces)
    return _play(w, key, int(games), jnp.int32(limit), height)
