import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_rl as ejr
from evojax_rl.strategies import simple_ga


def neg_sphere(x):
    return -ejr.problems.sphere(x)


def test_default_ga_improves_sphere_100x():
    res = ejr.optimize(
        neg_sphere, simple_ga(), jnp.ones(10), key=jax.random.key(0), max_generations=2000,
        target_fitness=-0.1,
    )
    assert res.stop_reason == "target_fitness"
    # mean(state) is the best member found, and optimize agrees on its fitness. Recomputed outside
    # the vmapped loop, a float32 sum of 10 squares may round differently: relative 10 eps.
    refit = float(neg_sphere(simple_ga().mean(res.state)))
    assert refit == pytest.approx(res.best_fitness, rel=10 * float(np.finfo(np.float32).eps))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(popsize=1), "popsize must be an int >= 2, got 1"),
        (dict(sigma=0.0), "sigma .* got 0.0"),
        (dict(elite_ratio=0.0), r"elite_ratio .*\(0, 1\], got 0.0"),
        (dict(elite_ratio=2.0), r"elite_ratio .*\(0, 1\], got 2.0"),
        (dict(crossover_rate=1.5), r"crossover_rate must be in \[0, 1\], got 1.5"),
    ],
)
def test_bad_configuration_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simple_ga(**kwargs)


def test_elites_carry_over_unmutated_and_children_come_from_elites():
    strat = simple_ga(10, elite_ratio=0.3, sigma=1e-3, crossover_rate=0.5)
    state = strat.init(jax.random.key(0), jnp.zeros(6))
    pop, state = strat.ask(jax.random.key(1), state)
    pop = pop + jnp.arange(10.0)[:, None]  # distinct members (tell stores what it is given)
    fitness = jnp.array([3.0, 9.0, 1.0, 8.0, 0.0, 7.0, 2.0, 5.0, 4.0, jnp.nan])
    state = strat.tell(pop, fitness, state)
    np.testing.assert_array_equal(state.mean, pop[1])  # best member
    nxt, _ = strat.ask(jax.random.key(2), state)
    elites = np.asarray(pop)[[1, 3, 5]]
    np.testing.assert_array_equal(np.asarray(nxt[:3]), elites)  # unchanged, best first
    # Each child gene is an elite's gene plus mutation of scale 1e-3 (truncation selection).
    children = np.asarray(nxt[3:])
    gap = np.abs(children[:, None, :] - elites[None, :, :]).min(axis=1)
    assert np.all(gap < 1e-2)
    # With crossover, some children mix two elites.
    source = np.abs(children[:, None, :] - elites[None, :, :]).argmin(axis=1)  # [7, 6]
    assert np.any([len(set(row)) > 1 for row in source])


def test_best_member_is_kept_when_a_generation_is_worse():
    strat = simple_ga(4)
    state = strat.init(jax.random.key(0), jnp.zeros(2))
    pop = jnp.arange(8.0).reshape(4, 2)
    state = strat.tell(pop, jnp.array([1.0, 5.0, 2.0, 0.0]), state)
    state = strat.tell(pop + 100, jnp.array([1.0, 2.0, 3.0, 4.0]), state)
    np.testing.assert_array_equal(state.mean, pop[1])
    assert float(state.best_fitness) == 5.0


def test_an_all_nonfinite_generation_does_not_become_the_best():
    # The stand-in for NaN (-1 when nothing is finite) must not be kept as a best fitness, or a
    # later real fitness below it (negative returns) could never replace that member.
    strat = simple_ga(4)
    state = strat.init(jax.random.key(0), jnp.zeros(2))
    pop = jnp.arange(8.0).reshape(4, 2)
    state = strat.tell(pop, jnp.full(4, jnp.nan), state)
    np.testing.assert_array_equal(state.mean, jnp.zeros(2))
    state = strat.tell(pop + 100, jnp.array([-50.0, -40.0, jnp.nan, -60.0]), state)
    np.testing.assert_array_equal(state.mean, pop[1] + 100)
    assert float(state.best_fitness) == -40.0
