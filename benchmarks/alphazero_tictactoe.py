"""AlphaZero on tic-tac-toe: our trainer against a pgx + mctx recipe, and the preset end to end.

1. Time to stable perfect play, like for like. Ours (the ``tictactoe-alphazero`` preset's
   training: Gumbel MuZero with 32 simulations, MLP 128x2, 512 self-play games per iteration,
   its random opening plies) and the recipe (``az_recipe.py``: the same game, search settings,
   network, games per iteration and random openings as the preset, on pgx + mctx + flax +
   optax) each train for ``--horizon`` seconds (compilation included, evaluation excluded) and
   are judged after every iteration by the same test: a greedy player (its own 32-simulation
   search, no noise) loses no line against the perfect player over every optimal reply in both
   seats (``alphazero.perfect.perfect_lines``). ``stable`` is the training time of the first
   evaluation from which every later one (to the horizon) is perfect; ``first`` the first
   perfect one. Medians over ``--seeds``. Each run's compilation is estimated as its first
   judged time less its median iteration, and ``stable`` is also given without it.
2. Self-play positions searched per second at equal batch (512) and simulations (32), one
   iteration's self-play (9 plies of every game, finished games included), compilation
   excluded: ours (``selfplay.make_selfplay`` compiled by ``mcts.jit``, as the trainer compiles
   it) over the recipe's as written (``jax.jit``'s defaults); the median ratio of 3 interleaved
   rounds, each compiled afresh (their spread is large). Each round also times the recipe
   compiled with the same options as ours (``mcts.COMPILER_OPTIONS``): that ratio is the two
   searches' own code alone, a like-for-like figure that leaves out our choice of options.
3. The preset as a user runs it: ``evojax-rl train tictactoe-alphazero`` as a whole process
   from an empty compilation cache (wall time, target under 60 s), then its final agent
   through ``load_agent``: lines lost against the perfect player in both seats, games lost in
   1000 against a uniform random player (500 in each seat), and whether the run's last 5
   evaluations were perfect.

No run reads a persistent compilation cache: both trainers compile every run afresh.

The last line is JSON with ``ours_s``, ``recipe_s``, ``ours_over_recipe`` (targets: at most
0.5), ``selfplay_ours_over_recipe`` (target: at least 1.5) and the preset's figures.

    python benchmarks/alphazero_tictactoe.py [--seeds 0,1,2] [--horizon 90] [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# No persistent compilation cache in this process: every run of either trainer compiles afresh
# (evojax_rl turns JAX's cache on when imported, and a warm cache would give ours, not the
# recipe's, programs compiled by earlier runs). The preset's process gets an empty cache.
os.environ["EVOJAX_RL_DISABLE_CACHE"] = "1"
os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import az_recipe  # noqa: E402
from common import emit, cache_env  # noqa: E402

from evojax_rl import mcts  # noqa: E402
from evojax_rl.alphazero import evaluate as judge  # noqa: E402
from evojax_rl.alphazero import game as games  # noqa: E402
from evojax_rl.alphazero import load_agent, perfect, selfplay, trainer  # noqa: E402
from evojax_rl.presets import PRESETS  # noqa: E402

PRESET = "tictactoe-alphazero"
JUDGE_SIMULATIONS = 32
GAME = games.make_game("tic_tac_toe")


def is_perfect(player) -> bool:
    """No line lost against the perfect player, in either seat."""
    return perfect.perfect_lines(GAME, player, batch_bucket=128)["lost"] == 0


def run_ours(seed: int, horizon: float, log) -> list[dict]:
    """Our preset's training, one iteration per chunk, judged after each (judging unclocked)."""
    config = dataclasses.replace(PRESETS[PRESET].config, chunk=1)
    program = trainer.program(config)
    judge_agent = trainer.agent(config, None, JUDGE_SIMULATIONS)
    history, excluded = [], 0.0
    start = time.perf_counter()
    state = program.init(seed)
    while True:
        state, records = program.run_chunk(state, 1)
        jax.block_until_ready(state.params)
        elapsed = time.perf_counter() - start - excluded
        t = time.perf_counter()
        ok = is_perfect(judge_agent.player(state.params))
        excluded += time.perf_counter() - t
        history.append({"iteration": int(state.iteration), "seconds": round(elapsed, 3),
                        "perfect": ok})
        log(f"ours seed {seed} iteration {int(state.iteration)}: {elapsed:.1f} s, "
            f"loss {records[-1]['loss']:.3f}, perfect {ok}")
        if elapsed >= horizon:
            return history


