"""CMA-ES checked against pycma (the reference implementation), not only for shapes."""

import cma
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_rl as ejr
from evojax_rl.strategies.cma_es import constants
from compile_count import count_compilations


def pycma(dim, **opts):
    return cma.CMAEvolutionStrategy(dim * [0.0], 0.5, {"verbose": -9, **opts})


@pytest.mark.parametrize("dim", [2, 10, 100])
def test_default_constants_equal_pycma(dim):
    es = pycma(dim)
    ours = constants(dim)
    assert ours.popsize == es.sp.popsize and ours.mu == es.sp.weights.mu
    np.testing.assert_allclose(ours.weights, np.asarray(es.sp.weights), rtol=0, atol=1e-12)
    for name, theirs in [
        ("mueff", es.sp.weights.mueff),
        ("cc", es.sp.cc),
        ("c1", es.sp.c1),
        ("cmu", es.sp.cmu),
        ("cs", es.adapt_sigma.cs),
        ("damps", es.adapt_sigma.damps),
    ]:
        assert abs(getattr(ours, name) - theirs) <= 1e-12, (name, getattr(ours, name), theirs)
    assert ours.tolstagnation == es.opts["tolstagnation"]
    assert ours.maxiter == int(es.opts["maxiter"])
    sep = constants(dim, separable=True)
    for name, theirs in [("cc", es.sp.cc_sep), ("c1", es.sp.c1_sep), ("cmu", es.sp.cmu_sep)]:
        assert abs(getattr(sep, name) - theirs) <= 1e-12, (name, getattr(sep, name), theirs)


@pytest.mark.parametrize("popsize", [6, 24, 160])
def test_constants_equal_pycma_for_larger_populations(popsize):
    es = pycma(10, popsize=popsize)
    ours = constants(10, popsize)
    np.testing.assert_allclose(ours.weights, np.asarray(es.sp.weights), rtol=0, atol=1e-12)
    assert abs(ours.damps - es.adapt_sigma.damps) <= 1e-12
    assert abs(ours.cmu - es.sp.cmu) <= 1e-12


