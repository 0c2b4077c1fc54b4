"""Planning by evolution (``evojax_rl.planning``): return against planning budget, and time per
control step, with the true environment as the model.

- Pendulum-v1, 16 episodes of 200 steps, for CEM and CMA-ES at several budgets (horizon H,
  population P, generations I per control step; the budget is ``P * I * H`` model steps per
  control step and episode). Target: mean return >= -200 (a trained ES policy reaches about
  -140, random actions about -1200).
- CartPole-v1, 16 episodes of 500 steps, each strategy at its default settings: every episode
  should last 500 steps.

Each configuration is one ``planning.run`` of a batch of episodes (``vmap``), in compiled chunks
of 25 control steps. ``seconds_per_step`` is the wall time of the run divided by the control
steps the batch took (every episode advancing one step), compilation excluded;
``compile_seconds`` is tracing and compiling, timed apart (the persistent compilation cache can
make it small on a second run).

Last line: one JSON object with

- ``pendulum``: a list of ``{strategy, horizon, popsize, iterations, budget, mean_return,
  min_return, seconds_per_step, compile_seconds}``;
- ``cartpole``: a list of ``{strategy, horizon, popsize, iterations, budget, mean_return,
  min_length, all_500, seconds_per_step, compile_seconds}``;
- ``pendulum_default``: ``{strategy: mean_return}`` at the default settings
  (``planning.DEFAULTS``, what ``evojax-rl plan Pendulum-v1`` runs), ``pendulum_target`` (-200);
- ``episodes``, ``seed`` and ``machine``.

    python benchmarks/planning.py [--quick] [--seed 0]

``--quick``: the default settings only (two Pendulum runs, CartPole with CEM), about a minute.
"""

from __future__ import annotations

import argparse

import jax

from common import emit
from evojax_rl import planning
from evojax_rl.problems import make

EPISODES = 16
CHUNK = 25
PENDULUM_TARGET = -200.0
# (horizon, popsize, iterations) per strategy, smallest budget first; the defaults are among them.
PENDULUM_BUDGETS = {
    "cem": [(10, 16, 3), (20, 16, 3), (20, 32, 5), (30, 64, 5)],
    "cma_es": [(10, 16, 3), (20, 16, 5), (30, 32, 5)],
}


def measure(env_name: str, strategy: str, horizon: int, popsize: int, iterations: int,
            seed: int, episodes: int) -> dict:
    env = make(env_name)
    planner = planning.make_planner(env, strategy, horizon=horizon, popsize=popsize,
                                    iterations=iterations)
    r = planning.run(planner, jax.random.key(seed), episodes, chunk=CHUNK)
    row = {
        "strategy": strategy, "horizon": horizon, "popsize": popsize, "iterations": iterations,
        "budget": horizon * popsize * iterations,
        "mean_return": round(r.mean_return, 2),
        "min_return": round(float(r.returns.min()), 2),
        "min_length": int(r.lengths.min()),
        "seconds_per_step": round(r.seconds_per_step, 5),
        "compile_seconds": round(r.compile_seconds, 2),
    }
    print(f"{env_name:12s} {strategy:6s} H={horizon:3d} P={popsize:3d} I={iterations:2d} "
          f"budget {row['budget']:6d}: mean {r.mean_return:8.1f}  min {row['min_return']:8.1f}  "
          f"min length {row['min_length']:3d}  {r.seconds_per_step * 1e3:7.2f} ms/step  "
          f"compile {r.compile_seconds:5.1f} s", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="the default settings only")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    pendulum, defaults = [], {}
    for strategy, budgets in PENDULUM_BUDGETS.items():
        default = planning.settings("Pendulum-v1", strategy)
        default = (default["horizon"], default["popsize"], default["iterations"])
        for h, p, i in ([default] if args.quick else budgets):
            row = measure("Pendulum-v1", strategy, h, p, i, args.seed, EPISODES)
            pendulum.append(row)
            if (h, p, i) == default:
                defaults[strategy] = row["mean_return"]
    cartpole = []
    for strategy in (["cem"] if args.quick else list(planning.STRATEGIES)):
        s = planning.settings("CartPole-v1", strategy)
        row = measure("CartPole-v1", strategy, s["horizon"], s["popsize"], s["iterations"],
                      args.seed, EPISODES)
        row["all_500"] = row["min_length"] == 500
        cartpole.append(row)
    for row in pendulum:
        del row["min_length"]
    emit({
        "episodes": EPISODES, "seed": args.seed, "chunk": CHUNK,
        "pendulum_target": PENDULUM_TARGET,
        "pendulum_default": defaults,
        "pendulum": pendulum,
        "cartpole": cartpole,
    })


if __name__ == "__main__":
    main()
