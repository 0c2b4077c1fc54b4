"""CMA-ES: ours against pycma and evosax's CMA_ES, to f <= 1e-8, in one run.

    python benchmarks/cma_vs_pycma.py [--seeds 10] [--quick]

Each problem is minimized from the same x0 with sigma 0.5 by each implementation over the same
seeds, run interleaved (seed 0 by each implementation, then seed 1, ...). pycma runs one
generation per Python call in NumPy; evosax is driven one generation per Python call with jitted
ask/tell, as its documentation shows; ours runs the whole loop compiled. All three compute in
float64 (``jax_enable_x64``): near a non-zero optimum, 1e-8 is at the edge of float32 (the
narrowest axes of C stop having any effect on the mean, which pycma's ``noeffectaxis`` then
reports).

Per problem and implementation:

- ``successes``: seeds that reached the target (``failures`` = seeds - successes;
  ``failed_f``: the best f of each failed run).
- ``median_evals`` and ``median_wall_s``: medians over the *common* seeds, those on which every
  implementation succeeded, so that all medians describe the same runs (``common_seeds``).
  Wall is after compilation (the cold run below comes first).
- ``cold_s``: one run (seed 10000), the first after JAX's caches were cleared for this problem,
  so compilation is included (process start-up and imports are not). It is also the untimed
  run before the timed seeds. pycma compiles nothing: its cold run is a plain run.
- ``us_per_generation``: total wall over total generations on the common seeds.
- ``eigh_us``: one ``jnp.linalg.eigh`` of a D x D float64 matrix inside a compiled loop, the
  eigendecomposition our CMA-ES does in ``ask`` (pycma's lazy-update rule makes it due every
  generation up to D = 87).

The last line is one JSON object with ``evals_ours_over_pycma``, ``wall_ours_over_pycma`` and
``cold_ours_over_pycma`` (ours' cold run over pycma's median wall), each the worst (largest)
ratio over the four problems, and the per-problem rows under ``problems``.
"""

import argparse

import os

# Cold means compiled inside the clock: no persistent compilation cache (importing evojax_rl
# would turn one on for every JAX program in the process, the peers' included).
os.environ["EVOJAX_RL_DISABLE_CACHE"] = "1"
import time

import cma
import jax
import jax.numpy as jnp
import numpy as np
from evosax.algorithms import CMA_ES

import evojax_rl as ejr
from common import emit

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


COLD_SEED = 10_000


def ours(f, x0):
    """Our CMA-ES: ``one(seed) -> (evaluations or nan, wall seconds, generations, best f)``."""
    neg = lambda x: -f(x)  # noqa: E731
    strategy = ejr.strategies.cma_es(sigma=SIGMA)
    go = lambda s: ejr.optimize(neg, strategy, jnp.asarray(x0, jnp.float64),  # noqa: E731
                                key=jax.random.key(s), max_generations=20000,
                                target_fitness=-TARGET)

    def one(seed):
        t = time.perf_counter()
        res = go(seed)
        wall = time.perf_counter() - t
        ok = res.best_fitness >= -TARGET
        return (res.evaluations if ok else np.nan), wall, int(res.generations), -res.best_fitness

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
        return (es.countevals if es.best.f <= TARGET else np.nan), wall, es.countiter, es.best.f

    return one


def evosax(f, x0):
    """evosax's CMA_ES driven one generation per Python call (its ask/tell are jitted)."""
    d = len(x0)
    popsize = 4 + int(np.floor(3 * np.log(d)))
    es = CMA_ES(population_size=popsize, solution=jnp.zeros(d, jnp.float64))
    params = es.default_params.replace(std_init=SIGMA)
    evaluate = jax.jit(jax.vmap(f))

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
        return (gens * popsize if best <= TARGET else np.nan), wall, gens, best

    return one


def cold_runs(runners):
    """Each implementation's first run after JAX's caches are cleared (compilation included);
    it also leaves everything compiled for the timed runs that follow."""
    jax.clear_caches()
    return {name: one(COLD_SEED)[1] for name, one in runners.items()}


