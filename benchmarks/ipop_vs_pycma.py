"""IPOP-CMA-ES on single BBOB problems: our evaluations to the target against pycma's, paired runs.

    python benchmarks/ipop_vs_pycma.py [--problems 7:5] [--runs 30] [--first-instance 1] [--seed 0]
                                       [--starts coco]

``--problems``: FUNCTION:DIM pairs, each run ``--runs`` times by both (default f7, the step
ellipsoid, in 5-D: where 30 runs once put ours at 1.35x pycma). ``bbob.py`` covers all 24
functions at a few runs each; this is the test with enough runs to resolve a ratio on one.

The reference is pycma's IPOP as COCO's example experiment calls it:
``cma.fmin2(problem, problem.initial_solution_proposal, 2, {"maxfevals": budget,
"termination_callback": <final target hit>, ...}, restarts=9, incpopsize=2)``: sigma0 2, the first
run from the domain's centre, every restart from a new ``initial_solution_proposal()`` (a
coordinate-wise triangular draw in [-5, 5]^D), one budget for all runs. Ours is
``ipop_cma_es(sigma=2.0, restart_x0=triangular_in(-5, 5))`` from x0 = 0 with the same budget,
the COCO problem evaluated on the host through ``jax.pure_callback`` (float64), the problem
passed as ``optimize(..., args=index)`` so that every instance reuses one compiled loop per
population size.

Runs: ``--runs`` (instance, seed) pairs, two seeds per instance from ``--first-instance`` on
(30 runs: instances 1-15). Target: f <= f_opt + 1e-8 (COCO's final target; f_opt from
``problems.bbob``, equal to cocoex's). Budget: 2e4 * D evaluations. A run's cost is the number of evaluations up to
and including the first one that hits the target, counted in order, pycma's evaluation of each
run's final mean included (ours has none). ERT = all evaluations spent / successes (the mean of
the runs' costs when all succeed); ``ratio`` = our ERT / pycma's, ``ci95`` a paired bootstrap
(resampling the (instance, seed) pairs, 10,000 times; a resample in which neither solves has
no ratio and is left out; None when no run of either solved).

``--starts range:R`` runs ours the old way instead (every run from x0 + U(-R, R)); ``--starts
centre`` every run from x0.
Per run the output lists each restart's population size, evaluations and stop reason
(``stop_reasons`` counts them per restart). The last line is one JSON object: ``runs``,
``starts``, ``problems``, a list with one summary per problem (``ratio``, ``ci95``, the ERTs,
runs solved, stop reasons, per-run rows), and ``summary``: per dimension, runs solved by each
(with an interval for the difference), the geometric mean of the ratios over the problems both
solve and the problems whose interval lies wholly above 1, below 1, or above 1.1.

Measured (2 shared cores; pycma 4.5.0, coco-experiment 2.8.2), ERT ours / pycma [95% interval].
Every function, 30 runs each (``--problems 1-24:5,1-24:10 --runs 30``, 3830 s): no interval lies
above 1 in either dimension (one lies below: f6 10-D, 0.965 [0.936, 0.996]); the geometric mean
of the ratios is 0.972 (5-D, 22 functions both solve) and 1.01 (10-D, 20); runs solved 606 / 604
and 504 / 507 of 720.
f8 (Rosenbrock), 300 runs (``--problems 8:5,8:10 --runs 300``, 387 s): 5-D 2076 / 2046 = 1.02
[0.94, 1.10], 10-D 6065 / 6053 = 1.00 [0.94, 1.07]. 150 runs (``--problems 20:5,15:10 --runs
150``, 1205 s): f20 5-D 68136 / 62965 = 1.08 [0.94, 1.26], f15 10-D 78170 / 78399 = 1.00 [0.91,
1.09]. f7 in 5-D: before pycma's popsizes and starts (8, 16, 32, ... from x0 = 0 every run;
``--starts centre`` on that code), 30 runs 1145 / 1120 = 1.02 [0.85, 1.21], 1500 runs 0.99
[0.96, 1.03]; after, 30 runs (``--first-instance 16 --seed 1``) 1153 / 993 = 1.16 [0.97, 1.43],
1500 runs 1.02 [0.98, 1.05] and, on instances 751-1500 (``--seed 2``), 0.98 [0.95, 1.02]. A
30-run ratio scatters with a standard deviation of ~0.13: one in 50 disjoint 30-run blocks of
either 1500-run set reached 1.35. 30 runs of f7 take ~20 s (ours ~10 s with its compiles), 1500
runs ~5 min.
"""

