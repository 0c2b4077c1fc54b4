import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_rl as ejr
from evojax_rl.strategies import cem


def neg_sphere(x):
    return -ejr.problems.sphere(x)


def test_default_cem_improves_sphere_100x():
    x0 = jnp.ones(10)
    res = ejr.optimize(
        neg_sphere, cem(), x0, key=jax.random.key(0), max_generations=500, target_fitness=-0.1
    )
    assert res.stop_reason == "target_fitness"
    assert res.best_fitness >= -0.1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(popsize=1), "popsize must be an int >= 2, got 1"),
        (dict(popsize=7.5), "popsize must be an int >= 2, got 7.5"),
        (dict(sigma=0.0), "sigma .* got 0.0"),
        (dict(sigma=-1.0), "sigma .* got -1.0"),
        (dict(elite_ratio=0.0), r"elite_ratio .*\(0, 1\], got 0.0"),
        (dict(elite_ratio=1.5), r"elite_ratio .*\(0, 1\], got 1.5"),
        (dict(popsize=10, elite_ratio=1e-9), "elite_ratio=1e-09 with popsize=10 gives no elite"),
        (dict(noise="linear"), "noise must be one of .*'linear'"),
        (dict(noise_a=-1.0), "noise_a .* got -1.0"),
        (dict(noise_b=0.0), "noise_b .* got 0.0"),
        (dict(smoothing=1.0), r"smoothing .*\[0, 1\), got 1.0"),
    ],
)
def test_bad_configuration_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cem(**kwargs)


def test_unknown_init_hyperparameter_raises():
    with pytest.raises(ValueError, match="learning_rate"):
        cem(8).init(jax.random.key(0), jnp.zeros(3), learning_rate=0.1)


@pytest.mark.parametrize(
    "noise, extra", [("none", 0.0), ("constant", 0.3), ("decreasing", 0.3 - 2 / 4)]
)
def test_update_is_elite_moments_plus_szita_lorincz_noise(noise, extra):
    # P = 10, rho = 0.3 -> 3 elites; generation t = 2, a = 0.3, b = 4 -> decreasing noise
    # max(0.3 - 2/4, 0) = 0.
    strat = cem(10, elite_ratio=0.3, noise=noise, noise_a=0.3, noise_b=4.0)
    state = strat.init(jax.random.key(0), jnp.zeros(4))._replace(
        generation=jnp.asarray(2, jnp.int32)
    )
    pop, state = strat.ask(jax.random.key(1), state)
    fitness = jnp.asarray([3.0, 9.0, 1.0, 8.0, 0.0, 7.0, 2.0, 5.0, 4.0, 6.0])
    new = strat.tell(pop, fitness, state)
    elites = np.asarray(pop)[[1, 3, 5]]
    var = elites.var(0) + max(extra, 0.0)
    np.testing.assert_allclose(new.mean, elites.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new.std, np.sqrt(var), rtol=1e-5, atol=1e-6)
    assert int(new.generation) == 3


def test_elite_count_is_ceil_and_robust_to_rounding():
    from evojax_rl.strategies.cem import elite_count

    for rho, p in [(0.1, 20), (0.3, 10), (0.25, 7), (1.0, 5), (0.01, 10)]:
        assert int(elite_count(jnp.float32(rho), p)) == max(1, math.ceil(round(rho * p, 6)))


def _final_errors(strat, f, x0, generations, seeds=8):
    """f(mean) after ``generations``, one per seed, as one vmapped compiled run."""

    def one(key):
        state = strat.init(key, x0)

        def body(state, k):
            pop, state = strat.ask(k, state)
            return strat.tell(pop, -jax.vmap(f)(pop), state), None

        state, _ = jax.lax.scan(body, state, jax.random.split(key, generations))
        return f(state.mean)

    return np.asarray(jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(0), seeds)))


def test_decreasing_noise_beats_plain_cem_where_plain_cem_collapses():
    # Acceptance point of the issue. Two elites out of 20 on a sphere whose optimum is 5 sigma
    # per coordinate from x0: plain CEM's elite variance halves about every generation and the
    # search freezes far from the optimum (median f ~ 157 of 250 at the start). Szita & Lorincz's
    # extra variance keeps it moving; decreasing noise then also converges (their Tetris table:
    # none < constant < decreasing).
    d = 10
    f = ejr.problems.shifted(ejr.problems.sphere, 5.0 * jnp.ones(d))
    x0 = jnp.zeros(d)
    kw = dict(popsize=20, elite_ratio=0.1)
    plain = _final_errors(cem(**kw, noise="none"), f, x0, 200)
    constant = _final_errors(cem(**kw, noise="constant", noise_a=0.1), f, x0, 200)
    decreasing = _final_errors(cem(**kw, noise="decreasing"), f, x0, 200)
    med = {k: float(np.median(v)) for k, v in
           [("none", plain), ("constant", constant), ("decreasing", decreasing)]}
    print("CEM shifted-sphere medians over 8 seeds:", med)
    assert med["none"] > 50.0  # plain CEM has collapsed far from the optimum
    assert med["decreasing"] < 1e-3 * med["none"]
    assert decreasing.max() < plain.min()  # every seed, not only the median
    assert med["decreasing"] < med["constant"] < med["none"]
