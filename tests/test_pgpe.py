import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import evojax_rl as ejr
from evojax_rl.strategies import pgpe
from evojax_rl.strategies.pgpe import clipup


def neg_sphere(x):
    return -ejr.problems.sphere(x)


@pytest.mark.parametrize("optimizer", ["clipup", "adam", "sgd"])
def test_pgpe_improves_sphere_100x(optimizer):
    res = ejr.optimize(
        neg_sphere, pgpe(optimizer=optimizer), jnp.ones(10), key=jax.random.key(0),
        max_generations=3000, target_fitness=-0.1,  # plain SGD needs ~950 generations
    )
    assert res.stop_reason == "target_fitness"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(popsize=7), r"even with mirrored sampling, got 7; use 8\.$"),  # always mirrored
        (dict(popsize=0), "popsize must be an int >= 2, got 0"),
        (dict(sigma=-0.1), "sigma .* got -0.1"),
        (dict(center_learning_rate=0.0), "center_learning_rate .* got 0.0"),
        (dict(stdev_learning_rate=-1.0), "stdev_learning_rate .* got -1.0"),
        (dict(stdev_max_change=1.0), r"stdev_max_change must be in \(0, 1\), got 1.0"),
        (dict(optimizer="rmsprop"), "optimizer must be one of .*'rmsprop'"),
        (dict(clipup_max_speed=0.0), "clipup_max_speed .* got 0.0"),
        (dict(clipup_momentum=1.0), r"clipup_momentum must be in \[0, 1\), got 1.0"),
    ],
)
def test_bad_configuration_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pgpe(**kwargs)


def test_sampling_is_symmetric():
    strat = pgpe(8)
    state = strat.init(jax.random.key(0), jnp.arange(3.0))
    pop, _ = strat.ask(jax.random.key(1), state)
    np.testing.assert_allclose(pop[:4] + pop[4:], np.tile(2 * np.arange(3.0), (4, 1)), atol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_stdev_changes_at_most_max_change(seed):
    # A huge stdev step: the clip must bind in both directions.
    strat = pgpe(16, stdev_learning_rate=1e3, stdev_max_change=0.2)
    state = strat.init(jax.random.key(0), jnp.zeros(5))
    pop, state = strat.ask(jax.random.key(seed), state)
    fitness = jax.random.normal(jax.random.key(100 + seed), (16,)) * 1e6
    new = strat.tell(pop, fitness, state)
    ratio = np.asarray(new.sigma / state.sigma)
    assert np.all(ratio >= 0.8 - 1e-6) and np.all(ratio <= 1.2 + 1e-6)
    assert np.any(np.isclose(ratio, 0.8, atol=1e-5) | np.isclose(ratio, 1.2, atol=1e-5))


def test_stdev_grows_along_a_slope_and_mean_follows_it():
    strat = pgpe(20, optimizer="sgd", center_learning_rate=1.0)
    state = strat.init(jax.random.key(0), jnp.zeros(3))
    for g in range(5):
        pop, state = strat.ask(jax.random.key(g), state)
        state = strat.tell(pop, pop[:, 0], state)  # fitness = x_0: only coordinate 0 matters
    assert float(state.mean[0]) > 0.0
    assert float(state.sigma[0]) > 0.1  # exploring the good direction widens
    np.testing.assert_allclose(state.mean[1:], 0.0, atol=0.15)


def test_clipup_normalizes_and_clips():
    tx = clipup(learning_rate=0.1, max_speed=0.25, momentum=0.9)
    params = jnp.zeros(4)
    state = tx.init(params)
    grad = jnp.array([100.0, 0.0, 0.0, 0.0])
    upd, state = tx.update(grad, state)
    np.testing.assert_allclose(upd, [-0.1, 0, 0, 0], atol=1e-7)  # unit step whatever |g|
    for _ in range(20):
        upd, state = tx.update(grad, state)
    assert float(optax.global_norm(upd)) == pytest.approx(0.25, rel=1e-5)  # max speed
    upd, state = tx.update(jnp.zeros(4), state)  # zero gradient: momentum only, no NaN
    assert np.all(np.isfinite(upd))
    np.testing.assert_allclose(upd, 0.9 * 0.25 * np.array([-1, 0, 0, 0]), atol=1e-6)


def test_clipup_hyperparameters_are_in_the_state_and_sweepable():
    state = pgpe(center_learning_rate=0.2).init(jax.random.key(0), jnp.zeros(3))
    hp = state.opt_state.hyperparams
    assert float(hp["learning_rate"]) == pytest.approx(0.2)
    assert float(hp["max_speed"]) == pytest.approx(0.4)
    assert float(hp["momentum"]) == pytest.approx(0.9)
    batch = jax.vmap(lambda m: pgpe().init(jax.random.key(0), jnp.zeros(3), clipup_max_speed=m))(
        jnp.array([0.1, 0.2])
    )
    np.testing.assert_allclose(batch.opt_state.hyperparams["max_speed"], [0.1, 0.2])