import argparse
import collections
import time
import types
import warnings

import cma
import cocoex
import jax
import jax.numpy as jnp
import numpy as np

import common  # noqa: E402  (common puts the checkout on sys.path)
from common import emit  # noqa: E402
import evojax_rl as ejr
from evojax_rl import loop
from evojax_rl.problems import bbob

jax.config.update("jax_enable_x64", True)
cocoex.log_level("warning")

SIGMA0, MAX_RESTARTS = 2.0, 9


def budget(dim: int) -> int:
    return int(2e4 * dim)


def make_problem(fid: int, dim: int, instance: int):
    """A fresh COCO problem (its own evaluation counter and proposal sequence) and f_opt + 1e-8."""
    # "instances: i" is COCO's instance number i (not "instance_indices", an index into the
    # year's instance list that ignores values over 15).
    suite = cocoex.Suite("bbob", f"instances: {instance}",
                         f"function_indices:{fid} dimensions:{dim}")
    problem = suite.get_problem(0)
    assert problem.id == f"bbob_f{fid:03d}_i{instance:02d}_d{dim:02d}", problem.id
    # f_opt from problems.bbob, equal to cocoex's (tests/test_bbob.py)
    return problem, float(bbob.instance(fid, dim, instance).f_opt) + 1e-8


class Counter:
    """Evaluates a problem in order, counting evaluations up to the first target hit."""

    def __init__(self, problem, target):
        self.problem, self.target, self.evals, self.hit_at = problem, target, 0, None
        self.dim = problem.dimension

    def __call__(self, x):
        f = float(self.problem(np.asarray(x, np.float64)))
        self.evals += 1
        if self.hit_at is None and f <= self.target:
            self.hit_at = self.evals
        return f


# Run index -> Counter, read by the host callback. Behind an attribute: optimize keeps its
# compiled loop for "the same function", and a global dict that changed would make `fitness`
# another function at every run (see evojax_rl.same_function); an object counts by identity.
HOST = types.SimpleNamespace(counters={})


def _host_fitness(x, run):
    """[P, D], [P] -> [P]: our population evaluated in order on run ``run[0]``'s problem."""
    counter = HOST.counters[int(np.ravel(run)[0])]
    x = np.asarray(x).reshape(-1, counter.dim)
    return np.array([-counter(xi) for xi in x]).reshape(np.shape(run))


def fitness(x, run):  # maximized: -f; one function for all runs (run is a traced argument)
    return jax.pure_callback(_host_fitness, jax.ShapeDtypeStruct((), jnp.float64), x, run,
                             vmap_method="broadcast_all")


def ours(run, fid, dim, instance, seed, starts):
    problem, target = make_problem(fid, dim, instance)
    counter = HOST.counters[run] = Counter(problem, target)
    if starts == "coco":
        ipop = ejr.strategies.ipop_cma_es(sigma=SIGMA0, max_restarts=MAX_RESTARTS,
                                          restart_x0=ejr.strategies.triangular_in(-5.0, 5.0))
    elif starts == "centre":
        ipop = ejr.strategies.ipop_cma_es(sigma=SIGMA0, max_restarts=MAX_RESTARTS)
    else:
        ipop = ejr.strategies.ipop_cma_es(sigma=SIGMA0, max_restarts=MAX_RESTARTS,
                                          init_range=float(starts.split(":")[1]))
    runs = []  # each restart's result: optimize keeps only the last one's stop reason
    run_one = loop.run_one

    def logged(*a, **k):
        res = run_one(*a, **k)
        runs.append((res.popsizes[0], res.evaluations, res.stop_reason))
        return res

    loop.run_one = logged
    try:
        res = ejr.optimize(fitness, ipop, jnp.zeros(dim, jnp.float64), key=jax.random.key(seed),
                           max_generations=5000, target_fitness=-target, max_evaluations=budget(dim),
                           args=jnp.asarray(run, jnp.int32))
    finally:
        loop.run_one = run_one
    assert res.evaluations == counter.evals, (res.evaluations, counter.evals)
    return counter, runs


