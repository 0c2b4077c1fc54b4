"""PBT against fixed hyperparameters drawn from the same priors, at the same cost.

Per task and seed, two runs of one program (``evojax_rl.pbt``): PBT (exploit and explore on)
and 16 independent members with hyperparameters drawn from the same priors (exploit off: the
same draws, the same steps, the same evaluations at every ready step, so the same environment
steps or gradient steps). Judged on a fresh evaluation at the end: PBT's member with the best
training score (``pbt_best``) against the median of the 16 fixed runs (``fixed_median``); also
the fixed run with the best training score (``fixed_best``, the same selection rule as PBT's: a
random search of 16 trials) and the best fixed run on the fresh evaluation (``fixed_oracle``,
which no one could select without the fresh evaluation).

Tasks:

- ``pendulum``: the ``pendulum-pbt`` preset (16 OpenAI-ES learners on Pendulum-v1, popsize 32,
  400 generations, ready every 10, over learning_rate and sigma); the training score is the mean
  policy's return on 4 episodes, the fresh evaluation its return on 64 fresh episodes.
  Pendulum's episodes never end early (200 steps), so both runs take exactly the same
  environment steps, counted here.
- ``regression``: 16 SGD learners of a 8-32-1 tanh MLP on a synthetic regression (256 training
  points, batch 32), 300 PBT steps of 10 gradient steps, ready every 10, over the learning rate
  (log-uniform on [1e-4, 1]); training score: minus the validation MSE (256 points); fresh
  evaluation: minus the MSE on a held-out test set (256 points).

Prints a table; the last line is one JSON object with, per task, ``pbt_best`` and
``fixed_median`` (means over the seeds), ``fixed_best``, ``fixed_oracle``, the per-seed
figures, the cost (environment or gradient steps per run) and the wall time.

    python benchmarks/pbt.py [--seeds 3] [--only pendulum,regression] [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from common import emit, parse_only
from evojax_rl.pbt import trainer
from evojax_rl.presets import PRESETS

TASKS = ("pendulum", "regression")
PENDULUM_TEST_EPISODES = 64

REGRESSION = trainer.PBTConfig(
    learner="regression",
    learner_kwargs={"dim": 8, "hidden": 32, "train_size": 256, "test_size": 256,
                    "batch_size": 32, "updates": 10, "optimizer": "sgd"},
    priors={"learning_rate": ["log_uniform", 1e-4, 1.0]},
    members=16, steps=300, ready=10, chunk=300, shard=False)


def configs(quick: bool) -> dict:
    pendulum = dataclasses.replace(
        PRESETS["pendulum-pbt"].config, shard=False,
        learner_kwargs={**PRESETS["pendulum-pbt"].config.learner_kwargs,
                        "test_episodes": PENDULUM_TEST_EPISODES})
    regression = REGRESSION
    if quick:
        pendulum = dataclasses.replace(pendulum, steps=40, ready=5)
        regression = dataclasses.replace(regression, steps=40)
    return {"pendulum": pendulum, "regression": regression}


def cost(task: str, config: trainer.PBTConfig) -> dict:
    """Environment steps (Pendulum: every episode is 200 steps) or gradient steps of a run."""
    kw = config.learner_kwargs
    if task == "pendulum":
        per_episode = 200
        training = config.steps * config.members * kw["popsize"] * kw.get("episodes", 1)
        scoring = (config.steps // config.ready) * config.members * kw["score_episodes"]
        return {"env_steps": (training + scoring) * per_episode}
    return {"gradient_steps": config.steps * config.members * kw["updates"]}


def make_runner(config: trainer.PBTConfig):
    """``run(seed) -> (training scores [N], fresh scores [N], copies)`` for ``config``, its
    programs compiled once."""
    p = trainer.build(config)
    test = p.learner.test or p.learner.evaluate

    @jax.jit
    def whole_run(seed):
        state = p.init(jax.random.fold_in(jax.random.key(seed), 0))
        state, metrics = jax.lax.scan(lambda s, _: p.step(s), state, None, length=config.steps)
        # The fresh evaluation: keys no training step has used (fold 2, as the trainer's).
        keys = jax.random.split(jax.random.fold_in(jax.random.key(seed), 2), config.members)
        fresh = jax.vmap(test)(state.learner, keys)
        return state.score, fresh, jnp.sum(metrics["copies"])

    def run(seed):
        score, fresh, copies = jax.device_get(whole_run(np.uint32(seed)))
        return np.asarray(score), np.asarray(fresh), int(copies)

    return run


def finite(x):
    return np.where(np.isfinite(x), x, -np.inf)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated tasks: " + ", ".join(TASKS))
    ap.add_argument("--quick", action="store_true", help="short runs (a smoke test)")
    args = ap.parse_args()
    tasks = parse_only(ap, args.only, TASKS, "task")
    t_all = time.perf_counter()
    out = {"quick": args.quick, "seeds": args.seeds, "tasks": {}}
    for task in tasks:
        config = configs(args.quick)[task]
        t_task = time.perf_counter()
        runners = {on: make_runner(dataclasses.replace(config, exploit=on)) for on in (True, False)}
        per_seed = []
        for seed in range(args.seeds):
            row = {"seed": seed}
            for on, name in ((True, "pbt"), (False, "fixed")):
                t0 = time.perf_counter()
                score, fresh, copies = runners[on](seed)
                row[f"{name}_seconds"] = round(time.perf_counter() - t0, 2)
                chosen = int(np.argmax(finite(score)))
                if on:
                    row.update(pbt_best=float(fresh[chosen]), pbt_copies=copies,
                               pbt_median=float(np.median(finite(fresh))))
                else:
                    row.update(fixed_median=float(np.median(finite(fresh))),
                               fixed_best=float(fresh[chosen]),
                               fixed_oracle=float(np.max(finite(fresh))))
            per_seed.append(row)
            print(f"{task} seed {seed}: pbt_best {row['pbt_best']:.4g}  fixed_median "
                  f"{row['fixed_median']:.4g}  fixed_best {row['fixed_best']:.4g}  fixed_oracle "
                  f"{row['fixed_oracle']:.4g}  ({row['pbt_seconds']:.1f} s + "
                  f"{row['fixed_seconds']:.1f} s, compilation in seed 0's)", flush=True)
        mean = {k: statistics.fmean(r[k] for r in per_seed)
                for k in ("pbt_best", "fixed_median", "fixed_best", "fixed_oracle")}
        out["tasks"][task] = {
            **mean,
            "pbt_beats_fixed_median": mean["pbt_best"] > mean["fixed_median"],
            "pbt_beats_median_every_seed": all(r["pbt_best"] > r["fixed_median"] for r in per_seed),
            "per_seed": per_seed,
            "cost_per_run": cost(task, config),
            "config": config.to_json(),
            "seconds": round(time.perf_counter() - t_task, 1),
        }
    out["wall_seconds"] = round(time.perf_counter() - t_all, 1)
    print()
    print(f"{'task':<11} {'pbt_best':>10} {'fixed_median':>13} {'fixed_best':>11} "
          f"{'fixed_oracle':>13} {'seconds':>8}   (means over {args.seeds} seeds; higher is better)")
    for task, r in out["tasks"].items():
        print(f"{task:<11} {r['pbt_best']:>10.4g} {r['fixed_median']:>13.4g} {r['fixed_best']:>11.4g} "
              f"{r['fixed_oracle']:>13.4g} {r['seconds']:>8.1f}")
    print(f"wall time {out['wall_seconds']:.1f} s")
    emit(out)


if __name__ == "__main__":
    main()
