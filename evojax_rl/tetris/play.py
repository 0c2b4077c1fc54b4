"""Uncapped Tetris games of a linear afterstate policy, as one compiled loop.

``play(weights, key, games)`` plays ``games`` independent games with the policy that places each
piece at the valid slot whose afterstate has the highest value ``features @ weights`` (ties: the
lowest slot), until every game is over: a ``lax.while_loop`` with no step limit (``max_pieces``
sets one if wanted; ``height`` the board's rows, 20 by default). Finished games stop counting
while the others go on, and the games still going are gathered into narrower batches as the
others end (``_play``), so a batch costs about its live games' turns. ``weights`` is
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

from evojax_rl import rollout, validation
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

# Compaction's widths (``rollout.compaction_widths``): each half the one before, down to one lane
# (100, 50, 25, 12, 6, 3, 1); the turn is compiled once per width. Halving gathers the last games
# sooner than quartering (100, 25, 6, 1): 27% less time on a population's long-tailed games, for
# about 10 s more compiling (measured).
COMPACT_RATIO = 2
COMPACT_LEVELS = 7


@functools.partial(jax.jit, static_argnames=("games", "height", "compact"))
def _play(weights, key, games, max_pieces, height=game.HEIGHT, compact=True):
    """``weights f32[games, 22]``, ``max_pieces int32[]`` (``NO_LIMIT``: none; traced, so that
    every limit runs the same compiled program), ``height`` the board's rows.

    Game lengths are long-tailed (the longest of 100 is about five times the mean), and a batch
    of games steps every lane until its last game ends. So (``compact``) the games still going
    are gathered into a batch half as wide once they fit (at a block's end), down to one lane: a
    batch then costs about its live games' turns. Every game still going has placed as many
    pieces as the others (one per turn), so all draw from the same block; a lane carries the index
    of its game, whose key, weights and results follow it. Results equal the uncompacted loop's
    (``compact=False``) exactly."""
    keys = jax.random.split(key, games)
    widths = (rollout.compaction_widths(games, COMPACT_RATIO, COMPACT_LEVELS, 1) if compact
              else [games])

    def live(c):
        return ~c.over & (c.pieces < max_pieces)

    def block(w, lane_keys, c):
        pieces = jax.vmap(lambda k: game.random_piece(jax.random.fold_in(k, c.block), (BLOCK,)))(
            lane_keys)

        def step(ic):
            i, c = ic
            return i + 1, _turn(w, c, pieces[:, i], max_pieces, height)

        _, c = jax.lax.while_loop(lambda ic: (ic[0] < BLOCK) & jnp.any(live(ic[1])), step, (0, c))
        return c._replace(block=c.block + 1)

    zeros = jnp.zeros((games,), jnp.int32)
    c = _Carry(jnp.zeros((games, game.WIDTH), jnp.int32), zeros, zeros,
               jnp.zeros((games,), bool), jnp.zeros((), jnp.int32))
    out = Games(zeros, zeros, jnp.zeros((games,), bool))
    lane = jnp.arange(games)  # the game each lane plays; ``games`` marks an empty lane
    for width, narrower in zip(widths, widths[1:] + [0]):
        g = jnp.minimum(lane, games - 1)
        w, lane_keys = (weights, keys) if width == games else (weights[g], keys[g])
        c = jax.lax.while_loop(lambda c, n=narrower: jnp.sum(live(c)) > n,
                               functools.partial(block, w, lane_keys), c)
        out = rollout.scatter_results(out, lane, Games(c.lines, c.pieces, c.over))
        if narrower:
            idx, filled, lane = rollout.gather_live(live(c), lane, narrower, games)
            c = _Carry(c.board[idx], c.lines[idx], c.pieces[idx], c.over[idx] | ~filled, c.block)
    return out


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
