"""BBOB (COCO's 24 noiseless functions): our strategies against pycma's IPOP-CMA-ES, in one run.

    python benchmarks/bbob.py                               # the recorded run (below)
    python benchmarks/bbob.py --strategies ipop-cma-es --functions 1-5 --dims 2 --seeds 1
    python benchmarks/bbob.py --quick                       # a few functions, small budget

Every run minimizes one BBOB problem (function, instance, dimension D) from COCO's own start:
the domain centre for the first run, then ``cocoex``'s ``initial_solution_proposal`` for each
restart (a point drawn in [-5, 5]^D), with sigma0 = 2, until f - f_opt <= 1e-8 or ``budget * D``
evaluations. Ours run through ``ejr.optimize`` on ``problems.bbob`` (float64, the problem's data
passed as ``args``, so one compiled loop per population size serves every problem); pycma's IPOP
(``cma.fmin2(..., restarts=9, incpopsize=2)``, its population evaluated as one batch per
generation) on ``cocoex``'s problems. Both count evaluations per generation: a target hit
in a generation counts that whole generation, as a batched evaluation would.

Reported per strategy and dimension:

- runs solved (f - f_opt <= 1e-8 within the budget), ours and pycma's, over the same problems;
- per function, ERT (expected running time: evaluations of all runs, each to its hit or to its
  end, over the number of runs that hit) and ours over pycma's, where both solve;
- ``--null``: pycma against pycma with other seeds, the same table: how far ERT ratios of
  identical algorithms stray at this number of runs (what a 1.1 threshold can resolve);
- the runtime ECDF (COCO's 51 targets 10^2 .. 10^-8 per run) as a PNG;
- COCO's data format (``.info``, ``.dat``, ``.tdat``) per algorithm under ``--out``, for
  ``python -m cocopp DIR...``.

``--sweep`` also runs the batched case: plain CMA-ES (no restarts, 1000 * D evaluations) on every
function x instance x seed of a dimension, as one ``ejr.optimize_batch`` program, against the
same runs one by one through ``ejr.optimize`` (compiled once, ``args`` per run).

The last line is JSON: per strategy and dimension, runs solved (ours, pycma), the worst ERT
ratio over functions both solve and the functions above 1.1; the sweep's walls.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time

import cma
import cocoex
import jax
import jax.numpy as jnp
import numpy as np

import common  # (also puts the checkout on sys.path)
import evojax_rl as ejr
from common import emit
from evojax_rl.problems import bbob

jax.config.update("jax_enable_x64", True)

PRECISION = 1e-8
SIGMA0 = 2.0
TARGETS = 10.0 ** np.arange(2, -8.01, -0.2)  # COCO's runtime ECDF targets (51)
HERE = os.path.dirname(os.path.abspath(__file__))

# COCO's starts: the domain centre for the first run (x0 = 0), then a triangular draw in the box
# per restart (what cocoex's initial_solution_proposal gives pycma).
RESTART_X0 = ejr.strategies.triangular_in(-5.0, 5.0)
STRATEGIES = {  # name -> strategy or restart scheme, all from sigma0 = 2
    "ipop-cma-es": lambda: ejr.strategies.ipop_cma_es(sigma=SIGMA0, restart_x0=RESTART_X0),
    "ipop-sep-cma-es": lambda: ejr.strategies.ipop(ejr.strategies.sep_cma_es, sigma=SIGMA0,
                                                   restart_x0=RESTART_X0),
    "snes": lambda: ejr.strategies.snes(sigma=SIGMA0),
    "pgpe": lambda: ejr.strategies.pgpe(sigma=SIGMA0),
}


def parse_ints(text: str) -> list[int]:
    """``"1-3,7"`` -> ``[1, 2, 3, 7]``."""
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


class Trace:
    """One run: evaluations at the end of each generation and the best f - f_opt so far."""

    def __init__(self, fid, inst, seed, evals, delta):
        self.fid, self.inst, self.seed = fid, inst, seed
        self.evals = np.asarray(evals, np.int64)  # [G] increasing
        self.delta = np.minimum.accumulate(np.asarray(delta, np.float64))  # [G]

    def hit(self, target: float) -> int | None:
        """Evaluations when f - f_opt first reached ``target`` (None: never)."""
        i = np.flatnonzero(self.delta <= target)
        return int(self.evals[i[0]]) if i.size else None

    @property
    def used(self) -> int:
        return int(self.evals[-1])


# --- the runs --------------------------------------------------------------------------------

def run_ours(name, fid, dim, inst, seed, budget):
    params = bbob.instance(fid, dim, inst)
    strategy = STRATEGIES[name]()
    key = jax.random.key(seed * 100_003 + fid * 101 + inst)
    x0 = jnp.zeros(dim)
    res = ejr.optimize(lambda x, p: -bbob.evaluate(p, x), strategy, x0, key=key,
                       max_generations=budget // 4 + 1, max_evaluations=budget,
                       target_fitness=-(float(params.f_opt) + PRECISION), args=params)
    return Trace(fid, inst, seed, res.history_evaluations,
                 -res.history - float(params.f_opt))


def run_pycma(fid, dim, inst, seed, budget, problem):
    f_opt = float(bbob.instance(fid, dim, inst).f_opt)
    evals, deltas = [], []

    def batch(xs):
        fs = [problem(np.asarray(x)) for x in xs]
        evals.append((evals[-1] if evals else 0) + len(fs))
        deltas.append(min(fs) - f_opt)
        return fs

    cma.fmin2(None, problem.initial_solution_proposal, SIGMA0,
              {"maxfevals": budget, "ftarget": f_opt + PRECISION, "seed": seed, "verbose": -9},
              restarts=9, incpopsize=2, parallel_objective=batch)
    problem.free()
    return Trace(fid, inst, seed, evals, deltas)


# --- the tables --------------------------------------------------------------------------------

def ert(traces: list[Trace], target: float = PRECISION) -> float:
    """Evaluations of all runs (each to its hit, else to its end) over the runs that hit."""
    return common.ert([t.hit(target) for t in traces], [t.used for t in traces])


def compare(ours: list[Trace], ref: list[Trace], functions) -> dict:
    """Per function: runs solved and ERTs of both, and ours over ref."""
    rows = {}
    for fid in functions:
        a = [t for t in ours if t.fid == fid]
        b = [t for t in ref if t.fid == fid]
        ea, eb = ert(a), ert(b)
        rows[fid] = {
            "name": bbob.NAMES[fid],
            "solved": [int(sum(t.hit(PRECISION) is not None for t in a)),
                       int(sum(t.hit(PRECISION) is not None for t in b))],
            "ert": [ea if np.isfinite(ea) else None, eb if np.isfinite(eb) else None],
            "ratio": ea / eb if np.isfinite(ea) and np.isfinite(eb) else None,
        }
    return rows


def print_table(title, rows, runs_per_function):
    print(f"\n{title}\n  f   name                         solved  ours/ref   ERT ours    ERT ref  ratio")
    for fid, r in rows.items():
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        ert_a, ert_b = (f"{e:>10.4g}" if e is not None else f"{'-':>10s}" for e in r["ert"])
        print(f"  {fid:<3d} {bbob.NAMES[fid]:<28s} {r['solved'][0]:>2d}/{r['solved'][1]:<2d}"
              f" of {runs_per_function}  {ert_a} {ert_b}  {ratio}")
    total = np.sum([r["solved"] for r in rows.values()], axis=0)
    print(f"  runs solved: ours {total[0]}, ref {total[1]}")


def summary(rows) -> dict:
    ratios = {fid: r["ratio"] for fid, r in rows.items() if r["ratio"] is not None}
    total = np.sum([r["solved"] for r in rows.values()], axis=0)
    return {
        "solved": int(total[0]), "solved_ref": int(total[1]),
        "worst_ratio": max(ratios.values()) if ratios else None,
        "above_1_1": sorted(fid for fid, v in ratios.items() if v > 1.1),
        "ratios": {str(fid): round(v, 3) for fid, v in ratios.items()},
    }


# --- COCO's data format and the ECDF --------------------------------------------------------

def write_coco(folder: str, alg: str, traces: list[Trace], dim: int) -> None:
    """COCO's ``bbob-new2`` format: ``bbobexp_f{F}.info`` and ``data_f{F}/...DIM{D}.dat/.tdat``.

    Lines are written at generation ends: ``evaluations 0 f-f_opt f f`` (no x columns, which
    cocopp does not read). ``.dat`` (target-triggered) gets a line each time the best f - f_opt
    crosses one of 5 targets per decade, plus the last; ``.tdat`` (budget-triggered) at the
    generations that pass 1, 2, 5 x 10^k evaluations, plus the last.
    """
    header = ("% f evaluations | g evaluations | best noise-free fitness - Fopt ({:.12e}) + "
              "sum g_i+ | measured fitness | best measured fitness or single-digit g-values\n")
    for fid in sorted({t.fid for t in traces}):
        runs = [t for t in traces if t.fid == fid]
        data = f"data_f{fid}/bbobexp_f{fid}_DIM{dim}"
        os.makedirs(os.path.join(folder, f"data_f{fid}"), exist_ok=True)
        with open(os.path.join(folder, data + ".dat"), "a") as dat, \
                open(os.path.join(folder, data + ".tdat"), "a") as tdat:
            for t in runs:
                f_opt = float(bbob.instance(fid, dim, t.inst).f_opt)
                line = lambda i: (f"{t.evals[i]} 0 {t.delta[i]:+.9e} {t.delta[i] + f_opt:+.9e} "  # noqa
                                  f"{t.delta[i] + f_opt:+.9e}\n")
                dat.write(header.format(f_opt))
                tdat.write(header.format(f_opt))
                level = np.floor(np.log10(np.maximum(t.delta, 1e-300)) * 5)
                marks = np.flatnonzero(np.r_[True, level[1:] < level[:-1]])
                steps = np.array([m * 10**k for k in range(12) for m in (1, 2, 5)])
                passed = np.searchsorted(steps, t.evals, side="right")
                budget_marks = np.flatnonzero(np.r_[True, passed[1:] > passed[:-1]])
                last = len(t.evals) - 1
                for i in sorted(set(marks) | {last}):
                    dat.write(line(i))
                for i in sorted(set(budget_marks) | {last}):
                    tdat.write(line(i))
        with open(os.path.join(folder, f"bbobexp_f{fid}.info"), "a") as info:
            info.write(f"suite = 'bbob', funcId = {fid}, DIM = {dim}, Precision = 1.000e-08, "
                       f"algId = '{alg}', coco_version = '{cocoex.__version__}', logger = 'bbob', "
                       f"data_format = 'bbob-new2', settings = ''\n% \n{data}.dat")
            info.write("".join(f", {t.inst}:{t.used}|{t.delta[-1]:.1e}" for t in runs) + "\n")


def cocopp_check(folder: str, traces: list[Trace], dim: int) -> bool | None:
    """Whether cocopp, reading ``folder``, finds our ERT to 1e-8 for every function of ``dim``
    (None: cocopp is not installed)."""
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import cocopp

            sets = cocopp.pproc.DataSetList(folder)
    except ImportError:
        return None
    agree = True
    for ds in sets:
        if ds.dim == dim:
            theirs = float(ds.detERT([PRECISION])[0])
            ours = ert([t for t in traces if t.fid == ds.funcId])
            agree &= (theirs == ours) or (np.isinf(theirs) and np.isinf(ours)) or bool(
                np.isclose(theirs, ours, rtol=1e-12))
    return bool(agree)


def ecdf_png(path: str, curves: dict, dims: list[int], budget: int) -> None:
    """Fraction of (run, target) pairs hit against evaluations / D, one panel per dimension."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(dims), figsize=(5.5 * len(dims), 4), squeeze=False)
    for ax, dim in zip(axes[0], dims):
        grid = np.logspace(0, np.log10(budget), 200)
        for label, traces in curves[dim].items():
            hits = np.array([h for t in traces for h in (t.hit(x) for x in TARGETS)
                             if h is not None], np.float64) / dim
            pairs = len(traces) * len(TARGETS)
            ax.step(grid, [np.sum(hits <= g) / pairs for g in grid], where="post", label=label)
        ax.set(xscale="log", ylim=(0, 1), xlabel="evaluations / D",
               ylabel="fraction of (run, target) pairs",
               title=f"BBOB f1-f24, D = {dim}: targets 1e2..1e-8")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- the batched sweep ---------------------------------------------------------------------------

