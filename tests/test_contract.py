"""The contract every strategy meets (DESIGN.md, "Tests and benchmarks")."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_rl as ejr
from evojax_rl import loop
from compile_count import count_compilations
from strategy_registry import STRATEGIES

NAMES = sorted(STRATEGIES)
X0 = jnp.full((10,), 1.0)


def neg_sphere(x):
    return -ejr.problems.sphere(x)


def make(name, **override):
    factory, kwargs, _ = STRATEGIES[name]
    return factory(**{**kwargs, **override})


def run_generations(strategy, state, key, n, fitness_fn=neg_sphere, corrupt=None):
    """``n`` generations under ``lax.scan``; ``corrupt(key, fitness)`` may spoil fitness."""

    def step(state, k):
        k_ask, k_bad = jax.random.split(k)
        pop, state = strategy.ask(k_ask, state)
        fit = jax.vmap(fitness_fn)(pop)
        if corrupt is not None:
            fit = corrupt(k_bad, fit)
        return strategy.tell(pop, fit, state), jnp.max(fit)

    return jax.lax.scan(step, state, jax.random.split(key, n))


@pytest.mark.parametrize("name", NAMES)
def test_improves_sphere_100x(name):
    _, _, cap = STRATEGIES[name]
    start = float(ejr.problems.sphere(X0))
    result = ejr.optimize(neg_sphere, make(name), X0, key=jax.random.key(0), max_generations=cap)
    assert -result.best_fitness <= start / 100, (name, result.best_fitness)
    assert np.isfinite(result.history).all()
    mean = make(name).mean(result.state)
    assert -neg_sphere(mean) < start, "the search centre itself moved towards the optimum"


@pytest.mark.parametrize("name", NAMES)
def test_equal_configuration_does_not_recompile(name):
    fn = neg_sphere
    with count_compilations() as first:
        ejr.optimize(fn, make(name), X0, key=jax.random.key(1), max_generations=5)
    assert first[0] >= 1  # the counter sees this compilation (in a fresh process or not)
    # A fresh factory call with the same settings, another key, another sigma: no new compile.
    with count_compilations() as again:
        ejr.optimize(fn, make(name), X0, key=jax.random.key(2), max_generations=5)
        strategy = make(name)
        state = strategy.init(jax.random.key(3), X0, sigma=0.3)
        loop.run_one(fn, strategy, state, jax.random.key(4), 5, None, None)
    assert again[0] == 0


@pytest.mark.parametrize("name", NAMES)
def test_state_structure_and_dtypes_survive_scan(name):
    strategy = make(name)
    state = strategy.init(jax.random.key(0), X0)
    out, best = run_generations(strategy, state, jax.random.key(1), 4)
    assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(state)
    dtypes_in = [x.dtype for x in jax.tree_util.tree_leaves(state)]
    dtypes_out = [x.dtype for x in jax.tree_util.tree_leaves(out)]
    assert dtypes_in == dtypes_out
    assert best.shape == (4,)


@pytest.mark.parametrize("name", NAMES)
def test_vmap_over_seeds_and_sigma(name):
    strategy = make(name)

    def run(key, sigma):
        state = strategy.init(key, X0, sigma=sigma)
        final, best = run_generations(strategy, state, key, 5)
        return best[-1], final

    keys = jax.random.split(jax.random.key(0), 3)
    best_seeds, _ = jax.vmap(run, in_axes=(0, None))(keys, 0.3)
    assert best_seeds.shape == (3,) and len(set(np.asarray(best_seeds).tolist())) == 3
    sigmas = jnp.array([0.01, 0.3, 1.0])
    best_sigmas, states = jax.vmap(run, in_axes=(None, 0))(keys[0], sigmas)
    assert np.all(np.isfinite(best_sigmas))
    # Each member of the batch really used its own sigma.
    first = jax.vmap(lambda s: strategy.init(keys[0], X0, sigma=s))(sigmas)
    pops = jax.vmap(lambda st: strategy.ask(keys[1], st)[0])(first)
    spread = np.asarray(jnp.std(pops, axis=(1, 2)))
    assert spread[0] < spread[1] < spread[2]


@pytest.mark.parametrize("name", NAMES)
def test_nan_fitness_does_not_poison_state(name):
    strategy = make(name)
    state = strategy.init(jax.random.key(0), X0)

    def corrupt(key, fit):
        bad = jax.random.uniform(key, fit.shape) < 0.1
        return jnp.where(bad, jnp.nan, fit)

    out, best = run_generations(strategy, state, jax.random.key(1), 30, corrupt=corrupt)
    for leaf in jax.tree_util.tree_leaves(out):
        if jnp.issubdtype(leaf.dtype, jnp.floating):
            assert np.all(np.isfinite(np.asarray(leaf))), leaf
    mean = strategy.mean(out)
    assert float(ejr.problems.sphere(mean)) < float(ejr.problems.sphere(X0))


@pytest.mark.parametrize("name", NAMES)
def test_fitness_of_wrong_shape_is_refused(name):
    strategy = make(name)
    state = strategy.init(jax.random.key(0), X0)
    pop, state = strategy.ask(jax.random.key(1), state)
    p = jax.tree_util.tree_leaves(pop)[0].shape[0]
    with pytest.raises(ValueError, match=rf"shape \({p},\).*got shape \({p + 1},\)"):
        strategy.tell(pop, jnp.zeros(p + 1), state)


@pytest.mark.parametrize("name", NAMES)
def test_integer_x0_and_unknown_hyperparameter_are_refused(name):
    strategy = make(name)
    with pytest.raises(ValueError, match="floating-point.*int32"):
        strategy.init(jax.random.key(0), jnp.zeros(3, jnp.int32))
    with pytest.raises(ValueError, match="unknown hyperparameter.*'bogus'"):
        strategy.init(jax.random.key(0), X0, bogus=1.0)


@pytest.mark.parametrize("name", NAMES)
def test_nonpositive_sigma_is_refused(name):
    factory, kwargs, _ = STRATEGIES[name]
    with pytest.raises(ValueError, match="sigma must be a positive finite number, got -0.5"):
        factory(**{**kwargs, "sigma": -0.5})
    # The sweep path checks concrete values with the same rules as the factory.
    for bad in (-1.0, 0.0, float("nan"), jnp.array([0.1, -0.1])):
        with pytest.raises(ValueError, match=f"{name}: sigma must be a positive finite number"):
            make(name).init(jax.random.key(0), X0, sigma=bad)


# --- at the settings a user picks, not only the registry's ------------------------------------

USER_POPSIZES = (16, 256)
USER_SIGMAS = (0.1, 0.3, 1.0)
USER_GENERATIONS = 300


def promised_sphere_value(name, sigma):
    """What each strategy promises on 10-D sphere from f(x0) = 10 after 300 generations with only
    popsize and sigma chosen by the user: a 100x improvement. A GA's mutation scale is fixed, so
    it cannot resolve the optimum below its mutation floor (about D sigma^2 / 10 measured)."""
    start = float(ejr.problems.sphere(X0))
    if name == "simple_ga":
        return max(start / 100, X0.size * sigma**2 / 3)
    return start / 100


@pytest.mark.slow
@pytest.mark.parametrize("popsize", USER_POPSIZES)
@pytest.mark.parametrize("name", NAMES)
def test_promise_holds_at_user_popsizes_and_sigmas(name, popsize):
    """Defaults for everything but popsize and sigma; sigma swept in one vmapped program."""
    factory = getattr(ejr.strategies, name)
    strategy = factory(popsize)

    def run(key, sigma):
        state = strategy.init(key, X0, sigma=sigma)
        state, best = run_generations(strategy, state, key, USER_GENERATIONS)
        # The better of the best member seen and the search centre: ES with a fixed sigma
        # (OpenAI-ES, ARS) hold their answer in the centre, PGPE's centre jitters at ClipUp's
        # speed while its members converge.
        return jnp.minimum(-jnp.max(best), ejr.problems.sphere(strategy.mean(state)))

    keys = jax.random.split(jax.random.key(0), 2)
    reached = jax.jit(jax.vmap(jax.vmap(run, (None, 0)), (0, None)))(keys, jnp.array(USER_SIGMAS))
    reached = np.asarray(reached).max(axis=0)  # the worse of two seeds, per sigma
    promised = np.array([promised_sphere_value(name, s) for s in USER_SIGMAS])
    assert np.all(reached <= promised), (name, popsize, dict(zip(USER_SIGMAS, reached)))
