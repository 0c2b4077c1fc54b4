"""Neural CEM (evojax_rl.cem_rl.neural): the masked fit, the method on a small task, bad input.

CartPole-v1 (compiling its iteration alone takes several seconds) is left to
benchmarks/cem_rl.py, which times the solve.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_rl.cem_rl import neural_cem
from evojax_rl.problems import Box, Discrete, Env

# A combination lock seen through one-hot observations: states 0..4, 3 actions; CODE[i] moves
# on (the last one opens the lock: +10, the end), (CODE[i] + 1) % 3 stays, the other goes back
# to 0; other steps cost -1; 20 steps at most. Optimum: 10 - 4 = 6.
CODE = jnp.asarray([2, 0, 1, 2, 1])


def _lock_env():
    def reset(key, params):
        return jax.nn.one_hot(0, 5), jnp.zeros((), jnp.int32)

    def step(key, s, a, params):
        right, stay = a == CODE[s], a == (CODE[s] + 1) % 3
        opened = right & (s == 4)
        s2 = jnp.where(right, jnp.minimum(s + 1, 4), jnp.where(stay, s, 0))
        reward = jnp.where(opened, 10.0, -1.0)
        return jax.nn.one_hot(s2, 5), s2, reward, opened, {}

    return Env(reset, step, None, Box(0.0, 1.0, (5,)), Discrete(3), 20, "one-hot lock")


LOCK = _lock_env()


@pytest.fixture(scope="module")
def cem():
    return neural_cem(LOCK, sessions=100, percentile=70.0, hidden=(32,), learning_rate=1e-2,
                      epochs=10)


def _elite_buffer():
    """A fixed elite buffer [M=6, T=10]: real steps label action = (obs[2] > 0); the padding
    (2/3 of the buffer, after each session's end) carries the opposite label, so a fit that
    counted it would learn the wrong rule."""
    obs = jax.random.normal(jax.random.key(1), (6, 10, 5))
    lengths = jnp.asarray([2, 3, 4, 3, 4, 4])
    weights = (jnp.arange(10)[None, :] < lengths[:, None]).astype(jnp.float32)
    rule = (obs[..., 2] > 0).astype(jnp.int32)
    actions = jnp.where(weights > 0, rule, 1 - rule)
    return obs, actions, weights


def test_fit_raises_the_elite_log_likelihood_and_ignores_padding(cem):
    obs, actions, weights = _elite_buffer()
    state = cem.init(jax.random.key(0))
    before = float(cem.log_likelihood(state.params, obs, actions, weights))
    params, _, losses = cem.fit(state.params, state.opt_state, obs, actions, weights)
    after = float(cem.log_likelihood(params, obs, actions, weights))
    assert losses.shape == (10,) and float(losses[0]) == pytest.approx(-before, rel=1e-5)
    assert after > before + 0.5
    # Padding is ignored: changing the padded observations and labels changes nothing.
    noise = jax.random.normal(jax.random.key(2), obs.shape) * (1 - weights[..., None])
    params2, _, _ = cem.fit(state.params, state.opt_state, obs + noise,
                           jnp.where(weights > 0, actions, 0), weights)
    np.testing.assert_allclose(jax.tree.leaves(params2)[0], jax.tree.leaves(params)[0],
                               rtol=1e-6, atol=1e-7)
    # Without the mask (every buffer step weighted 1) the same fit mostly learns the pads'
    # (opposite) rule: the real steps' likelihood ends far below the masked fit's.
    unmasked, _, _ = cem.fit(state.params, state.opt_state, obs, actions, jnp.ones_like(weights))
    assert float(cem.log_likelihood(unmasked, obs, actions, weights)) < after - 0.5


def test_neural_cem_opens_the_lock(cem):
    start = cem.init(jax.random.key(0))
    state, metrics = cem.run(start, 25)
    m = jax.device_get(metrics)
    assert m["mean_return"].shape == (25,) and int(state.iteration) == 25
    assert (m["threshold"] <= m["max_return"]).all() and (m["mean_return"] <= 6.0).all()
    assert m["mean_return"][0] < 0.0 and m["threshold"][-1] == 6.0 and m["mean_return"][-1] > 5
    greedy = cem.evaluate(state.params, jax.random.key(7), greedy=True)
    np.testing.assert_array_equal(greedy.returns, 6.0)  # the optimum, from every session
    assert greedy.lengths.shape == (100,) and (greedy.lengths == 5).all()


@pytest.mark.parametrize("kwargs, match", [
    (dict(sessions=0), "sessions must be an int >= 1, got 0"),
    (dict(percentile=100), r"percentile must be in \[0, 100\), got 100"),
    (dict(hidden=(64, 0)), r"hidden must be a sequence of ints >= 1, got \(64, 0\)"),
    (dict(hidden=32), "hidden must be a sequence of ints >= 1, got 32"),
    (dict(activation="sigmoid"), "activation must be one of .*got 'sigmoid'"),
    (dict(learning_rate=0.0), "learning_rate must be a positive finite number, got 0.0"),
    (dict(epochs=0), "epochs must be an int >= 1, got 0"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        neural_cem(LOCK, **kwargs)


def test_bad_env():
    with pytest.raises(ValueError, match="action_space must be Discrete"):
        neural_cem(LOCK._replace(action_space=Box(-1.0, 1.0, (1,))))
    with pytest.raises(ValueError, match="expected an evojax_rl.problems.Env"):
        neural_cem("CartPole-v1")
    cem = neural_cem(LOCK)
    with pytest.raises(ValueError, match="greedy must be True or False, got 1"):
        cem.evaluate(None, jax.random.key(0), greedy=1)
