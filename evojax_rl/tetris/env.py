"""Tetris in the environment protocol (``problems.Env``), so the ES trainer can evolve a policy.

``tetris_env(max_steps=10_000, height=20)``; also ``problems.make("tetris", max_steps=...,
height=...)`` (``height``: the board's rows, 4 to 20).

- Observation ``f32[K, 22]`` (``K = 34``): the 22 features (``features``) of the afterstate of
  each slot of the current piece. A slot that is not valid (padding, or the piece would stick
  out) carries the features of the first valid slot, and ``step`` plays the first valid slot for
  it: a policy that picks the slot with the best value of any function of the features needs no
  mask, and always places the piece somewhere legal.
- Action ``Discrete(K)``: a slot (``game.SLOT_ROTATION``, ``game.SLOT_COLUMN`` of the piece).
- Reward: the lines the placement cleared (0 to 4).
- ``done``: the new piece has no valid slot (game over). Its observation is then all zeros.
- Pieces: drawn uniformly from the seven (``game.random_piece``) with the step's key.
- ``max_steps``: pieces per episode (the rollout stops there): the training cap. A good policy's
  games last millions of pieces; ``tetris.play`` plays them uncapped.

State (``TetrisState``): the board, the piece to place, the validity of its slots and its first
valid slot. ``step`` places the chosen slot only (``game.place``), then scores the new piece's
slots (``features.afterstate_features``).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from evojax_rl import validation
from evojax_rl.problems.env import Box, Discrete, Env
from evojax_rl.tetris import features, game

DEFAULT_MAX_STEPS = 10_000


class TetrisState(NamedTuple):
    """``board int32[10]`` (column masks), ``piece int32[]`` (to place now), ``valid bool[K]``
    (its slots), ``first int32[]`` (its first valid slot; ``K`` when none)."""

    board: jax.Array
    piece: jax.Array
    valid: jax.Array
    first: jax.Array


def observe(board: jax.Array, piece: jax.Array, height: int = game.HEIGHT):
    """``(obs f32[K, 22], TetrisState, done bool[])`` for ``piece`` about to be placed on
    ``board`` of ``height`` rows: the afterstate features, invalid slots aliased to the first
    valid one."""
    s = features.afterstate_features(board, piece, height)
    first = game.first_index(s.valid)
    done = first >= game.K
    row = jax.lax.dynamic_index_in_dim(s.features, jnp.minimum(first, game.K - 1))  # [1, 22]
    obs = jnp.where(s.valid[:, None], s.features, jnp.where(done, 0.0, row))
    return obs, TetrisState(board, piece, s.valid, first), done


def reset(key, params=None, height: int = game.HEIGHT):
    del params
    obs, state, _ = observe(game.empty_board(), game.random_piece(key), height)
    return obs, state


def step(key, state: TetrisState, action, params=None, height: int = game.HEIGHT):
    del params
    action = jnp.asarray(action, jnp.int32)
    slot = jnp.where(state.valid[jnp.clip(action, 0, game.K - 1)], action, state.first)
    board, lines, _ = game.place(state.board, state.piece, slot, height)
    obs, new, done = observe(board, game.random_piece(key), height)
    return obs, new, lines.astype(jnp.float32), done, {}


def observation_space(height: int = game.HEIGHT) -> Box:
    """Features lie in ``[0, 10 * (height - 1)]`` (the most holes a board can hold)."""
    return Box(0.0, float(game.WIDTH * (height - 1)), (game.K, features.NUM_FEATURES))


OBSERVATION_SPACE = observation_space()


def tetris_env(max_steps: int | None = None, height: int = game.HEIGHT, **kwargs) -> Env:
    """The Tetris ``Env`` (see the module docstring); ``max_steps``: pieces per episode (default
    10,000); ``height``: the board's rows (4 to 20; default 20). It takes no other setting."""
    if kwargs:
        raise ValueError(f"tetris takes no setting but max_steps and height, got {sorted(kwargs)}.")
    if max_steps is None:
        max_steps = DEFAULT_MAX_STEPS
    validation.check_int("max_steps", max_steps, 1, 2**31 - 1)
    reset_fn, step_fn = _functions(game.check_height(height))
    return Env(reset=reset_fn, step=step_fn, params=None, observation_space=observation_space(height),
               action_space=Discrete(game.K), max_steps=int(max_steps), name="tetris")


@functools.lru_cache(maxsize=None)
def _functions(height: int):
    """``(reset, step)`` on ``height`` rows: the same objects for every env of that height."""
    return functools.partial(reset, height=height), functools.partial(step, height=height)