def interleaved(runners, seeds):
    """Run seed by seed, each implementation in turn, so that all of them meet the same
    machine conditions (on a small VM the speed of a core drifts by tens of percent over
    seconds, which would otherwise move the ratios).

    Returns ``{name: [(evals, wall, gens, f)]}``."""
    out = {name: [] for name in runners}
    for seed in range(seeds):
        for name, one in runners.items():
            out[name].append(one(seed))
    return out


def summary(runs, common, cold_s):
    """One implementation's row; medians over the seeds in ``common`` (all succeeded there)."""
    evals = np.array([r[0] for r in runs], float)
    walls = np.array([r[1] for r in runs])
    gens = np.array([r[2] for r in runs])
    c = np.asarray(common, int)
    return {
        "successes": int(np.isfinite(evals).sum()),
        "failures": int((~np.isfinite(evals)).sum()),
        "median_evals": float(np.median(evals[c])) if len(c) else None,
        "median_wall_s": float(np.median(walls[c])) if len(c) else None,
        "us_per_generation": float(walls[c].sum() / gens[c].sum() * 1e6) if len(c) else None,
        "cold_s": cold_s,
        "failed_f": [float(r[3]) for r in runs if not np.isfinite(r[0])],
    }


def eigh_us(d, calls=2000):
    """Microseconds per ``jnp.linalg.eigh`` of a D x D float64 SPD matrix in a compiled loop."""
    a = np.random.default_rng(0).standard_normal((d, d))
    c0 = jnp.asarray(a @ a.T / d + np.eye(d))

    @jax.jit
    def loop(c):
        def body(_, c):
            w, b = jnp.linalg.eigh(c)
            return c + 1e-12 * w[0] * b[0, 0]  # depends on the result: no hoisting
        return jax.lax.fori_loop(0, calls, body, c)

    loop(c0).block_until_ready()
    t = time.perf_counter()
    loop(c0).block_until_ready()
    return (time.perf_counter() - t) / calls * 1e6


def ratio(a, b):
    return a / b if a is not None and b else None


def worst(values):
    values = [v for v in values if v is not None]
    return max(values) if values else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--skip-evosax", action="store_true")
    parser.add_argument("--quick", action="store_true", help="2 seeds")
    args = parser.parse_args()
    if args.quick:
        args.seeds = 2
    jnp.zeros(1).block_until_ready()  # backend start-up is not part of any cold time
    out = {"seeds": args.seeds, "target": TARGET, "sigma": SIGMA, "problems": {}}
    for name, (f, f_np, x0) in PROBLEMS.items():
        runners = {"ours": ours(f, x0), "pycma": pycma(f_np, x0)}
        if not args.skip_evosax:
            runners["evosax"] = evosax(f, x0)
        cold = cold_runs(runners)
        runs = interleaved(runners, args.seeds)
        common = [s for s in range(args.seeds) if all(np.isfinite(r[s][0]) for r in runs.values())]
        row = {k: summary(v, common, cold[k]) for k, v in runs.items()}
        mine, ref = row["ours"], row["pycma"]
        row["common_seeds"] = len(common)
        row["dimension"] = len(x0)
        row["eigh_us"] = eigh_us(len(x0))
        row["evals_ours_over_pycma"] = ratio(mine["median_evals"], ref["median_evals"])
        row["wall_ours_over_pycma"] = ratio(mine["median_wall_s"], ref["median_wall_s"])
        row["cold_ours_over_pycma"] = ratio(mine["cold_s"], ref["median_wall_s"])
        out["problems"][name] = row
        for who in runners:
            r = row[who]
            print(f"{name:14s} {who:7s} {r['successes']}/{args.seeds} ok, median evals "
                  f"{r['median_evals']}, wall {r['median_wall_s']}, cold {r['cold_s']:.2f} s",
                  flush=True)
        print(f"{name:14s} ours/pycma evals {row['evals_ours_over_pycma']}, wall "
              f"{row['wall_ours_over_pycma']}, cold {row['cold_ours_over_pycma']:.2f} "
              f"({len(common)} common seeds)", flush=True)
    rows = out["problems"].values()
    for key in ("evals_ours_over_pycma", "wall_ours_over_pycma", "cold_ours_over_pycma"):
        out[key] = worst(r[key] for r in rows)
    emit(out)


if __name__ == "__main__":
    main()