def sweep(dim: int, functions, instances, seeds) -> dict:
    """Plain CMA-ES on every (function, instance, seed) of ``dim``, three ways: one
    ``optimize_batch`` program over all runs (``bbob.evaluate`` then switches on a batched
    function id, so every function's formula is computed for every point); one program per
    function (``evaluate(..., fid=f)``: only its formula); and the runs one by one through
    ``optimize`` (one compiled loop for all, ``args`` per run). Walls are of a second call
    (compiled); ``*_compile_s`` is the first call's extra time."""
    budget = 1000 * dim
    runs = [(f, i, s) for f in functions for i in instances for s in range(seeds)]
    params = bbob.stack([bbob.instance(f, dim, i) for f, i, _ in runs])
    keys = jax.random.split(jax.random.key(dim), len(runs))
    targets = -(np.asarray(params.f_opt) + PRECISION)
    strategy = ejr.strategies.cma_es(sigma=SIGMA0)
    kw = dict(max_generations=budget // 4 + 1, max_evaluations=budget)
    x0 = jnp.zeros((len(runs), dim))
    pick = lambda tree, rows: jax.tree.map(lambda a: a[rows], tree)  # noqa: E731

    def all_in_one():
        res = ejr.optimize_batch(lambda x, p: -bbob.evaluate(p, x), strategy, x0, keys=keys,
                                 target_fitness=targets, args=params, **kw)
        return list(res.stop_reason), list(res.generations)

    def per_function():
        reasons, generations = [], []
        for f in functions:
            rows = np.array([r for r, run in enumerate(runs) if run[0] == f])
            res = ejr.optimize_batch(lambda x, p, f=f: -bbob.evaluate(p, x, fid=f), strategy,
                                     x0[rows], keys=keys[rows], target_fitness=targets[rows],
                                     args=pick(params, rows), **kw)
            reasons += res.stop_reason
            generations += list(res.generations)
        return reasons, generations

    def one_by_one():
        out = [ejr.optimize(lambda x, p: -bbob.evaluate(p, x), strategy, x0[r], key=keys[r],
                            target_fitness=float(targets[r]), args=pick(params, r), **kw)
               for r in range(len(runs))]
        return [o.stop_reason for o in out], [o.generations for o in out]

    out = {"dim": dim, "runs": len(runs), "budget": budget}
    ends = {}
    for name, call in [("one_by_one", one_by_one), ("per_function", per_function),
                       ("all_in_one", all_in_one)]:
        t = time.perf_counter()
        call()
        first = time.perf_counter() - t
        t = time.perf_counter()
        reasons, generations = call()
        wall = time.perf_counter() - t
        ends[name] = generations
        out[f"{name}_s"] = round(wall, 3)
        out[f"{name}_compile_s"] = round(max(first - wall, 0.0), 1)
        out[f"{name}_solved"] = int(sum(r == "target_fitness" for r in reasons))
        out[f"{name}_generations"] = int(sum(generations))
    for name in ("per_function", "all_in_one"):
        out[f"{name}_speedup"] = round(out["one_by_one_s"] / out[f"{name}_s"], 2)
        out[f"{name}_same_end"] = int(sum(a == b for a, b in zip(ends[name], ends["one_by_one"])))
    print(f"  sweep D={dim}: {len(runs)} runs of CMA-ES ({budget} evaluations each): one by one "
          f"{out['one_by_one_s']:.2f} s, one program per function {out['per_function_s']:.2f} s "
          f"({out['per_function_speedup']}x), one program for all {out['all_in_one_s']:.2f} s "
          f"({out['all_in_one_speedup']}x); solved {out['one_by_one_solved']}, "
          f"{out['per_function_solved']}, {out['all_in_one_solved']}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strategies", default=",".join(STRATEGIES),
                    help=f"comma-separated, of: {', '.join(STRATEGIES)}")
    ap.add_argument("--functions", default="1-24")
    ap.add_argument("--instances", default="1-3")
    ap.add_argument("--dims", default="5,10")
    ap.add_argument("--seeds", type=int, default=2, help="runs per instance")
    ap.add_argument("--budget", type=float, default=2e4, help="evaluations per run, times D")
    ap.add_argument("--null", action="store_true", help="also pycma against pycma, other seeds")
    ap.add_argument("--sweep", action="store_true", help="also the batched CMA-ES sweep")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "bbob"),
                    help="COCO data and the ECDF PNG go here")
    ap.add_argument("--quick", action="store_true", help="functions 1,7,8, D=2, budget 1e3 D")
    args = ap.parse_args()
    if args.quick:
        args.functions, args.dims, args.instances, args.budget, args.seeds = "1,7,8", "2", "1", 1e3, 1
    names = common.parse_only(ap, args.strategies, STRATEGIES, "strategy")
    try:
        functions, instances = parse_ints(args.functions), parse_ints(args.instances)
        dims = parse_ints(args.dims)
    except ValueError:
        ap.error("--functions, --instances and --dims take lists such as 1-3,7; got "
                 f"{args.functions!r}, {args.instances!r}, {args.dims!r}")
    bad = [f for f in functions if f not in bbob.FUNCTION_IDS]
    if bad:
        ap.error(f"--functions must be within 1-24, got {bad}")
    if any(not 2 <= d <= 40 for d in dims) or any(i < 1 for i in instances):
        ap.error(f"--dims must be within 2-40 (cocoex's bbob suite) and --instances >= 1, got "
                 f"{args.dims!r} and {args.instances!r}")
    print(json.dumps(common.machine()), flush=True)
    for name in ["pycma-ipop", *names]:  # the COCO files are appended to: start them afresh
        shutil.rmtree(os.path.join(args.out, name), ignore_errors=True)

    result = {"budget_per_d": args.budget, "functions": functions, "instances": instances,
              "seeds": args.seeds, "dims": dims, "strategies": {}, "walls": {}}
    curves = {d: {} for d in dims}
    for dim in dims:
        budget = int(args.budget * dim)
        suite = cocoex.Suite("bbob", f"instances: {','.join(map(str, instances))}",
                             f"dimensions: {dim} function_indices: "
                             f"{','.join(map(str, functions))}")

        def problem(f, i):  # one at a time: iterating a cocoex Suite frees the previous one
            return suite.get_problem_by_function_dimension_instance(f, dim, i)

        jobs = [(f, i, s) for f in functions for i in instances for s in range(args.seeds)]
        t = time.perf_counter()
        ref = [run_pycma(f, dim, i, 1 + s, budget, problem(f, i)) for f, i, s in jobs]
        result["walls"][f"pycma_d{dim}"] = round(time.perf_counter() - t, 1)
        curves[dim]["pycma ipop-cma-es"] = ref
        write_coco(os.path.join(args.out, "pycma-ipop"), "pycma-ipop", ref, dim)
        if args.null:
            other = [run_pycma(f, dim, i, 1001 + s, budget, problem(f, i)) for f, i, s in jobs]
            rows = compare(other, ref, functions)
            print_table(f"D={dim}: pycma (seeds 1001..) against pycma (seeds 1..)", rows,
                        len(instances) * args.seeds)
            result["strategies"].setdefault("pycma-null", {})[str(dim)] = summary(rows)
        for name in names:
            t = time.perf_counter()
            ours = [run_ours(name, f, dim, i, s, budget) for f, i, s in jobs]
            result["walls"][f"{name}_d{dim}"] = round(time.perf_counter() - t, 1)
            curves[dim][f"ours {name}"] = ours
            write_coco(os.path.join(args.out, name), name, ours, dim)
            agree = cocopp_check(os.path.join(args.out, name), ours, dim)
            result.setdefault("cocopp_reads_same_ert", {})[f"{name}_d{dim}"] = agree
            rows = compare(ours, ref, functions)
            print_table(f"D={dim}: ours {name} against pycma's IPOP-CMA-ES, budget "
                        f"{args.budget:g} D", rows, len(instances) * args.seeds)
            result["strategies"].setdefault(name, {})[str(dim)] = summary(rows)
            result["strategies"][name][str(dim)]["rows"] = {
                str(f): r for f, r in rows.items()}
        if args.sweep:
            result.setdefault("sweep", []).append(
                sweep(dim, functions, instances, args.seeds))
    png = os.path.join(args.out, "ecdf.png")
    ecdf_png(png, curves, dims, int(args.budget))
    result["ecdf_png"] = common.checkout_path(png)
    print(f"COCO data and {os.path.basename(png)} in {os.path.relpath(args.out)}", flush=True)
    emit(result)


if __name__ == "__main__":
    main()
