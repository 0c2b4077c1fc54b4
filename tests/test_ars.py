import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_rl as ejr
from evojax_rl.strategies import ars


def neg_sphere(x):
    return -ejr.problems.sphere(x)


@pytest.mark.parametrize("top_k", [None, 2])
def test_ars_improves_sphere_100x(top_k):
    res = ejr.optimize(
        neg_sphere, ars(top_k=top_k), jnp.ones(10), key=jax.random.key(0), max_generations=2000,
        target_fitness=-0.1,
    )
    assert res.stop_reason == "target_fitness"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(popsize=9), r"even with mirrored sampling, got 9; use 10\.$"),  # always mirrored
        (dict(popsize=0), "popsize must be an int >= 2, got 0"),
        (dict(sigma=0.0), "sigma .* got 0.0"),
        (dict(learning_rate=-0.02), "learning_rate .* got -0.02"),
        (dict(popsize=10, top_k=6), "ars: top_k must be an int from 1 to 5, got 6"),
        (dict(popsize=10, top_k=0), "top_k must be an int from 1 to 5, got 0"),
        (dict(popsize=10, top_k=2.0), r"got 2.0"),
        (dict(top_k=-1), "top_k must be an int >= 1, got -1"),
    ],
)
def test_bad_configuration_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ars(**kwargs)


def test_top_k_too_big_for_default_popsize_raises_at_init():
    strat = ars(top_k=50)  # D = 10 -> default popsize 10 -> 5 directions
    with pytest.raises(ValueError, match="got 50"):
        strat.init(jax.random.key(0), jnp.zeros(10))


def _step(strat, fitness, d=4):
    state = strat.init(jax.random.key(0), jnp.zeros(d))
    pop, state = strat.ask(jax.random.key(1), state)
    return pop, state, strat.tell(pop, jnp.asarray(fitness, jnp.float32), state)


def test_only_top_k_directions_enter_the_update():
    strat = ars(12, top_k=2)  # 6 directions; r+ = f[:6], r- = f[6:]
    f = np.array([5.0, 0.1, 0.2, 9.0, 0.3, 0.0, 1.0, 0.5, 0.4, 2.0, 0.6, 0.7])
    # top-2 by max(r+, r-): direction 3 (9.0) and direction 0 (5.0).
    g = f.copy()
    g[[1, 2, 4, 5, 7, 8, 10, 11]] = [-3.0, 4.0, -100.0, 0.0, 3.5, -7.0, 2.5, -1.0]
    pop, state, a = _step(strat, f)
    _, _, b = _step(strat, g)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-6)
    # and the step is alpha / (b sigma_R) sum (r+ - r-) delta over the kept directions
    delta = (np.asarray(pop[:6]) - 0.0) / 0.02
    used = np.array([f[3], f[0], f[9], f[6]])
    expect = 0.02 / (2 * used.std()) * ((f[3] - f[9]) * delta[3] + (f[0] - f[6]) * delta[0])
    np.testing.assert_allclose(a.mean, expect, rtol=1e-4, atol=1e-6)


def test_step_is_invariant_to_fitness_scale_and_zero_when_flat():
    strat = ars(8)
    f = np.array([1.0, 3.0, -2.0, 0.5, 2.0, -1.0, 0.0, 4.0])
    _, _, a = _step(strat, f)
    _, _, b = _step(strat, 1e6 * f + 3.0)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-4, atol=1e-6)
    _, _, flat = _step(strat, np.full(8, 7.0))  # sigma_R = 0: no step, no NaN
    np.testing.assert_array_equal(flat.mean, np.zeros(4))
    _, _, huge = _step(strat, np.array([3e38, -3e38, 1.0, 0, 0, 0, 0, 0]))  # no overflow
    assert np.all(np.isfinite(huge.mean))