def test_first_generation_matches_pycma_update_given_the_same_samples():
    """Feed pycma our samples: after one tell, mean, sigma, paths and C agree."""
    dim = 5
    strategy = ejr.strategies.cma_es(sigma=0.5)
    x0 = np.linspace(-1.0, 1.0, dim)
    es = cma.CMAEvolutionStrategy(x0, 0.5, {"verbose": -9, "seed": 1})
    state = strategy.init(jax.random.key(0), jnp.asarray(x0, jnp.float32))
    for gen in range(3):
        pop, state = strategy.ask(jax.random.key(gen), state)
        pop = np.asarray(pop, np.float64)
        fit = np.array([ejr.problems.rosenbrock(jnp.asarray(x)) for x in pop], np.float64)
        es.ask()  # advance pycma's own bookkeeping; we tell it our samples instead
        es.tell(list(pop), list(fit))
        state = strategy.tell(jnp.asarray(pop, jnp.float32), -jnp.asarray(fit), state)
        np.testing.assert_allclose(state.mean, es.mean, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(float(state.sigma), es.sigma, rtol=1e-4)
        np.testing.assert_allclose(state.path_sigma, es.adapt_sigma.ps, rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(state.path_c, es.pc, rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(state.cov, es.sm.C, rtol=1e-3, atol=1e-5)


def _ours(fn, x0, seeds):
    evals = []
    neg = lambda x: -fn(x)  # noqa: E731  (one function object: compiled once)
    for seed in range(seeds):
        res = ejr.optimize(neg, ejr.strategies.cma_es(sigma=0.5), jnp.asarray(x0),
                           key=jax.random.key(seed), max_generations=4000, target_fitness=-1e-8)
        evals.append(res.evaluations if res.stop_reason == "target_fitness" else np.nan)
    return np.array(evals, float)


def _theirs(f, x0, seeds):
    evals = []
    for seed in range(seeds):
        es = cma.CMAEvolutionStrategy(list(x0), 0.5, {"verbose": -9, "seed": seed + 1,
                                                      "ftarget": 1e-8})
        while not es.stop():
            xs = es.ask()
            es.tell(xs, [f(np.asarray(x)) for x in xs])
        evals.append(es.countevals if es.best.f <= 1e-8 else np.nan)
    return np.array(evals, float)


# (ours in JAX, the same function in NumPy float64 for pycma, x0)
PROBLEMS = {
    "sphere": (ejr.problems.sphere, lambda x: float(np.sum(np.square(x))), np.ones(10)),
    "ellipsoid": (
        ejr.problems.ellipsoid,
        lambda x: float(np.sum(1e6 ** (np.arange(10) / 9) * np.square(x))),
        np.ones(10),
    ),
    "rosenbrock": (
        ejr.problems.rosenbrock,
        lambda x: float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)),
        np.zeros(10),
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_median_evaluations_within_20_percent_of_pycma(problem):
    fn, fn_np, x0 = PROBLEMS[problem]
    with jax.enable_x64(True):  # pycma computes in float64; so do we here
        ours = _ours(fn, np.asarray(x0, np.float64), 10)
    theirs = _theirs(fn_np, x0, 10)
    # Rosenbrock has a local optimum that both may hit; at least 7 of 10 must succeed.
    assert np.sum(np.isfinite(ours)) >= 7 and np.sum(np.isfinite(theirs)) >= 7
    ratio = np.nanmedian(ours) / np.nanmedian(theirs)
    assert 0.8 <= ratio <= 1.2, (problem, np.nanmedian(ours), np.nanmedian(theirs))


@pytest.mark.slow
def test_ipop_solves_rastrigin_10d():
    res = ejr.optimize(lambda x: -ejr.problems.rastrigin(x),
                       ejr.strategies.ipop_cma_es(sigma=2.0, init_range=4.0), jnp.zeros(10),
                       key=jax.random.key(0), max_generations=5000, target_fitness=-1e-8)
    assert res.stop_reason == "target_fitness" and res.best_fitness >= -1e-8
    # pycma's sizes in 10-D: int(10.91 * 2**k), not 10 * 2**k.
    assert res.restarts >= 1 and res.popsizes[:2] == (10, 21)


def test_ipop_compiles_each_population_size_once():
    fn = lambda x: -ejr.problems.sphere(x)  # noqa: E731
    ipop = ejr.strategies.ipop_cma_es(sigma=0.5, max_restarts=2)
    kwargs = dict(key=jax.random.key(0), max_generations=3)
    # Tiny generation cap: each run stops on max_generations and is restarted.
    with count_compilations() as first_time:
        first = ejr.optimize(fn, ipop, jnp.ones(5), **kwargs)
    assert first.popsizes == (8, 17, 35)  # int(8.83 * 2**k), as pycma's
    assert first_time[0] >= 3  # the counter sees compilations: one loop per population size
    with count_compilations() as second_time:
        again = ejr.optimize(fn, ejr.strategies.ipop_cma_es(sigma=0.5, max_restarts=2),
                             jnp.ones(5), **kwargs)
    assert second_time[0] == 0 and again.popsizes == first.popsizes
    np.testing.assert_array_equal(first.history_evaluations, [8, 16, 24, 41, 58, 75, 110, 145, 180])


def _pycma_ipop_runs(dim, popsize=None, incpopsize=2, restarts=4):
    """(popsize, maxiter, tolstagnation, sigma0) of each run of pycma's IPOP (``fmin2`` with
    ``restarts``), on a constant function: every run ends after one generation (tolfun)."""
    runs = []
    opts = {"verbose": -9, "seed": 3} if popsize is None else {"verbose": -9, "popsize": popsize}
    cma.fmin2(lambda x: 1.0, dim * [0.0], 1.0, opts, restarts=restarts, incpopsize=incpopsize,
              init_callback=lambda es: runs.append(
                  (es.sp.popsize, int(es.opts["maxiter"]), int(es.opts["tolstagnation"]),
                   es.sigma0)))
    return runs


@pytest.mark.parametrize("dim, popsize, factor", [
    (2, None, 2), (3, None, 2), (5, None, 2), (10, None, 2), (20, None, 2), (40, None, 2),
    (5, 10, 2), (5, 7, 1.5),
])
def test_ipop_popsizes_and_kept_settings_equal_pycma(dim, popsize, factor):
    """Run k has int(P0 * factor**k) members (P0 the unrounded default 4 + 3 ln D, or the given
    popsize), and every run keeps the first run's maxiter and tolstagnation, as in pycma."""
    theirs = _pycma_ipop_runs(dim, popsize, factor)
    ipop = ejr.strategies.ipop_cma_es(popsize=popsize, popsize_factor=factor, max_restarts=4)
    assert ipop.popsizes(dim) == tuple(p for p, *_ in theirs)
    for p, maxiter, tolstagnation, sigma0 in theirs:
        assert sigma0 == 1.0  # the same sigma0 every run
        # Equal settings give the same (memoized) functions: one compiled loop.
        expected = ejr.strategies.cma_es(popsize=p, maxiter=maxiter, tolstagnation=tolstagnation)
        assert ipop.make(p, dim).stop is expected.stop, (p, maxiter, tolstagnation)


def test_ipop_restarts_start_where_documented(monkeypatch):
    """restart_x0: the first run at x0, each restart at its own draw; init_range: every run
    around x0; neither: every run at x0."""
    from evojax_rl import loop

    starts = []
    run_one = loop.run_one

    def spy(fitness_fn, strategy, state, *args):
        starts.append(np.asarray(state.mean))
        return run_one(fitness_fn, strategy, state, *args)

    monkeypatch.setattr(loop, "run_one", spy)
    x0 = jnp.full((3,), 0.5)
    fn = lambda x: -ejr.problems.sphere(x)  # noqa: E731
    kwargs = dict(key=jax.random.key(0), max_generations=2)

    def run(**settings):
        starts.clear()
        ejr.optimize(fn, ejr.strategies.ipop_cma_es(max_restarts=2, **settings), x0, **kwargs)
        return np.array(starts)

    coco = run(restart_x0=ejr.strategies.triangular_in(-5.0, 5.0))
    np.testing.assert_array_equal(coco[0], x0)
    assert np.all(np.abs(coco[1:]) <= 5) and len({tuple(s) for s in coco}) == 3
    box = run(restart_x0=ejr.strategies.uniform_in(jnp.array([0.0, 1.0, 2.0]), 3.0))
    np.testing.assert_array_equal(box[0], x0)
    assert np.all((box[1:] >= [0, 1, 2]) & (box[1:] <= 3))
    around = run(init_range=0.1)
    assert np.all(np.abs(around - 0.5) <= 0.1) and not np.any(around[0] == 0.5)
    np.testing.assert_array_equal(run(), np.tile(x0, (3, 1)))


def test_triangular_in_draws_as_cocos_restart_proposals():
    """COCO's example experiment hands pycma ``problem.initial_solution_proposal``: the
    domain's centre at the first call, then draws whose distribution ``triangular_in`` has
    (and ``uniform_in`` has not): two-sample Kolmogorov-Smirnov distance on 10,000 values."""
    cocoex = pytest.importorskip("cocoex", reason="cocoex (the peers extra) is COCO's own code")
    cocoex.log_level("warning")
    problem = cocoex.Suite("bbob", "instances: 1", "function_indices:7 dimensions:5").get_problem(0)
    np.testing.assert_array_equal(problem.initial_solution_proposal(), np.zeros(5))
    theirs = np.sort(np.ravel([problem.initial_solution_proposal() for _ in range(2000)]))

    def ks(draw):
        ours = np.sort(np.asarray(draw(jax.random.key(1), jnp.zeros(theirs.size)), np.float64))
        grid = np.concatenate([ours, theirs])
        cdf = lambda v: np.searchsorted(v, grid, side="right") / v.size  # noqa: E731
        return np.max(np.abs(cdf(ours) - cdf(theirs)))

    assert ks(ejr.strategies.triangular_in(-5.0, 5.0)) < 0.04  # 1e-6 false-alarm level ~0.038
    assert ks(ejr.strategies.uniform_in(-5.0, 5.0)) > 0.1  # uniform vs triangular: 0.125


def test_stop_criteria_end_a_converged_run():
    # No target: the run must end by pycma's own criteria long before the cap.
    res = ejr.optimize(lambda x: -ejr.problems.sphere(x), ejr.strategies.cma_es(sigma=0.5),
                       jnp.ones(4), key=jax.random.key(0), max_generations=20000)
    assert res.stop_reason in ("tolfun", "tolfunhist", "tolx", "noeffectcoord", "noeffectaxis")
    assert res.generations < 2000


@pytest.mark.parametrize("case, generation, reason", [
    ("flat", 1, "tolfun"),  # the whole population on one value
    ("stuck", 10, "tolfunhist"),  # the same best every generation, the rest spread
    ("stuck_after_one_better", 29, "tolfunhist"),  # until the better one leaves the history
])
def test_plateau_ends_a_run_when_pycma_does(case, generation, reason):
    """On a plateau (a step function's) the best value repeats. pycma reads its best-fitness
    history from the first generation on (tolfun) or once it holds 10 values (tolfunhist), and
    keeps int(10 + 30 D / P) of them (28 in 5-D with P = 8): our runs end at the same generation
    for the same reason (they used to wait for a full history of 29: generations 29, 29, 30)."""
    dim, popsize = 5, 8

    def values(g):  # pycma's (minimized) values of generation g = 1, 2, ...
        if case == "flat":
            return np.zeros(popsize)
        return np.arange(popsize) - (case == "stuck_after_one_better" and g == 1)

    es = cma.CMAEvolutionStrategy(dim * [0.0], 1.0, {"verbose": -9, "seed": 1})
    while not es.stop():
        es.tell(es.ask(), list(values(es.countiter + 1)))
    assert (es.countiter, sorted(es.stop())) == (generation, [reason])

    strategy = ejr.strategies.cma_es(sigma=1.0)
    state = strategy.init(jax.random.key(0), jnp.zeros(dim))
    ask, tell, stop = jax.jit(strategy.ask), jax.jit(strategy.tell), jax.jit(strategy.stop)
    for g in range(1, 40):
        pop, state = ask(jax.random.key(g), state)
        state = tell(pop, -jnp.asarray(values(g), jnp.float32), state)
        if int(stop(state)):
            break
    assert (g, ejr.strategies.base.STOP_REASONS[int(stop(state))]) == (generation, reason)


def test_lazy_eigendecomposition_follows_pycma_schedule():
    # At D = 100 the gap is 1.14 generations: C is decomposed at every second ask. pycma's
    # sampler records the generation of its last decomposition in ``last_update``.
    d = 100
    es = pycma(d, seed=3)
    strategy = ejr.strategies.cma_es(sigma=0.5)
    state = strategy.init(jax.random.key(0), jnp.zeros(d))
    ask, tell = jax.jit(strategy.ask), jax.jit(strategy.tell)
    theirs, ours, vecs = [], [], []
    for g in range(7):
        xs = es.ask()
        es.tell(xs, [float(np.sum(np.square(x - 1))) for x in xs])
        theirs.append(es.sm.last_update)
        pop, state = ask(jax.random.key(g), state)
        state = tell(pop, -jnp.sum(jnp.square(pop - 1), axis=1), state)
        ours.append(int(state.last_eigen))
        vecs.append(np.asarray(state.eigvecs))
    assert ours == theirs == [0, 0, 2, 2, 4, 4, 6]
    # Between decompositions ask keeps B; at a due one it changes.
    np.testing.assert_array_equal(vecs[2], vecs[3])
    assert not np.array_equal(vecs[3], vecs[4])


def test_sep_cma_es_scales_to_high_dimension():
    res = ejr.optimize(lambda x: -ejr.problems.ellipsoid(x, 1e2), ejr.strategies.sep_cma_es(
        sigma=0.5), jnp.ones(200), key=jax.random.key(0), max_generations=3000,
        target_fitness=-1e-6)
    assert res.stop_reason == "target_fitness"
    assert res.state.cov.shape == (200,)


def test_bad_popsize_is_refused():
    with pytest.raises(ValueError, match="popsize must be an int >= 2, got 1"):
        ejr.strategies.cma_es(popsize=1)
    with pytest.raises(ValueError, match="ipop: popsize_factor must be a finite number > 1, got 1"):
        ejr.strategies.ipop_cma_es(popsize_factor=1)
