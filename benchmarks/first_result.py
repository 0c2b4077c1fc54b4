"""Time to the first result, each case in a fresh process; and compile time per strategy.

    python benchmarks/first_result.py [--repeats 3] [--quick] [--only CASES] [--src DIR]

Cases (each run ``--repeats`` times, round after round, so that all meet the same machine
conditions; medians reported):

- ``pycma``: pycma's whole run on 10-D Rosenbrock from zeros, sigma 0.5, to f <= 1e-8 (the
  setup of ``cma_vs_pycma.py``): from starting the process to the printed result.
- ``optimize_cold``: the same problem with ``optimize(cma_es)`` in float64 (as in
  ``cma_vs_pycma.py``: 1e-8 near a non-zero optimum needs it), with an empty persistent
  compilation cache (a new directory each round): process start to the printed result.
  The process then calls ``optimize`` again with a new, equal ``lambda`` and another seed:
  ``equal_lambda_s`` is that call's time.
- ``optimize_warm``: the same, run again on the cache the cold process filled.
- ``optimize_nocache``: the same with the cache disabled (``EVOJAX_RL_DISABLE_CACHE=1``).
- ``train_cold`` / ``train_warm``: ``evojax-rl train cartpole-openes`` (until its result line),
  with an empty cache and again on the cache the cold process filled.

``compile``: per strategy factory, a fresh process (cache disabled) runs ``optimize`` on the
same problem (float64, ``max_generations=20000``, no target: the loop compiled is the one the
cases run) and records JAX's monitoring events: tracing, lowering to StableHLO and XLA's
compilation of the loop, and all the other programs together (``init``'s array constructors,
key splits, ...), plus the wall time of the call. ``parts`` does the same for ``cma_es`` with
one piece taken out or swapped at a time, to show what each piece costs to compile.

``--before REV`` also measures the code of git revision ``REV`` (its ``evojax_rl/``, extracted
with ``git archive``) in the same rounds: ``optimize`` in a fresh process (there was no cache
before, so this is the user's every run) and the per-strategy compile table, for a before/after
comparison under the same machine conditions. ``--src DIR`` imports evojax_rl from another
checkout instead of this one. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import common
from common import emit

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# pycma's whole run, as in cma_vs_pycma.py (seed 1 there is its seed 0).
PYCMA = """
import cma, numpy as np
def f(x):
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))
es = cma.CMAEvolutionStrategy(list(np.zeros(10)), 0.5, {"verbose": -9, "seed": 1, "ftarget": 1e-8})
while not es.stop():
    xs = es.ask()
    es.tell(xs, [f(x) for x in xs])
print("RESULT", es.best.f, es.countevals, flush=True)
"""

# optimize as a user's script would write it; then a second call with a new, equal lambda.
OPTIMIZE = """
import time
t0 = time.perf_counter()
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import evojax_rl as ejr
t1 = time.perf_counter()

def solve(seed):
    return ejr.optimize(lambda x: -ejr.problems.rosenbrock(x), ejr.strategies.cma_es(sigma=0.5),
                        jnp.zeros(10, jnp.float64), key=jax.random.key(seed),
                        max_generations=20000, target_fitness=-1e-8)

res = solve(0)
t2 = time.perf_counter()
print("RESULT", -res.best_fitness, res.evaluations, flush=True)
again = solve(1)
t3 = time.perf_counter()
print("TIMES", t1 - t0, t2 - t1, t3 - t2, -again.best_fitness, flush=True)
"""

# Compile time of optimize's programs for one strategy (argv: name, part).
COMPILE = """
import sys, time, collections
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import evojax_rl as ejr
import importlib
from evojax_rl import loop
from evojax_rl.strategies import base
cma_module = importlib.import_module("evojax_rl.strategies.cma_es")

name, part = sys.argv[1], sys.argv[2]
events = collections.defaultdict(float)

def listener(event, duration, **kw):
    kind = event.rsplit("/", 1)[-1]
    if kind in ("jaxpr_trace_duration", "jaxpr_to_mlir_module_duration",
                "backend_compile_duration"):
        which = "run" if kw.get("fun_name") in ("_run", "jit(_run)") else "other"
        events[which + ":" + kind] += duration

strategy = getattr(ejr.strategies, name)()
max_generations = 20000
if part == "no_stop":  # no stop criteria (the strategy's stop() never stops)
    strategy = strategy._replace(stop=base._never_stop)
