"""CMA-ES: ours against pycma and evosax's CMA_ES, to f <= 1e-8, in one run.

    python benchmarks/cma_vs_pycma.py [--seeds 10]

Each problem is minimized from the same x0 with sigma 0.5 by each implementation over the same
seeds, run interleaved (seed 0 by each implementation, then seed 1, ...). Reported: median
evaluations of the successful runs, median wall seconds per run (ours and evosax after
compilation: their first run is a warm-up that is not timed), successes.
pycma runs one generation per Python call in NumPy; evosax is driven one generation per Python
call with jitted ask/tell, as its documentation shows; ours runs the whole loop compiled. All three
compute in float64 (``jax_enable_x64``): near a non-zero optimum, 1e-8 is at the edge of float32
(the narrowest axes of C stop having any effect on the mean, which pycma's ``noeffectaxis`` then
reports).
The last line is one JSON object with ``evals_ours_over_pycma`` and ``wall_ours_over_pycma``,
each the worst (largest) ratio over the four problems.
"""

import argparse
import time

import cma
import jax
import jax.numpy as jnp
import numpy as np
from evosax.algorithms import CMA_ES

import evojax_rl as ejr
from common import emit, machine

jax.config.update("jax_enable_x64", True)

TARGET = 1e-8
SIGMA = 0.5


def ellipsoid_np(x):
    d = len(x)
    return float(np.sum(1e6 ** (np.arange(d) / (d - 1)) * np.square(x)))


def rosenbrock_np(x):
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


PROBLEMS = {
    "ellipsoid-10": (ejr.problems.ellipsoid, ellipsoid_np, np.ones(10)),
    "ellipsoid-20": (ejr.problems.ellipsoid, ellipsoid_np, np.ones(20)),
    "rosenbrock-10": (ejr.problems.rosenbrock, rosenbrock_np, np.zeros(10)),
    "rosenbrock-20": (ejr.problems.rosenbrock, rosenbrock_np, np.zeros(20)),
}


def ours(f, x0):
    """One seed's run of our CMA-ES -> (evaluations or nan, wall seconds); compiled here."""
    neg = lambda x: -f(x)  # noqa: E731
    strategy = ejr.strategies.cma_es(sigma=SIGMA)
    go = lambda s: ejr.optimize(neg, strategy, jnp.asarray(x0, jnp.float64),  # noqa: E731
                                key=jax.random.key(s), max_generations=20000,
                                target_fitness=-TARGET)
    go(10_000)  # compile

    def one(seed):
        t = time.perf_counter()
        res = go(seed)
        wall = time.perf_counter() - t
        return (res.evaluations if res.best_fitness >= -TARGET else np.nan), wall

    return one


def pycma(f_np, x0):
    def one(seed):
        t = time.perf_counter()
        es = cma.CMAEvolutionStrategy(list(x0), SIGMA, {"verbose": -9, "seed": seed + 1,
                                                        "ftarget": TARGET})
        while not es.stop():
            xs = es.ask()
            es.tell(xs, [f_np(x) for x in xs])
        wall = time.perf_counter() - t
        return (es.countevals if es.best.f <= TARGET else np.nan), wall

    return one


def evosax(f, x0):
    """evosax's CMA_ES driven one generation per Python call; jitted ask/tell warmed up here."""
    d = len(x0)
    popsize = 4 + int(np.floor(3 * np.log(d)))
    es = CMA_ES(population_size=popsize, solution=jnp.zeros(d, jnp.float64))
    params = es.default_params.replace(std_init=SIGMA)
    evaluate = jax.jit(jax.vmap(f))
    key = jax.random.key(0)
    st = es.init(key, jnp.asarray(x0, jnp.float64), params)
    pop, st = es.ask(key, st, params)
    es.tell(key, pop, evaluate(pop), st, params)

    def one(seed):
        t = time.perf_counter()
        key = jax.random.key(seed)
        key, k = jax.random.split(key)
        state = es.init(k, jnp.asarray(x0, jnp.float64), params)
        gens, best = 0, np.inf
        while gens < 20000 and best > TARGET:
            key, k_ask, k_tell = jax.random.split(key, 3)
            pop, state = es.ask(k_ask, state, params)
            fit = evaluate(pop)
            state, _ = es.tell(k_tell, pop, fit, state, params)
            best = min(best, float(jnp.min(fit)))
            gens += 1
        wall = time.perf_counter() - t
        return (gens * popsize if best <= TARGET else np.nan), wall

    return one


def interleaved(runners, seeds):
    """Run seed by seed, each implementation in turn, so that all of them meet the same
    machine conditions (on a small VM the speed of a core drifts by tens of percent over
    seconds, which would otherwise move the ratios). Returns ``{name: (evals, walls)}``."""
    out = {name: ([], []) for name in runners}
    for seed in range(seeds):
        for name, one in runners.items():
            evals, wall = one(seed)
            out[name][0].append(evals)
            out[name][1].append(wall)
    return out


def summary(evals, walls):
    e = np.asarray(evals, float)
    return {
        "median_evals": float(np.nanmedian(e)) if np.isfinite(e).any() else None,
        "median_wall_s": float(np.median(walls)),
        "successes": int(np.isfinite(e).sum()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--skip-evosax", action="store_true")
    args = parser.parse_args()
    out = {"machine": machine(), "seeds": args.seeds, "problems": {}}
    evals_ratios, wall_ratios = [], []
    for name, (f, f_np, x0) in PROBLEMS.items():
        runners = {"ours": ours(f, x0), "pycma": pycma(f_np, x0)}
        if not args.skip_evosax:
            runners["evosax"] = evosax(f, x0)
        row = {k: summary(*v) for k, v in interleaved(runners, args.seeds).items()}
        mine, ref = row["ours"], row["pycma"]
        row["evals_ours_over_pycma"] = mine["median_evals"] / ref["median_evals"]
        row["wall_ours_over_pycma"] = mine["median_wall_s"] / ref["median_wall_s"]
        evals_ratios.append(row["evals_ours_over_pycma"])
        wall_ratios.append(row["wall_ours_over_pycma"])
        out["problems"][name] = row
        print(name, {k: v for k, v in row.items()}, flush=True)
    out["evals_ours_over_pycma"] = max(evals_ratios)
    out["wall_ours_over_pycma"] = max(wall_ratios)
    emit(out)


if __name__ == "__main__":
    main()