def pycma(fid, dim, instance, seed):
    problem, target = make_problem(fid, dim, instance)
    counter = Counter(problem, target)
    runs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, es = cma.fmin2(counter, problem.initial_solution_proposal, SIGMA0,
                          {"maxfevals": budget(dim), "verbose": -9, "seed": seed,
                           "termination_callback": lambda es: counter.hit_at is not None},
                          restarts=MAX_RESTARTS, incpopsize=2,
                          init_callback=lambda es: runs.append([es.popsize, es.countevals]))
    # A run's evaluations: the counter at its end; its stop reasons: fmin2's record.
    ends = [r[1] for r in runs[1:]] + [counter.evals]
    stops = es.all_stoppings[1:]  # [0] is a placeholder
    return counter, [(p, end - start, ",".join(sorted(s)))
                     for (p, start), end, s in zip(runs, ends, stops)]


def stop_counts(runs):
    """{restart: {stop reason: count}} over the runs' per-restart records."""
    counts = {}
    for records in runs:
        for k, (_, _, reason) in enumerate(records):
            counts.setdefault(k, collections.Counter())[reason] += 1
    return {k: dict(c) for k, c in counts.items()}


def ert(counters):
    """COCO's ERT of the runs' counters (``common.ert``)."""
    return common.ert([c.hit_at for c in counters], [c.evals for c in counters])


def percentile(x: np.ndarray, q: float) -> float:
    """``np.percentile``, except where it would interpolate between two infinite samples (nan):
    there, the nearest sample."""
    with np.errstate(invalid="ignore"):
        v = float(np.percentile(x, q))
    return v if not np.isnan(v) else float(np.percentile(x, q, method="nearest"))


def ert_ratio(mine, theirs):
    """Our ERT over pycma's: ``inf`` when only pycma solved, 0 when only ours did, None when
    neither did."""
    a, b = ert(mine), ert(theirs)
    return None if a == b == float("inf") else a / b