elif part == "short_history":  # a 100-generation history buffer instead of 20000
    max_generations = 100
elif part == "rolled_sampler":  # jax.random's (rolled) Threefry instead of the unrolled one
    class Rolled:
        normal = staticmethod(jax.random.normal)
        fold_in = staticmethod(jax.random.fold_in)
    cma_module.sampling = Rolled
    loop.sampling = Rolled
elif part != "whole":
    raise SystemExit(f"unknown part {part}")
jax.monitoring.register_event_duration_secs_listener(listener)
t = time.perf_counter()
res = ejr.optimize(lambda x: -ejr.problems.rosenbrock(x), strategy, jnp.zeros(10, jnp.float64),
                   key=jax.random.key(0), max_generations=max_generations, max_evaluations=1)
wall = time.perf_counter() - t
print("EVENTS", dict(events, wall=wall, generations=res.generations), flush=True)
"""

STRATEGIES = ("open_es", "snes", "pgpe", "ars", "cma_es", "sep_cma_es", "cem", "simple_ga")
PARTS = ("whole", "no_stop", "short_history", "rolled_sampler")
CASES = ("pycma", "optimize_cold", "optimize_warm", "optimize_nocache", "train_cold",
         "train_warm", "compile")


def child_env(src: str, cache_dir: str | None) -> dict:
    """``common.cache_env(cache_dir)`` importing evojax_rl from ``src``."""
    env = common.cache_env(cache_dir)
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def timed(cmd: list[str], env: dict, marker: str, cwd: str) -> tuple[float, list[str]]:
    """Run ``cmd``; seconds from starting it to the first output line that starts with
    ``marker`` (the result), and all its output lines."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    first, lines = None, []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if first is None and line.startswith(marker):
            first = time.perf_counter() - t
    if proc.wait() != 0 or first is None:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed:\n" + "\n".join(lines[-20:]))
    return first, lines


def run_pycma(src):
    s, lines = timed([sys.executable, "-c", PYCMA], child_env(src, None), "RESULT", src)
    return {"s": s, "f": float(next(ln for ln in lines if ln.startswith("RESULT")).split()[1])}


def run_optimize(src, cache_dir):
    s, lines = timed([sys.executable, "-c", OPTIMIZE], child_env(src, cache_dir), "RESULT", src)
    f = float(next(ln for ln in lines if ln.startswith("RESULT")).split()[1])
    times = next(ln for ln in lines if ln.startswith("TIMES")).split()[1:]
    imp, first, again, f2 = map(float, times)
    return {"s": s, "f": f, "import_s": imp, "optimize_s": first, "equal_lambda_s": again,
            "equal_lambda_f": f2}


def run_train(src, cache_dir):
    out = tempfile.mkdtemp(prefix="first_result_run_")
    try:
        cmd = [sys.executable, "-m", "evojax_rl.cli", "train", "cartpole-openes", "--out",
               os.path.join(out, "run")]
        s, lines = timed(cmd, child_env(src, cache_dir), "cartpole-openes: mean policy", src)
        return {"s": s, "line": next(ln for ln in lines if ln.startswith("cartpole-openes:"))}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def run_compile(src, name, part):
    _, lines = timed([sys.executable, "-c", COMPILE, name, part], child_env(src, None), "EVENTS",
                     src)
    return ast.literal_eval(next(ln for ln in lines if ln.startswith("EVENTS"))[len("EVENTS "):])


def median(rows, key):
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def summarize_compile(rows):
    """Median over repeats of each event sum; ``run_*`` is the loop, ``other_*`` the rest."""
    keys = {"run_trace_s": "run:jaxpr_trace_duration",
            "run_lower_s": "run:jaxpr_to_mlir_module_duration",
            "run_compile_s": "run:backend_compile_duration",
            "other_trace_s": "other:jaxpr_trace_duration",
            "other_lower_s": "other:jaxpr_to_mlir_module_duration",
            "other_compile_s": "other:backend_compile_duration",
            "wall_s": "wall"}
    return {k: statistics.median(r.get(e, 0.0) for r in rows) for k, e in keys.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one round, no per-part table")
    ap.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(CASES)}")
    ap.add_argument("--src", default=ROOT, help="the checkout to import evojax_rl from")
    ap.add_argument("--before", default="", help="a git revision to compare with")
    args = ap.parse_args()
    cases = common.parse_only(ap, args.only, CASES, "case")
    if args.quick:
        args.repeats = 1
    src = os.path.abspath(args.src)
    old = extract(args.before) if args.before else None
    try:
        out = measure(args, cases, src, old)
    finally:
        if old:
            shutil.rmtree(old, ignore_errors=True)
    emit(out)


