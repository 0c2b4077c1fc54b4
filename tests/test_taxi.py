"""The Taxi environment (evojax_rl.problems.taxi): its rules, and its step against its model."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_rl.cem_rl import deterministic_mdp, policy_return, value_iteration
from evojax_rl.problems import make
from evojax_rl.problems.taxi import (
    DROPOFF, EAST, IN_TAXI, MAX_STEPS, NORTH, N_STATES, PICKUP, SOUTH, START_STATES, WEST,
    decode, encode, taxi, taxi_model,
)

ENV = taxi()
R, G, Y, B = range(4)


def step(row, col, passenger, dest, action):
    """One env step: ((row, col, passenger, dest), reward, done)."""
    s = jnp.asarray(encode(row, col, passenger, dest), jnp.int32)
    obs, s2, reward, done, _ = jax.jit(ENV.step)(jax.random.key(0), s, action, None)
    assert int(obs) == int(s2)
    return tuple(int(v) for v in decode(int(s2))), float(reward), bool(done)


@pytest.mark.parametrize("cell, action, to", [
    ((0, 1), EAST, (0, 1)),   # the wall east of R's neighbour, rows 0 and 1
    ((1, 2), WEST, (1, 2)),
    ((2, 1), EAST, (2, 2)),   # row 2 is open
    ((3, 0), EAST, (3, 0)),   # walls east of column 0 and 2 in rows 3 and 4
    ((4, 3), WEST, (4, 3)),
    ((4, 3), EAST, (4, 4)),
    ((0, 3), NORTH, (0, 3)),  # the border
    ((4, 0), SOUTH, (4, 0)),
    ((0, 0), WEST, (0, 0)),
    ((2, 4), EAST, (2, 4)),
    ((3, 1), SOUTH, (4, 1)),  # no walls across rows
])
def test_moves_and_walls(cell, action, to):
    (row, col, passenger, dest), reward, done = step(*cell, G, Y, action)
    assert (row, col, passenger, dest) == (*to, G, Y)
    assert reward == -1.0 and not done


def test_pickup_and_dropoff():
    # Pickup where the passenger waits (at Y): aboard, -1.
    assert step(4, 0, Y, B, PICKUP) == ((4, 0, IN_TAXI, B), -1.0, False)
    # Pickup elsewhere, or with the passenger aboard: -10, nothing changes.
    assert step(4, 1, Y, B, PICKUP) == ((4, 1, Y, B), -10.0, False)
    assert step(4, 0, IN_TAXI, B, PICKUP) == ((4, 0, IN_TAXI, B), -10.0, False)
    # Dropoff at the destination with the passenger aboard: delivered, +20, the episode ends.
    assert step(4, 3, IN_TAXI, B, DROPOFF) == ((4, 3, B, B), 20.0, True)
    # Dropoff at another depot, anywhere else, or without the passenger: -10, nothing changes.
    assert step(0, 4, IN_TAXI, B, DROPOFF) == ((0, 4, IN_TAXI, B), -10.0, False)
    assert step(2, 2, IN_TAXI, B, DROPOFF) == ((2, 2, IN_TAXI, B), -10.0, False)
    assert step(4, 3, R, B, DROPOFF) == ((4, 3, R, B), -10.0, False)


def test_step_agrees_with_the_model_on_every_state_and_action():
    model = taxi_model()
    s = jnp.repeat(jnp.arange(N_STATES, dtype=jnp.int32), 6)
    a = jnp.tile(jnp.arange(6, dtype=jnp.int32), N_STATES)
    obs, s2, reward, done, _ = jax.jit(jax.vmap(ENV.step, in_axes=(None, 0, 0, None)))(
        jax.random.key(0), s, a, None)
    np.testing.assert_array_equal(np.asarray(s2).reshape(N_STATES, 6), model.next_state)
    np.testing.assert_array_equal(np.asarray(reward).reshape(N_STATES, 6), model.reward)
    np.testing.assert_array_equal(np.asarray(done).reshape(N_STATES, 6), model.done)
    np.testing.assert_array_equal(np.asarray(obs), np.asarray(s2, np.float32))
    assert model.done.sum() == 4  # one delivering (state, action) per destination


def test_reset_and_start_distribution():
    obs, s = jax.jit(jax.vmap(ENV.reset, in_axes=(0, None)))(
        jax.random.split(jax.random.key(0), 6000), None)
    s = np.asarray(s)
    _, _, passenger, dest = decode(s)
    assert ((passenger < IN_TAXI) & (passenger != dest)).all()
    assert len(np.unique(s)) == 300 == len(START_STATES)
    model = taxi_model()
    assert (model.start > 0).sum() == 300 and model.start.sum() == pytest.approx(1.0)
    assert ENV.max_steps == MAX_STEPS == 200 and ENV.action_space.n == 6


def test_value_iteration_optimum():
    """The optimal policy delivers from every start; its mean return over the 300 starts is
    7.93 (21 minus the mean number of actions of an optimal delivery, 13.07)."""
    m = taxi_model()
    mdp = deterministic_mdp(m.next_state, m.reward, m.done, m.start)
    v, greedy = value_iteration(mdp, MAX_STEPS)
    assert mdp.start @ v == pytest.approx(7.93, abs=1e-5)
    assert policy_return(mdp, greedy, MAX_STEPS) == pytest.approx(mdp.start @ v, abs=1e-9)
    assert (v[START_STATES] > 0).all()


def test_bad_max_steps():
    with pytest.raises(ValueError, match="taxi: max_steps must be an int >= 1, got 0"):
        taxi(max_steps=0)
    assert taxi(max_steps=50).max_steps == 50


def test_made_by_name_with_its_step_limit_and_no_other_setting():
    assert make("Taxi").max_steps == MAX_STEPS and make("Taxi", max_steps=50).max_steps == 50
    with pytest.raises(ValueError, match=r"taxi takes no setting but max_steps, got \['rain'\]"):
        make("Taxi", rain=True)