def compare(fid: int, dim: int, opts) -> dict:
    """``opts.runs`` paired runs of ours and pycma on BBOB ``fid`` in ``dim`` dimensions."""
    rows, mine, theirs = [], [], []
    wall = {"ours": 0.0, "pycma": 0.0}
    for run in range(opts.runs):
        instance, seed = opts.first_instance + run // 2, opts.seed * 1000 + run  # 2 per instance
        t = time.perf_counter()
        c_ours, r_ours = ours(run, fid, dim, instance, seed, opts.starts)
        wall["ours"] += time.perf_counter() - t
        t = time.perf_counter()
        c_pycma, r_pycma = pycma(fid, dim, instance, seed + 1)  # pycma's seed 0: "from the clock"
        wall["pycma"] += time.perf_counter() - t
        mine.append(c_ours)
        theirs.append(c_pycma)
        rows.append({"instance": instance, "ours": c_ours.hit_at, "pycma": c_pycma.hit_at,
                     "ours_runs": r_ours, "pycma_runs": r_pycma})
        print(f"f{fid} {dim}-D run {run} (instance {instance}): evaluations to target, then "
              f"(popsize, evaluations, stop reason) per restart\n  ours  {c_ours.hit_at} {r_ours}\n"
              f"  pycma {c_pycma.hit_at} {r_pycma}", flush=True)
    rng = np.random.default_rng(12345)
    boots = []
    for _ in range(10_000):
        pick = rng.integers(0, opts.runs, opts.runs)
        boots.append(ert_ratio([mine[i] for i in pick], [theirs[i] for i in pick]))
    boots = np.array([b for b in boots if b is not None])
    ours_ert, pycma_ert = ert(mine), ert(theirs)
    out = {
        "function": fid, "name": bbob.NAMES[fid], "dim": dim,
        "instances": [opts.first_instance, opts.first_instance + (opts.runs - 1) // 2],
        "budget": budget(dim),
        "ours_successes": sum(c.hit_at is not None for c in mine),
        "pycma_successes": sum(c.hit_at is not None for c in theirs),
        "ours_evals_mean": ours_ert, "pycma_evals_mean": pycma_ert,
        "ratio": ert_ratio(mine, theirs),
        "ci95": [percentile(boots, 2.5), percentile(boots, 97.5)] if boots.size else [None, None],
        "wall_s": {k: round(v, 1) for k, v in wall.items()},
        # How each restart (0: the first run) ended, counted over the runs.
        "stop_reasons": {who: stop_counts(row[f"{who}_runs"] for row in rows)
                         for who in ("ours", "pycma")},
        "rows": rows,
    }
    print(f"f{fid} {dim}-D: ERT ours {ours_ert:.1f}, pycma {pycma_ert:.1f}, ratio "
          f"{out['ratio']} {out['ci95']}", flush=True)
    return out


def summary(results: list[dict]) -> dict:
    """Per dimension: runs solved (ours, pycma) and a paired bootstrap 95% interval of their
    difference (ours - pycma; each problem's runs resampled); over the problems both solve at
    least once: which they are, the geometric mean of the ERT ratios, and the problems whose
    paired interval lies wholly above 1 (ours needs more evaluations), wholly below 1 (fewer),
    and above 1.1."""
    out = {}
    rng = np.random.default_rng(12345)
    for dim in sorted({p["dim"] for p in results}):
        here = [p for p in results if p["dim"] == dim]
        both = [p for p in here if p["ours_successes"] and p["pycma_successes"]]
        diff = np.zeros(10_000, np.int64)
        for p in here:
            hit = np.array([[r["ours"] is not None, r["pycma"] is not None] for r in p["rows"]])
            pick = rng.integers(0, len(hit), (diff.size, len(hit)))
            diff += (hit[pick, 0].astype(int) - hit[pick, 1]).sum(axis=1)
        out[str(dim)] = {
            "problems": len(here),
            "solved": [sum(p["ours_successes"] for p in here),
                       sum(p["pycma_successes"] for p in here)],
            "solved_diff_ci95": [int(np.percentile(diff, 2.5)), int(np.percentile(diff, 97.5))],
            "both_solve": [p["function"] for p in both],
            "geomean_ratio": (float(np.exp(np.mean([np.log(p["ratio"]) for p in both])))
                              if both else None),
            "above_1": [p["function"] for p in both if p["ci95"][0] > 1],
            "below_1": [p["function"] for p in both if p["ci95"][1] < 1],
            "above_1_1": [p["function"] for p in both if p["ci95"][0] > 1.1],
        }
    return out


def parse_problems(parser, text: str) -> list[tuple[int, int]]:
    """``"7:5,1-3:10"`` -> ``[(7, 5), (1, 10), (2, 10), (3, 10)]``: FUNCTION:DIM pairs, the
    function may be a range LO-HI."""
    out = []
    for item in text.split(","):
        try:
            fids, dim = item.split(":")
            lo, _, hi = fids.partition("-")
            fid_range, dim = range(int(lo), int(hi or lo) + 1), int(dim)
        except ValueError:
            parser.error(f"--problems takes FUNCTION:DIM pairs such as 7:5,8:10 or 1-24:5, "
                         f"got {item!r}.")
        for fid in fid_range:
            if fid not in bbob.FUNCTION_IDS or not 2 <= dim <= 40:
                parser.error(f"--problems: {item!r} is outside BBOB's functions 1-24 and "
                             f"dimensions 2 to 40.")
            out.append((fid, dim))
    if not out:
        parser.error(f"--problems: {text!r} names no problem.")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="7:5",
                        help="comma-separated FUNCTION:DIM pairs (7:5, the step ellipsoid in "
                             "5-D; 1-24:5, every function in 5-D)")
    parser.add_argument("--runs", type=int, default=30, help="paired runs per problem")
    parser.add_argument("--first-instance", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--starts", default="coco",
                        help="coco, centre, or range:R (the old init_range)")
    opts = parser.parse_args()
    problems = parse_problems(parser, opts.problems)
    if opts.runs < 1:
        parser.error(f"--runs must be at least 1, got {opts.runs}.")
    results = [compare(fid, dim, opts) for fid, dim in problems]
    emit({"runs": opts.runs, "starts": opts.starts, "problems": results,
          "summary": summary(results)})


if __name__ == "__main__":
    main()
