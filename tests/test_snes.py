import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_rl as ejr
from evojax_rl.strategies import snes
from evojax_rl.strategies.snes import default_learning_rate_sigma, utilities


def neg_sphere(x):
    return -ejr.problems.sphere(x)


def test_default_snes_improves_sphere_100x():
    res = ejr.optimize(
        neg_sphere, snes(), jnp.ones(10), key=jax.random.key(0), max_generations=1000,
        target_fitness=-0.1,
    )
    assert res.stop_reason == "target_fitness"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(popsize=1), "popsize must be an int >= 2, got 1"),
        (dict(sigma=0.0), "sigma .* got 0.0"),
        (dict(sigma=float("nan")), "sigma .* got nan"),
        (dict(learning_rate_mean=-1.0), "learning_rate_mean .* got -1.0"),
        (dict(learning_rate_sigma=0.0), "learning_rate_sigma .* got 0.0"),
    ],
)
def test_bad_configuration_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        snes(**kwargs)


def test_utilities_are_wierstra_shaping():
    for p in [2, 5, 10, 37]:
        u = utilities(p)
        assert abs(u.sum()) < 1e-12
        assert np.all(np.diff(u) <= 0)  # best rank gets the most
        assert np.all(u[-(p // 2) :] == -1.0 / p)  # the worse half all get the same
    assert default_learning_rate_sigma(10) == pytest.approx((3 + np.log(10)) / (5 * np.sqrt(10)))


def test_scalar_sigma_broadcasts_and_default_rates():
    state = snes(sigma=0.5).init(jax.random.key(0), jnp.zeros(7))
    assert state.sigma.shape == (7,)
    np.testing.assert_allclose(state.sigma, 0.5)
    assert float(state.learning_rate_mean) == 1.0
    assert float(state.learning_rate_sigma) == pytest.approx(default_learning_rate_sigma(7))
    batch = jax.vmap(lambda s: snes().init(jax.random.key(0), jnp.zeros(7), sigma=s))(
        jnp.array([0.1, 1.0])
    )
    assert batch.sigma.shape == (2, 7)


def _run(strat, f, x0, generations):
    state = strat.init(jax.random.key(0), x0)

    def body(state, k):
        pop, state = strat.ask(k, state)
        return strat.tell(pop, jax.vmap(f)(pop), state), None

    return jax.lax.scan(body, state, jax.random.split(jax.random.key(1), generations))[0]


def test_sigma_shrinks_on_sphere_and_grows_on_a_slope():
    strat = snes(20)
    near = _run(strat, neg_sphere, jnp.zeros(5), 30)
    assert np.all(np.asarray(near.sigma) < 0.1)  # started at 1, optimum at x0
    slope = _run(strat, lambda x: x[0], jnp.zeros(5), 30)
    assert float(slope.sigma[0]) > 3.0  # grows along the improving coordinate
    assert float(slope.mean[0]) > 10.0


def test_one_step_matches_algorithm():
    strat = snes(6, learning_rate_sigma=0.2)
    x0, sigma0 = jnp.array([1.0, -2.0, 0.5]), jnp.array([0.5, 1.0, 2.0])
    state = strat.init(jax.random.key(0), x0, sigma=sigma0)
    pop, state = strat.ask(jax.random.key(3), state)
    fitness = jnp.array([0.3, -1.0, 2.0, 0.1, 5.0, -3.0])
    new = strat.tell(pop, fitness, state)
    s = (np.asarray(pop) - np.asarray(state.mean)) / np.asarray(state.sigma)
    order = np.argsort(-np.asarray(fitness))
    u = np.empty(6)
    u[order] = utilities(6)
    sigma = np.asarray(state.sigma)
    np.testing.assert_allclose(new.mean, state.mean + sigma * (u @ s), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new.sigma, sigma * np.exp(0.1 * (u @ (s**2 - 1))), rtol=1e-5)