def run_recipe(seed: int, horizon: float, log) -> list[dict]:
    def evaluate(act):
        # The recipe hands a functools.partial over its jitted search; as a Partial its weights
        # are an argument, so judging does not recompile for every iteration.
        return is_perfect(jax.tree_util.Partial(act.func, *act.args))

    recipe = az_recipe.Recipe(max_random_opening=PRESETS[PRESET].config.opening_plies)
    return az_recipe.run_recipe(seed, horizon, evaluate, recipe=recipe, log=log)


def ours_selfplay_positions_per_s(batch: int = 512, simulations: int = 32, repeats: int = 5) -> float:
    """Positions searched per second by our self-play as the trainer compiles it (``mcts.jit``;
    ``batch * 9`` per call, median of ``repeats`` calls after one compiling call; random initial
    parameters), as the recipe's."""
    config = PRESETS[PRESET].config
    module, apply_fn = trainer._network(config, GAME)
    play = mcts.jit(selfplay.make_selfplay(GAME, apply_fn, batch=batch, num_simulations=simulations,
                                           opening_plies=config.opening_plies))
    params = module.init(jax.random.key(0), np.zeros((1, *GAME.observation_shape), np.float32))
    jax.block_until_ready(play(params, jax.random.key(1)))  # compile
    times = []
    for r in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(play(params, jax.random.key(2 + r)))
        times.append(time.perf_counter() - t)
    return batch * GAME.max_plies / float(np.median(times))


