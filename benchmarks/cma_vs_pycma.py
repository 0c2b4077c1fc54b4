"""CMA-ES: ours against pycma and evosax's CMA_ES, to f <= 1e-8, in one run.

    python benchmarks/cma_vs_pycma.py [--seeds 10]

Each problem is minimized from the same x0 with sigma 0.5 by each implementation over the same
number of seeds. Reported: median evaluations of the successful runs, median wall seconds per run
(ours and evosax after compilation: their first run is a warm-up that is not timed), successes.
pycma runs one generation per Python call in NumPy (float64); evosax is driven one generation per
Python call with jitted ask/tell, as its documentation shows; ours runs the whole loop compiled.
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


def run_ours(f, x0, seeds):
    neg = lambda x: -f(x)  # noqa: E731
    strategy = ejr.strategies.cma_es(sigma=SIGMA)
    go = lambda s: ejr.optimize(neg, strategy, jnp.asarray(x0, jnp.float32),  # noqa: E731
                                key=jax.random.key(s), max_generations=20000,
                                target_fitness=-TARGET)
    go(10_000)  # compile
    evals, walls = [], []
    for s in range(seeds):
        t = time.perf_counter()
        res = go(s)
        walls.append(time.perf_counter() - t)
        evals.append(res.evaluations if res.best_fitness >= -TARGET else np.nan)
    return evals, walls


def run_pycma(f_np, x0, seeds):
    evals, walls = [], []
    for s in range(seeds):
        t = time.perf_counter()
        es = cma.CMAEvolutionStrategy(list(x0), SIGMA, {"verbose": -9, "seed": s + 1,
                                                        "ftarget": TARGET})
        while not es.stop():
            xs = es.ask()
            es.tell(xs, [f_np(x) for x in xs])
        walls.append(time.perf_counter() - t)
        evals.append(es.countevals if es.best.f <= TARGET else np.nan)
    return evals, walls


def run_evosax(f, x0, seeds):
    d = len(x0)
    popsize = 4 + int(np.floor(3 * np.log(d)))
    es = CMA_ES(population_size=popsize, solution=jnp.zeros(d))
    params = es.default_params.replace(std_init=SIGMA)
    evaluate = jax.jit(jax.vmap(f))

    def one(seed):
        key = jax.random.key(seed)
        key, k = jax.random.split(key)
        state = es.init(k, jnp.asarray(x0, jnp.float32), params)
        gens = 0
        best = np.inf
        while gens < 20000 and best > TARGET:
            key, k_ask, k_tell = jax.random.split(key, 3)
            pop, state = es.ask(k_ask, state, params)
            fit = evaluate(pop)
            state, _ = es.tell(k_tell, pop, fit, state, params)
            best = min(best, float(jnp.min(fit)))
            gens += 1
        return gens * popsize, best

    evals, walls = [], []
    warm = False
    for s in range(seeds):
        if not warm:
            key = jax.random.key(0)
            st = es.init(key, jnp.asarray(x0, jnp.float32), params)
            pop, st = es.ask(key, st, params)
            es.tell(key, pop, evaluate(pop), st, params)
            warm = True
        t = time.perf_counter()
        n, best = one(s)
        walls.append(time.perf_counter() - t)
        evals.append(n if best <= TARGET else np.nan)
    return evals, walls


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
        row = {"ours": summary(*run_ours(f, x0, args.seeds)),
               "pycma": summary(*run_pycma(f_np, x0, args.seeds))}
        if not args.skip_evosax:
            row["evosax"] = summary(*run_evosax(f, x0, args.seeds))
        ours, ref = row["ours"], row["pycma"]
        row["evals_ours_over_pycma"] = ours["median_evals"] / ref["median_evals"]
        row["wall_ours_over_pycma"] = ours["median_wall_s"] / ref["median_wall_s"]
        evals_ratios.append(row["evals_ours_over_pycma"])
        wall_ratios.append(row["wall_ours_over_pycma"])
        out["problems"][name] = row
        print(name, {k: v for k, v in row.items()}, flush=True)
    out["evals_ours_over_pycma"] = max(evals_ratios)
    out["wall_ours_over_pycma"] = max(wall_ratios)
    emit(out)


if __name__ == "__main__":
    main()
