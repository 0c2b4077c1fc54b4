"""Taxi: Dietterich's taxi domain (2000) as an ``Env``, with its exact tabular model.

A 5x5 grid with walls and four depots, R, G, Y and B::

    +---------+
    |R: | : :G|
    | : | : : |
    | : : : : |
    | | : | : |
    |Y| : |B: |
    +---------+

``|`` is a wall between two cells, ``:`` an open side. A passenger waits at one depot and wants to
go to another one. Rules, as this module implements them:

- Actions (``Discrete(6)``): 0 south, 1 north, 2 east, 3 west, 4 pickup, 5 dropoff.
- A move into a wall or off the grid leaves the taxi where it is. Every move costs -1.
- Pickup where the passenger waits (and is not yet aboard): the passenger boards, -1.
  Anywhere else, or with the passenger already aboard: illegal, -10, nothing changes.
- Dropoff with the passenger aboard at their destination: delivered, +20 (the step's whole
  reward), and the episode ends. Anywhere else, or without the passenger: illegal, -10, nothing
  changes. (So a passenger only ever leaves the taxi at their destination.)
- Start: taxi on any of the 25 cells, passenger at any depot, destination any *other* depot, all
  300 combinations equally likely. Step limit: 200.

State index (``0..499``): ``((row * 5 + col) * 5 + passenger) * 4 + destination`` with
``passenger`` a depot ``0..3`` (R, G, Y, B) or 4 (in the taxi). The observation is that index as
``f32[]`` (``Box(0, 499, ())``); the environment state is the index as ``int32[]``. The 100
indices with the passenger at their destination are reached only by a delivery (terminal).

``taxi_model()`` gives the exact model (``next_state[S, A]``, ``reward[S, A]``, ``done[S, A]``,
``start[S]``), tabulated from the rules by plain Python, separately from the JAX step, so tests
can check one against the other.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evojax_rl import validation
from evojax_rl.problems.env import Box, Discrete, Env

MAP = (
    "+---------+",
    "|R: | : :G|",
    "| : | : : |",
    "| : : : : |",
    "| | : | : |",
    "|Y| : |B: |",
    "+---------+",
)
ROWS = COLS = 5
DEPOTS = ((0, 0), (0, 4), (4, 0), (4, 3))  # R, G, Y, B as (row, col)
DEPOT_NAMES = "RGYB"
IN_TAXI = 4
N_STATES = ROWS * COLS * 5 * 4  # 500
N_ACTIONS = 6
SOUTH, NORTH, EAST, WEST, PICKUP, DROPOFF = range(6)
MAX_STEPS = 200
STEP_REWARD, DELIVER_REWARD, ILLEGAL_REWARD = -1.0, 20.0, -10.0


def _east_walls() -> np.ndarray:
    """``bool[5, 5]``: a wall on the east side of cell (row, col) (read from ``MAP``)."""
    walls = np.zeros((ROWS, COLS), bool)
    for r in range(ROWS):
        line = MAP[r + 1]
        for c in range(COLS):
            walls[r, c] = line[2 + 2 * c] == "|"
    return walls


EAST_WALLS = _east_walls()


def encode(row, col, passenger, destination):
    """State index of (taxi row, taxi col, passenger 0..4, destination 0..3); works on arrays."""
    return ((row * COLS + col) * 5 + passenger) * 4 + destination


def decode(state):
    """``(row, col, passenger, destination)`` of a state index; works on arrays."""
    destination = state % 4
    passenger = (state // 4) % 5
    cell = state // 20
    return cell // COLS, cell % COLS, passenger, destination


class TaxiModel(NamedTuple):
    """Taxi's exact model; ``S = 500``, ``A = 6``.

    ``next_state: int32[S, A]``, ``reward: f32[S, A]``, ``done: bool[S, A]`` (the step ends the
    episode), ``start: f32[S]`` (probability of each first state; sums to 1).
    """

    next_state: np.ndarray
    reward: np.ndarray
    done: np.ndarray
    start: np.ndarray


def _rule(row: int, col: int, passenger: int, dest: int, action: int):
    """One step by the rules in plain Python: ``(row, col, passenger, reward, done)``."""
    if action in (SOUTH, NORTH, EAST, WEST):
        if action == SOUTH:
            row = min(row + 1, ROWS - 1)
        elif action == NORTH:
            row = max(row - 1, 0)
        elif action == EAST and col < COLS - 1 and not EAST_WALLS[row, col]:
            col += 1
        elif action == WEST and col > 0 and not EAST_WALLS[row, col - 1]:
            col -= 1
        return row, col, passenger, STEP_REWARD, False
    if action == PICKUP:
        if passenger < IN_TAXI and DEPOTS[passenger] == (row, col):
            return row, col, IN_TAXI, STEP_REWARD, False
        return row, col, passenger, ILLEGAL_REWARD, False
    if passenger == IN_TAXI and DEPOTS[dest] == (row, col):
        return row, col, dest, DELIVER_REWARD, True
    return row, col, passenger, ILLEGAL_REWARD, False


def taxi_model() -> TaxiModel:
    """The exact tabular model of ``taxi()`` (see ``TaxiModel``), from the rules."""
    next_state = np.zeros((N_STATES, N_ACTIONS), np.int32)
    reward = np.zeros((N_STATES, N_ACTIONS), np.float32)
    done = np.zeros((N_STATES, N_ACTIONS), bool)
    start = np.zeros(N_STATES, np.float32)
    for s in range(N_STATES):
        row, col, passenger, dest = (int(v) for v in decode(s))
        if passenger < IN_TAXI and passenger != dest:
            start[s] = 1.0
        for a in range(N_ACTIONS):
            r2, c2, p2, rew, end = _rule(row, col, passenger, dest, a)
            next_state[s, a] = encode(r2, c2, p2, dest)
            reward[s, a] = rew
            done[s, a] = end
    return TaxiModel(next_state, reward, done, start / start.sum())


def _start_states() -> np.ndarray:
    s = np.arange(N_STATES)
    _, _, passenger, dest = decode(s)
    return s[(passenger < IN_TAXI) & (passenger != dest)].astype(np.int32)


START_STATES = _start_states()  # int32[300]


def _reset(key, params):
    del params
    state = jax.random.choice(key, jnp.asarray(START_STATES))
    return state.astype(jnp.float32), state


def _step(key, state, action, params):
    del key, params
    row, col, passenger, dest = decode(state)
    action = jnp.asarray(action, jnp.int32)
    walls = jnp.asarray(EAST_WALLS)
    can_east = (col < COLS - 1) & ~walls[row, jnp.minimum(col, COLS - 1)]
    can_west = (col > 0) & ~walls[row, jnp.maximum(col - 1, 0)]
    row2 = jnp.where(action == SOUTH, jnp.minimum(row + 1, ROWS - 1),
                     jnp.where(action == NORTH, jnp.maximum(row - 1, 0), row))
    col2 = jnp.where((action == EAST) & can_east, col + 1,
                     jnp.where((action == WEST) & can_west, col - 1, col))
    depots = jnp.asarray(DEPOTS, jnp.int32)
    waiting = passenger < IN_TAXI
    at_passenger = waiting & jnp.all(depots[jnp.minimum(passenger, 3)] == jnp.stack([row, col]))
    at_dest = jnp.all(depots[dest] == jnp.stack([row, col]))
    aboard = passenger == IN_TAXI
    pickup_ok = (action == PICKUP) & at_passenger
    deliver = (action == DROPOFF) & aboard & at_dest
    illegal = ((action == PICKUP) & ~at_passenger) | ((action == DROPOFF) & ~deliver)
    passenger2 = jnp.where(pickup_ok, IN_TAXI, jnp.where(deliver, dest, passenger))
    state2 = encode(row2, col2, passenger2, dest).astype(jnp.int32)
    reward = jnp.where(deliver, DELIVER_REWARD, jnp.where(illegal, ILLEGAL_REWARD, STEP_REWARD))
    return state2.astype(jnp.float32), state2, reward.astype(jnp.float32), deliver, {}


def taxi(*, max_steps: int | None = None, **kwargs) -> Env:
    """The Taxi environment as an ``Env`` (observation: the state index as ``f32[]``).

    ``max_steps``: the step limit (default 200); it takes no other setting. The exact model is
    ``taxi_model()``. Also ``problems.make("Taxi")``.
    """
    if kwargs:
        raise ValueError(f"taxi takes no setting but max_steps, got {sorted(kwargs)}.")
    limit = MAX_STEPS if max_steps is None else validation.check_int("max_steps", max_steps, 1,
                                                                     who="taxi")
    return Env(reset=_reset, step=_step, params=None,
               observation_space=Box(0.0, float(N_STATES - 1), ()),
               action_space=Discrete(N_ACTIONS), max_steps=limit, name="Taxi")