def model_seconds(batch: int = 512, simulations: int = 32, repeats: int = 5,
                  compiler_options: dict | None = None) -> float:
    """The part of one self-play call that any implementation pays, whatever its search: the
    game's step and the network (the preset's MLP) on ``batch`` positions, ``(simulations + 1) *
    9`` times in a chain (each step's move depends on the last network output, so nothing is
    hoisted or skipped), compiled with ``compiler_options``. Median seconds of ``repeats`` calls
    after a compiling one. An estimate: inside a search the same work can cost more (caches,
    threads)."""
    config = PRESETS[PRESET].config
    module, apply_fn = trainer._network(config, GAME)
    params = module.init(jax.random.key(0), np.zeros((1, *GAME.observation_shape), np.float32))
    start = games.init(GAME, jax.random.key(0), batch)

    @functools.partial(jax.jit, compiler_options=compiler_options)
    def chain(params, start):
        def body(_, carry):
            state, total = carry
            logits, value = apply_fn(params, state.observation)
            action = jnp.argmax(jnp.where(state.legal_action_mask, logits, -jnp.inf), axis=-1)
            after = games.step(GAME, state, action.astype(jnp.int32))
            over = after.terminated  # a finished game starts again
            state = jax.tree.map(
                lambda a, b: jnp.where(over.reshape(over.shape + (1,) * (a.ndim - 1)), a, b),
                start, after)
            return state, total + jnp.sum(value)

        return jax.lax.fori_loop(0, (simulations + 1) * GAME.max_plies, body, (start, 0.0))[1]

    jax.block_until_ready(chain(params, start))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(chain(params, start))
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def preset_end_to_end(log) -> dict:
    """``evojax-rl train tictactoe-alphazero`` as a whole process, then its agent. The process
    starts with an empty compilation cache, as a user's first run does."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run")
        cli = [sys.executable, "-m", "evojax_rl.cli", "train", PRESET, "--out", out, "--no-progress"]
        t = time.perf_counter()
        proc = subprocess.run(cli, capture_output=True, text=True,
                              env=cache_env(os.path.join(tmp, "cache")))
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"the preset failed: {proc.stderr.strip()}")
        log(proc.stdout.strip().splitlines()[0])
        records = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]
        evals = [r for r in records if "vs_perfect/lost" in r]
        agent = load_agent(out)
        lines = perfect.perfect_lines(GAME, agent.player(), batch_bucket=128)
        vs_random = judge.match(jax.random.key(0), GAME, agent.player(),
                                judge.random_player(GAME), 1000)
    return {
        "process_seconds": round(wall, 1),
        "under_60_s": wall < 60,
        "agent_simulations": agent.num_simulations,
        "lines": lines["lines"],
        "lines_lost": lines["lost"],
        "random_games": 1000,
        "random": vs_random,
        "last_5_evaluations_perfect": len(evals) >= 5 and all(r["vs_perfect/lost"] == 0 for r in evals[-5:]),
        "lost_lines_per_evaluation": [[r["iteration"], r["vs_perfect/lost"]] for r in evals],
    }


def stable(history) -> dict:
    """A run's judgements summed up; ``compile_s``: the first judged time less the median
    iteration (what the first call spent compiling)."""
    first, stable_s = az_recipe.time_to_stable(history)
    times = [h["seconds"] for h in history]
    iteration_s = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    compile_s = max(times[0] - iteration_s, 0.0)
    return {"first_s": first, "stable_s": stable_s, "iterations": len(history),
            "iteration_s": round(iteration_s, 3), "compile_s": round(compile_s, 2),
            "stable_after_compile_s": None if stable_s is None else round(stable_s - compile_s, 2),
            "stable_iteration": next((h["iteration"] for h in history
                                      if h["seconds"] == stable_s), None),
            "history": [[h["seconds"], int(h["perfect"])] for h in history]}


def median(values):
    """The median, a run that never got there (None) counting as longer than any other; None
    when that is where the median falls."""
    m = statistics.median([math.inf if v is None else v for v in values])
    return None if math.isinf(m) else round(m, 2)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds for both trainers")
    ap.add_argument("--horizon", type=float, default=90.0,
                    help="training seconds per run (compilation included, evaluation excluded)")
    ap.add_argument("--quick", action="store_true", help="one seed, a 20 s horizon, no preset run")
    args = ap.parse_args(argv)
    seeds = [0] if args.quick else [int(s) for s in args.seeds.split(",")]
    horizon = 20.0 if args.quick else args.horizon

    def log(line):
        print(line, file=sys.stderr, flush=True)

    # Rounds, interleaved: each compiles afresh, and one compilation's speed can differ from the
    # next by 20% on this machine (seen: ours 0.40-0.49 s per call over three rounds), so a
    # single round's ratio is not the figure. Each round times ours (compiled by mcts.jit, as
    # the trainer compiles it), the recipe as written (jax.jit's defaults) and the recipe given
    # the same compiler options (what is left is the two searches' own code).
    rounds = []
    repeats = 3 if args.quick else 5
    for _ in range(1 if args.quick else 3):
        ours_round = ours_selfplay_positions_per_s(repeats=repeats)
        recipe_round = az_recipe.selfplay_positions_per_s(repeats=repeats)
        same_round = az_recipe.selfplay_positions_per_s(
            repeats=repeats, compiler_options=mcts.COMPILER_OPTIONS)
        rounds.append([round(ours_round), round(recipe_round), round(same_round),
                       round(ours_round / recipe_round, 3), round(ours_round / same_round, 3)])
        print(f"self-play positions/s (batch 512, 32 simulations): ours {ours_round:,.0f}, "
              f"recipe {recipe_round:,.0f} ({ours_round / recipe_round:.2f}x), recipe with our "
              f"compiler options {same_round:,.0f} ({ours_round / same_round:.2f}x)")
    ours_sp, recipe_sp, same_sp, sp_ratio, same_ratio = (
        float(np.median([r[i] for r in rounds])) for i in range(5))
    # Where a self-play call goes: the step and network work both pay (estimated by a chain of
    # the same calls, compiled as each self-play is), and the rest, which is each one's search.
    per_call = GAME.max_plies * 512
    model_ours = model_seconds(repeats=repeats, compiler_options=mcts.COMPILER_OPTIONS)
    model_default = model_seconds(repeats=repeats)
    ours_rest = per_call / ours_sp - model_ours
    recipe_rest = per_call / recipe_sp - model_default
    same_rest = per_call / same_sp - model_ours
    print(f"one self-play call: ours {per_call / ours_sp:.3f} s, recipe {per_call / recipe_sp:.3f} "
          f"s (with our options {per_call / same_sp:.3f} s); of which game steps + network (a "
          f"chain of the same calls) {model_ours:.3f} s with our options, {model_default:.3f} s "
          f"without; the rest (search): ours {ours_rest:.3f} s, recipe {recipe_rest:.3f} s "
          f"({recipe_rest / ours_rest:.2f}x), with our options {same_rest:.3f} s "
          f"({same_rest / ours_rest:.2f}x)")
    runs = {"ours": {}, "recipe": {}}
    for seed in seeds:
        runs["ours"][seed] = stable(run_ours(seed, horizon, log))
        runs["recipe"][seed] = stable(run_recipe(seed, horizon, log))
        for who in ("ours", "recipe"):
            r = runs[who][seed]
            print(f"seed {seed} {who:6s}: first perfect {r['first_s']} s, stable from "
                  f"{r['stable_s']} s (iteration {r['stable_iteration']}; "
                  f"{r['stable_after_compile_s']} s after compiling {r['compile_s']} s; "
                  f"{r['iteration_s']} s per iteration; {r['iterations']} iterations in "
                  f"{horizon:.0f} s)")
    ours_s = median([runs["ours"][s]["stable_s"] for s in seeds])
    recipe_s = median([runs["recipe"][s]["stable_s"] for s in seeds])
    ours_warm = median([runs["ours"][s]["stable_after_compile_s"] for s in seeds])
    recipe_warm = median([runs["recipe"][s]["stable_after_compile_s"] for s in seeds])
    result = {
        "benchmark": "alphazero_tictactoe",
        "seeds": seeds,
        "horizon_s": horizon,
        "judge_simulations": JUDGE_SIMULATIONS,
        "ours_s": ours_s,
        "recipe_s": recipe_s,
        "ours_over_recipe": round(ours_s / recipe_s, 3) if ours_s and recipe_s else None,
        "opening_plies": PRESETS[PRESET].config.opening_plies,
        "ours_after_compile_s": ours_warm,
        "recipe_after_compile_s": recipe_warm,
        "after_compile_ours_over_recipe": (round(ours_warm / recipe_warm, 3)
                                           if ours_warm and recipe_warm else None),
        "ours_compile_s": median([runs["ours"][s]["compile_s"] for s in seeds]),
        "recipe_compile_s": median([runs["recipe"][s]["compile_s"] for s in seeds]),
        "ours_iteration_s": median([runs["ours"][s]["iteration_s"] for s in seeds]),
        "recipe_iteration_s": median([runs["recipe"][s]["iteration_s"] for s in seeds]),
        "first_ours_over_recipe": None,  # set below
        "ours_first_s": median([runs["ours"][s]["first_s"] for s in seeds]),
        "recipe_first_s": median([runs["recipe"][s]["first_s"] for s in seeds]),
        "ours_stable_runs": sum(runs["ours"][s]["stable_s"] is not None for s in seeds),
        "recipe_stable_runs": sum(runs["recipe"][s]["stable_s"] is not None for s in seeds),
        "selfplay_ours_per_s": round(ours_sp),
        "selfplay_recipe_per_s": round(recipe_sp),
        "selfplay_ours_over_recipe": round(sp_ratio, 3),
        "selfplay_rounds": rounds,
        "selfplay_recipe_same_options_per_s": round(same_sp),
        "selfplay_ours_over_recipe_same_options": round(same_ratio, 3),
        "compiler_options": mcts.COMPILER_OPTIONS,
        "selfplay_model_s": round(model_ours, 4),
        "selfplay_model_default_options_s": round(model_default, 4),
        "selfplay_search_ours_over_recipe": round(recipe_rest / ours_rest, 3),
        "selfplay_search_ours_over_recipe_same_options": round(same_rest / ours_rest, 3),
        "runs": runs,
    }
    if result["ours_first_s"] and result["recipe_first_s"]:
        result["first_ours_over_recipe"] = round(result["ours_first_s"] / result["recipe_first_s"], 3)
    print(f"time to stable perfect play (median): ours {ours_s} s, recipe {recipe_s} s "
          f"({result['ours_over_recipe']}x); after compiling: ours {ours_warm} s, recipe "
          f"{recipe_warm} s ({result['after_compile_ours_over_recipe']}x)")
    if not args.quick:
        result["preset"] = preset_end_to_end(log)
        p = result["preset"]
        print(f"preset: {p['process_seconds']} s for the whole process; its agent lost "
              f"{p['lines_lost']} of {p['lines']} lines to the perfect player and "
              f"{p['random']['loss']} of 1000 games to random; last 5 evaluations perfect: "
              f"{p['last_5_evaluations_perfect']}")
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
