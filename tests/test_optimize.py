"""optimize(): the README example, stop reasons, NaN accounting, pytrees, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_rl as ejr


def test_readme_example():
    import jax, jax.numpy as jnp  # noqa: E401, F811  (the README's lines, verbatim)
    import evojax_rl as ejr  # noqa: F811

    result = ejr.optimize(lambda x: -ejr.problems.rosenbrock(x), ejr.strategies.cma_es(sigma=0.5),
                          jnp.zeros(10), key=jax.random.key(0), max_generations=3000,
                          target_fitness=-1e-8)
    print(result.best_fitness, result.evaluations)
    assert result.best_fitness >= -1e-8 and result.stop_reason == "target_fitness"
    assert 1000 < result.evaluations < 30000
    assert result.generations * 10 == result.evaluations
    # best_x is the member that scored best_fitness. Recomputed outside the vmapped loop, float32
    # Rosenbrock may round differently (and differently on another CPU): near x = 1 the terms
    # (1 - x_i)^2 are exact up to their last rounding, while a = 10 (x_{i+1} - x_i^2) carries
    # x_i^2's rounding (with or without a fused multiply-add): |da| <= 10 eps. With |a| <= sqrt(f)
    # over D - 1 terms, |df| <= 2 sqrt((D - 1) f) 10 eps + (rounding of the sum) 2 D eps f.
    f = -result.best_fitness
    eps = float(np.finfo(np.float32).eps)
    bound = 2 * np.sqrt(9 * f) * 10 * eps + 2 * 10 * eps * f
    assert abs(float(ejr.problems.rosenbrock(result.best_x)) - f) <= bound
    history = result.history
    assert history.shape == (result.generations,) and np.all(np.diff(history) >= 0)


def test_same_key_same_result_and_other_key_other_result():
    fn = lambda x: -ejr.problems.sphere(x)  # noqa: E731
    run = lambda k: ejr.optimize(fn, ejr.strategies.cma_es(sigma=0.3), jnp.ones(5),  # noqa: E731
                                 key=jax.random.key(k), max_generations=50)
    a, b, c = run(0), run(0), run(1)
    np.testing.assert_array_equal(a.history, b.history)
    assert a.best_fitness != c.best_fitness


def test_args_are_traced_so_new_data_reuses_the_compiled_loop():
    from compile_count import count_compilations

    fn = lambda x, shift: -jnp.sum(jnp.square(x - shift))  # noqa: E731
    strategy = ejr.strategies.cma_es(sigma=0.3)
    run = lambda shift: ejr.optimize(fn, strategy, jnp.zeros(3), key=jax.random.key(0),  # noqa
                                     max_generations=60, args=shift)
    first = run(jnp.full(3, 0.5))
    with count_compilations() as counted:
        second = run(jnp.full(3, -0.25))
    assert counted[0] == 0
    # The data is used, not the first call's baked in: each run ends near its own shift.
    np.testing.assert_allclose(first.best_x, 0.5, atol=0.05)
    np.testing.assert_allclose(second.best_x, -0.25, atol=0.05)
    with pytest.raises(ValueError, match=r"fitness_fn must take one argument, x, without args=, "
                       r"and two, \(x, args\), with args=; got args=a pytree and a function of "
                       r"signature \(x\)\."):
        ejr.optimize(lambda x: -jnp.sum(x), strategy, jnp.zeros(3), key=jax.random.key(0),
                     max_generations=5, args=jnp.ones(3))
    with pytest.raises(ValueError, match=r"got args=None and a function of signature "
                                         r"\(x, shift\)\."):
        ejr.optimize(fn, strategy, jnp.zeros(3), key=jax.random.key(0), max_generations=5)
    # The same data closed over gives the same run.
    closed = ejr.optimize(lambda x: fn(x, jnp.full(3, -0.25)), strategy, jnp.zeros(3),
                          key=jax.random.key(0), max_generations=60)
    np.testing.assert_array_equal(closed.history, second.history)


def test_optimize_batch_runs_are_the_runs_of_optimize():
    # In float64, so that the batched program's other summation order stays at the rounding
    # level over 60 generations (in float32 it grows to the size of the values near 1e-8).
    fn = lambda x, shift: -jnp.sum(jnp.square(x - shift))  # noqa: E731
    with jax.enable_x64(True):
        strategy = ejr.strategies.cma_es(sigma=0.3)
        keys = jax.random.split(jax.random.key(0), 3)
        shifts = jnp.asarray([[0.5] * 4, [-1.0] * 4, [2.0] * 4])
        x0 = jnp.zeros((3, 4))
        targets = [-1e-6, 1.0, -1e-3]  # 1.0 is never reached: that run goes to the cap
        batch = ejr.optimize_batch(fn, strategy, x0, keys=keys, max_generations=60, args=shifts,
                                   target_fitness=targets)
        for r in range(3):
            one = ejr.optimize(fn, strategy, x0[r], key=keys[r], max_generations=60,
                               args=shifts[r], target_fitness=targets[r])
            assert batch.stop_reason[r] == one.stop_reason
            assert batch.generations[r] == one.generations
            assert batch.evaluations[r] == one.evaluations
            np.testing.assert_allclose(batch.history[r, :one.generations], one.history,
                                       rtol=1e-8)
            assert np.all(np.isnan(batch.history[r, one.generations:]))
            np.testing.assert_allclose(batch.best_x[r], one.best_x, rtol=1e-6, atol=1e-9)
    assert batch.stop_reason == ("target_fitness", "max_generations", "target_fitness")
    assert batch.generations[2] < batch.generations[0] < 60
    from compile_count import count_compilations

    with jax.enable_x64(True):
        other = np.asarray(shifts) + 1.0  # other data, computed outside the count
        with count_compilations() as counted:  # an equal strategy, built again
            ejr.optimize_batch(fn, ejr.strategies.cma_es(sigma=0.3), x0, keys=keys,
                               max_generations=60, args=other, target_fitness=targets)
    assert counted[0] == 0


@pytest.mark.parametrize("kwargs, message", [
    (dict(keys=jax.random.key(0)), r"keys must be a \[R\] array of typed PRNG keys"),
    (dict(x0=jnp.zeros((2, 3))), r"x0 and args must lead with one entry per key \(3 keys\), "
                                 r"got a leaf of shape \(2, 3\)"),
    (dict(target_fitness=[1.0, 2.0]), r"target_fitness must be None, a finite number or 3 "),
    (dict(strategy=ejr.strategies.ipop_cma_es()), r"optimize_batch runs one Strategy"),
])
def test_optimize_batch_bad_input(kwargs, message):
    call = dict(fitness_fn=lambda x: -jnp.sum(x**2), strategy=ejr.strategies.cma_es(),
                x0=jnp.zeros((3, 3)), keys=jax.random.split(jax.random.key(0), 3),
                max_generations=5)
    call.update(kwargs)
    with pytest.raises(ValueError, match=message):
        ejr.optimize_batch(call.pop("fitness_fn"), call.pop("strategy"), call.pop("x0"), **call)


def test_pytree_x0_gives_pytree_best_x():
    x0 = {"w": jnp.ones((3, 2)), "b": jnp.ones(2)}
    fn = lambda p: -(jnp.sum(p["w"] ** 2) + jnp.sum((p["b"] - 2.0) ** 2))  # noqa: E731
    res = ejr.optimize(fn, ejr.strategies.cma_es(sigma=0.5), x0, key=jax.random.key(0),
                       max_generations=400, target_fitness=-1e-6)
    assert jax.tree_util.tree_structure(res.best_x) == jax.tree_util.tree_structure(x0)
    assert res.best_x["w"].shape == (3, 2)
    np.testing.assert_allclose(res.best_x["b"], 2.0, atol=1e-2)


def test_nonfinite_fitness_is_ranked_worst_and_counted():
    def fn(x):  # NaN for a quarter of the space, +inf in another: both must rank worst
        f = -ejr.problems.sphere(x)
        f = jnp.where(x[0] > 1.5, jnp.nan, f)
        return jnp.where(x[1] > 1.5, jnp.inf, f)

    res = ejr.optimize(fn, ejr.strategies.cma_es(sigma=1.0), jnp.ones(4), key=jax.random.key(0),
                       max_generations=200)
    assert res.nonfinite > 0
    assert np.isfinite(res.best_fitness) and res.best_fitness > -1e-3
    assert all(np.all(np.isfinite(np.asarray(leaf)))
               for leaf in jax.tree_util.tree_leaves(res.state))


def test_max_evaluations_stops_the_run():
    res = ejr.optimize(lambda x: -ejr.problems.sphere(x), ejr.strategies.cma_es(popsize=10),
                       jnp.ones(4), key=jax.random.key(0), max_generations=1000,
                       max_evaluations=95)
    assert res.stop_reason == "max_evaluations" and res.evaluations == 100


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(max_generations=0), "max_generations must be an int >= 1, got 0"),
        (dict(max_generations=2.5), "max_generations must be an int >= 1, got 2.5"),
        (dict(max_generations=5, target_fitness=float("nan")), "target_fitness must be a finite"),
        (dict(max_generations=5, max_evaluations=0), "max_evaluations must be an int >= 1, got 0"),
    ],
)
def test_bad_run_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ejr.optimize(lambda x: -jnp.sum(x**2), ejr.strategies.cma_es(), jnp.ones(3),
                     key=jax.random.key(0), **kwargs)


def test_not_a_strategy_is_refused():
    with pytest.raises(ValueError, match="strategy must be a Strategy.*got function"):
        ejr.optimize(lambda x: -jnp.sum(x**2), ejr.strategies.cma_es, jnp.ones(3),
                     key=jax.random.key(0), max_generations=3)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: ejr.strategies.open_es(popsize=7), "popsize must be even with mirrored.*got 7"),
        (lambda: ejr.strategies.open_es(popsize=1, mirrored=False), "an int >= 2, got 1"),
        (lambda: ejr.strategies.open_es(learning_rate=0.0), "learning_rate must be a positive"),
        (lambda: ejr.strategies.cma_es(popsize=True), "popsize must be an int >= 2, got True"),
    ],
)
def test_bad_strategy_settings(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_shaping_functions():
    f = jnp.array([3.0, -1.0, 10.0, 0.0])
    np.testing.assert_array_equal(ejr.shaping.ranks(f), [2, 0, 3, 1])
    np.testing.assert_allclose(ejr.shaping.centered_ranks(f), [1 / 6, -0.5, 0.5, -1 / 6], rtol=1e-6)
    z = ejr.shaping.z_score(f)
    assert abs(float(z.mean())) < 1e-6 and abs(float(z.std()) - 1) < 1e-4
    pop = jnp.array([[1.0, 1.0], [0.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    np.testing.assert_allclose(ejr.shaping.weight_decay(f, pop, 0.5), [2.0, -1.0, 8.0, -4.5])


def test_problems_have_their_minimum_where_documented():
    P = ejr.problems
    z, o = jnp.zeros(7), jnp.ones(7)
    for f in (P.sphere, P.ellipsoid, P.rastrigin):
        assert float(f(z)) == 0.0 and float(f(o)) > 0
    assert abs(float(P.ackley(z))) < 1e-5 and float(P.ackley(o)) > 1
    assert float(P.rosenbrock(o)) == 0.0 and float(P.rosenbrock(z)) == 6.0
    shift = jnp.arange(7.0)
    assert float(P.shifted(P.sphere, shift)(shift)) == 0.0
    rot = P.rotated(P.ellipsoid, jax.random.key(0), 7)
    assert float(rot(z)) == 0.0 and float(rot(o)) != pytest.approx(float(P.ellipsoid(o)))


def test_sanitized_fitness_stays_finite_and_ranks_nonfinite_worst():
    from evojax_rl.strategies.base import sanitize_fitness

    big = np.finfo(np.float32).max
    fit = jnp.array([-0.9 * big, jnp.nan, 3.0, -jnp.inf, jnp.inf], jnp.float32)
    out = np.asarray(sanitize_fitness(fit))
    assert np.isfinite(out).all()
    assert (out[[1, 3, 4]] < -0.9 * big).all() and (out[[0, 2]] == np.asarray(fit)[[0, 2]]).all()
    assert (np.asarray(sanitize_fitness(jnp.full(3, jnp.nan))) == -1).all()
    np.testing.assert_array_equal(sanitize_fitness(jnp.array([1.0, jnp.nan])), [1.0, -1.0])


def test_bad_key_and_integer_fitness_get_our_sentence():
    sphere = lambda x: -jnp.sum(x**2)  # noqa: E731
    with pytest.raises(ValueError, match=r"key must be a single PRNG key such as jax.random.key\(0\), got 0"):
        ejr.optimize(sphere, ejr.strategies.cma_es(), jnp.ones(3), key=0, max_generations=3)
    with pytest.raises(ValueError, match="fitness_fn must return one floating-point number per "
                                         r"member \(shape \(\)\), got int32\[\]"):
        ejr.optimize(lambda x: jnp.sum(x > 0).astype(jnp.int32), ejr.strategies.cma_es(),
                     jnp.ones(3), key=jax.random.key(0), max_generations=3)
    with pytest.raises(ValueError, match=r"got float32\[3\]"):
        ejr.optimize(lambda x: x, ejr.strategies.cma_es(), jnp.ones(3), key=jax.random.key(0),
                     max_generations=3)
    # A raw uint32[2] key (jax.random.PRNGKey) is a key too.
    res = ejr.optimize(sphere, ejr.strategies.cma_es(), jnp.ones(3), key=jax.random.PRNGKey(0),
                       max_generations=3)
    assert res.generations == 3