def extract(rev: str) -> str:
    """``rev``'s evojax_rl/ in a new temporary directory (via ``git archive``)."""
    path = tempfile.mkdtemp(prefix="first_result_before_")
    archive = subprocess.run(["git", "archive", rev, "evojax_rl"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", path], input=archive, check=True)
    return path


def measure(args, cases, src, old):
    load_before = os.getloadavg()
    runs = {c: [] for c in cases if c != "compile"}
    if old and "optimize_nocache" in runs:
        runs["before_optimize"] = []
    for r in range(args.repeats):
        caches = {k: tempfile.mkdtemp(prefix=f"first_result_{k}_") for k in ("opt", "train")}
        try:
            for case in runs:
                if case == "pycma":
                    row = run_pycma(src)
                elif case == "before_optimize":
                    row = run_optimize(old, None)
                elif case.startswith("optimize_"):
                    row = run_optimize(src, None if case == "optimize_nocache" else caches["opt"])
                else:
                    row = run_train(src, caches["train"])
                runs[case].append(row)
                print(f"round {r + 1} {case:17s} {row['s']:6.2f} s", flush=True)
        finally:
            for d in caches.values():
                shutil.rmtree(d, ignore_errors=True)
    out = {"repeats": args.repeats, "src": os.path.relpath(src, ROOT) if src != ROOT else ".",
           "before": args.before or None, "loadavg_before": load_before, "cases": {}}
    for case, rows in runs.items():
        out["cases"][case] = {"median_s": median(rows, "s"), "runs_s": [r["s"] for r in rows]}
        for key in ("import_s", "optimize_s", "equal_lambda_s"):
            if rows and key in rows[0]:
                out["cases"][case][f"median_{key}"] = median(rows, key)
        if "optimize" in case:
            out["cases"][case]["best_f"] = [r["f"] for r in rows]
    c = out["cases"]
    ref = c.get("pycma", {}).get("median_s")

    def over(case):
        return c[case]["median_s"] / ref if ref and case in c else None

    out["warm_over_pycma"] = over("optimize_warm")
    out["cold_over_pycma"] = over("optimize_cold")
    out["nocache_over_pycma"] = over("optimize_nocache")
    out["before_over_pycma"] = over("before_optimize")
    lam = [c[k]["median_equal_lambda_s"] for k in ("optimize_cold", "optimize_warm",
                                                  "optimize_nocache") if k in c]
    if "before_optimize" in c:
        out["before_equal_lambda_s"] = c["before_optimize"]["median_equal_lambda_s"]
    out["equal_lambda_s"] = max(lam) if lam else None

    if "compile" in cases:
        table, parts = {}, {}
        for name in STRATEGIES:
            table[name] = summarize_compile([run_compile(src, name, "whole")
                                             for _ in range(args.repeats)])
            print(f"compile {name:10s} " + " ".join(f"{k} {v:.2f}" for k, v in
                                                    table[name].items()), flush=True)
        if not args.quick:
            for part in PARTS[1:]:
                parts[part] = summarize_compile([run_compile(src, "cma_es", part)
                                                 for _ in range(args.repeats)])
                print(f"part {part:15s} " + " ".join(f"{k} {v:.2f}" for k, v in
                                                     parts[part].items()), flush=True)
            parts["whole"] = table["cma_es"]
        out["compile"] = table
        out["parts"] = parts
        if old:
            before = {}
            for name in STRATEGIES:
                before[name] = summarize_compile([run_compile(old, name, "whole")
                                                  for _ in range(args.repeats)])
                print(f"before {name:10s} " + " ".join(f"{k} {v:.2f}" for k, v in
                                                       before[name].items()), flush=True)
            out["compile_before"] = before
    out["loadavg_after"] = os.getloadavg()
    for case, row in c.items():
        print(f"{case:17s} median {row['median_s']:6.2f} s  runs "
              + ", ".join(f"{s:.2f}" for s in row["runs_s"]), flush=True)
    print(f"warm/pycma {out['warm_over_pycma']}, cold/pycma {out['cold_over_pycma']}, "
          f"equal lambda {out['equal_lambda_s']} s", flush=True)
    return out


if __name__ == "__main__":
    main()
