"""Szita & Lorincz's noisy cross-entropy method on Tetris: no noise, constant, decreasing.

"Learning Tetris using the noisy cross-entropy method" (Neural Computation 18(12), 2006): the
22 Bertsekas-Tsitsiklis features, a linear afterstate evaluation, CEM with population 100, the
best 10% as elites, initial mean 0 and variance 100 (sigma 10), and extra variance Z_t added
after each update: none, constant Z_t = 4, or decreasing Z_t = max(5 - t/10, 0). Their mean
lines cleared (final policies): 21,252 (none), 72,705 (constant), 348,895 (decreasing).

Here (``evojax_rl.tetris.train``, the whole run one compiled loop): the three settings train with
the same seed and budget, each member's fitness the lines of one game stopped after ``--cap``
pieces (the paper's games were uncapped: a 2-core CPU cannot afford games of a million pieces
in training), ``--generations`` generations. Each final policy (the CEM mean) then plays
``--games`` uncapped games, the same piece sequences for the three.

    python benchmarks/tetris_cem.py [--seeds 0,1,2,3,4] [--cap 20000] [--generations 50] [--games 30]
                                    [--quick]

Measured (5 seeds, the defaults; 614 s on 2 shared cores with a cold compilation cache): mean
lines 1,333 (none), 51,209 (constant), 31,147 (decreasing). Without noise CEM collapses in every
seed (116 to 5,424 lines); both noisy settings beat it in every seed; but constant noise beat
decreasing noise in 3 of 5 seeds, and one decreasing run stalled at 3,510 lines: under a capped
training game the paper's ordering of the two noisy settings (5x in its runs) is not reproduced.

Prints the budget, a row per setting beside the paper's figure, and the wall times; the last
line is one JSON object with ``none``, ``constant``, ``decreasing`` (mean lines of the final
policies on the uncapped games, averaged over the seeds), ``placements_per_s`` (the uncapped
evaluation's pieces per second), the per-seed figures and the budget.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import numpy as np

from common import emit
from evojax_rl import strategies
from evojax_rl.tetris import play, train

SETTINGS = {  # Szita & Lorincz's noise settings for initial variance 100
    "none": {"noise": "none"},
    "constant": {"noise": "constant", "noise_a": 4.0},
    "decreasing": {"noise": "decreasing", "noise_a": 5.0, "noise_b": 10.0},
}
PAPER = {"none": 21252, "constant": 72705, "decreasing": 348895}
POPSIZE = 100
ELITE_RATIO = 0.1
SIGMA = 10.0


def strategy(setting: str):
    return strategies.cem(POPSIZE, sigma=SIGMA, elite_ratio=ELITE_RATIO, **SETTINGS[setting])


def run_seed(seed: int, cap: int, generations: int, games: int) -> dict:
    key = jax.random.key(seed)
    k_train, k_eval = jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)
    rows = {}
    jax.block_until_ready(play.play(np.zeros(22, np.float32), k_eval, games, max_pieces=1))
    for setting in SETTINGS:  # (the evaluation is compiled above, once for the three)
        t0 = time.perf_counter()
        compiled = train.compile(strategy(setting), k_train, generations, POPSIZE, cap)
        t_compile = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = jax.block_until_ready(compiled(k_train))
        t_train = time.perf_counter() - t0
        h = jax.device_get(result.history)
        t0 = time.perf_counter()
        out = jax.device_get(play.play(result.mean, k_eval, games))
        t_eval = time.perf_counter() - t0
        lines = np.asarray(out.lines, np.int64)
        rows[setting] = {
            "mean_lines": float(lines.mean()),
            "median_lines": float(np.median(lines)),
            "stderr_lines": float(lines.std(ddof=1) / np.sqrt(len(lines))) if len(lines) > 1 else 0.0,
            "lines": lines.tolist(),
            "all_over": bool(np.all(out.over)),
            "eval_pieces": int(np.sum(out.pieces)),
            "compile_seconds": round(t_compile, 1),
            "train_seconds": round(t_train, 1),
            "eval_seconds": round(t_eval, 1),
            "train_pieces": int(np.sum(h.pieces)),
            "final_population_mean_lines": float(h.mean_lines[-1]),
            "final_population_capped": int(h.capped[-1]),
            "weights": np.asarray(result.mean).round(4).tolist(),
        }
        r = rows[setting]
        print(f"seed {seed} {setting:<10} mean {r['mean_lines']:>9.0f} +- {r['stderr_lines']:>7.0f}  "
              f"median {r['median_lines']:>9.0f}  (paper {PAPER[setting]:>7,})  "
              f"last generation: {r['final_population_capped']}/{POPSIZE} games capped; "
              f"compile {t_compile:.1f} s, train {t_train:.1f} s, eval {t_eval:.1f} s", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds (each runs all three)")
    ap.add_argument("--cap", type=int, default=20000, help="pieces per training game")
    ap.add_argument("--generations", type=int, default=50)
    ap.add_argument("--games", type=int, default=30, help="uncapped evaluation games per policy")
    ap.add_argument("--quick", action="store_true", help="cap 300, 10 generations, 10 games")
    args = ap.parse_args()
    if args.quick:
        args.cap, args.generations, args.games = 300, 10, 10
    seeds = [int(s) for s in args.seeds.split(",") if s]
    budget = {"popsize": POPSIZE, "elite_ratio": ELITE_RATIO, "sigma": SIGMA, "initial_mean": 0.0,
              "generations": args.generations, "cap_pieces": args.cap, "games_per_member": 1,
              "eval_games": args.games, "eval_cap": None, "seeds": seeds}
    print(f"budget: population {POPSIZE}, elites {ELITE_RATIO:.0%}, sigma {SIGMA:g}, mean 0; "
          f"{args.generations} generations; training games capped at {args.cap:,} pieces "
          f"(1 game per member); final policies on {args.games} uncapped games each (the same "
          f"pieces for all three); seeds {seeds}", flush=True)
    t_all = time.perf_counter()
    per_seed = {seed: run_seed(seed, args.cap, args.generations, args.games) for seed in seeds}
    wall = time.perf_counter() - t_all
    means = {s: statistics.fmean(per_seed[seed][s]["mean_lines"] for seed in seeds) for s in SETTINGS}
    pieces = sum(r["eval_pieces"] for rows in per_seed.values() for r in rows.values())
    seconds = sum(r["eval_seconds"] for rows in per_seed.values() for r in rows.values())
    train_pieces = sum(r["train_pieces"] for rows in per_seed.values() for r in rows.values())
    train_seconds = sum(r["train_seconds"] for rows in per_seed.values() for r in rows.values())
    order = means["none"] < means["constant"] < means["decreasing"]
    print()
    print(f"{'noise':<11} {'mean lines':>11} {'paper':>9}   (final policies, {args.games} uncapped "
          f"games x {len(seeds)} seed(s))")
    for s in SETTINGS:
        print(f"{s:<11} {means[s]:>11,.0f} {PAPER[s]:>9,}")
    print(f"paper's ordering none < constant < decreasing: {'yes' if order else 'no'}")
    print(f"uncapped evaluation: {pieces / seconds:,.0f} placements/s; training: "
          f"{train_pieces / train_seconds:,.0f} placements/s")
    print(f"wall time {wall:.1f} s")
    emit({**means, "placements_per_s": round(pieces / seconds),
          "train_placements_per_s": round(train_pieces / train_seconds),
          "ordering_holds": order, "paper": PAPER, "budget": budget, "quick": args.quick,
          "per_seed": {str(k): v for k, v in per_seed.items()}, "wall_seconds": round(wall, 1)})


if __name__ == "__main__":
    main()
