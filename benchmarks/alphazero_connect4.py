"""The connect4-alphazero preset end to end: time, the curve, and its final agent's strength.

Runs ``evojax-rl train connect4-alphazero`` as a whole process from an empty compilation cache
(target: within 30 minutes on this machine), keeps its curve (the evaluations logged every 20
iterations: win/draw/loss against a uniform random player, pure MCTS with 200 random-rollout
simulations, and the previous parameters), then judges the final agent through ``load_agent``
on more games than the run's evaluations use: ``--games`` against random and ``--mcts-games``
against pure MCTS (200 simulations), half in each seat. Targets: at least 95% wins against random and a score (wins
plus half the draws) above 50% against pure MCTS.

The last line is JSON with ``process_seconds``, ``random`` and ``mcts`` (win/draw/loss counts),
``random_win_rate``, ``mcts_score`` and ``curve``.

    python benchmarks/alphazero_connect4.py [--iterations N] [--games 400] [--mcts-games 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402

from common import emit, cache_env  # noqa: E402

from evojax_rl.alphazero import evaluate as judge  # noqa: E402
from evojax_rl.alphazero import load_agent  # noqa: E402

PRESET = "connect4-alphazero"
CURVE_KEYS = ("vs_random/win", "vs_random/draw", "vs_random/loss", "vs_random/score",
              "vs_mcts/win", "vs_mcts/draw", "vs_mcts/loss", "vs_mcts/score", "vs_previous/score")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=None, help="override the preset's")
    ap.add_argument("--games", type=int, default=400, help="final games against random")
    ap.add_argument("--mcts-games", type=int, default=200, help="final games against pure MCTS")
    ap.add_argument("--quick", action="store_true", help="4 iterations, 20 + 20 final games")
    args = ap.parse_args(argv)
    iterations = 4 if args.quick else args.iterations
    games, mcts_games = (20, 20) if args.quick else (args.games, args.mcts_games)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run")
        cli = [sys.executable, "-m", "evojax_rl.cli", "train", PRESET, "--out", out, "--no-progress"]
        if iterations:
            cli += ["--iterations", str(iterations)]
        t = time.perf_counter()
        proc = subprocess.run(cli, capture_output=True, text=True,
                              env=cache_env(os.path.join(tmp, "cache")))
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"the preset failed: {proc.stderr.strip()}")
        print(proc.stdout.strip().splitlines()[0])
        with open(os.path.join(out, "metrics.jsonl")) as f:
            records = [json.loads(line) for line in f]
        curve = [{"iteration": r["iteration"], **{k: r[k] for k in CURVE_KEYS if k in r}}
                 for r in records if "vs_random/win" in r]
        agent = load_agent(out)
        game = agent.game
        t = time.perf_counter()
        vs_random = judge.match(jax.random.key(10), game, agent.player(), judge.random_player(game),
                                games)
        vs_mcts = judge.match(jax.random.key(11), game, agent.player(),
                              judge.rollout_mcts_player(game, 200), mcts_games)
        judged = time.perf_counter() - t
    random_win_rate = vs_random["win"] / games
    mcts_score = judge.score(vs_mcts)
    print(f"{PRESET}: {wall:.0f} s for the whole process; final agent ({agent.num_simulations} "
          f"simulations): {random_win_rate:.1%} won of {games} against random, score "
          f"{mcts_score:.3f} over {mcts_games} against pure MCTS (200 simulations) "
          f"({vs_mcts['win']} won, {vs_mcts['draw']} drawn, {vs_mcts['loss']} lost)")
    emit({
        "benchmark": "alphazero_connect4",
        "iterations": records[-1]["iteration"],
        "process_seconds": round(wall, 1),
        "within_30_min": wall <= 1800,
        "agent_simulations": agent.num_simulations,
        "random_games": games,
        "random": vs_random,
        "random_win_rate": round(random_win_rate, 4),
        "mcts_simulations": 200,
        "mcts_games": mcts_games,
        "mcts": vs_mcts,
        "mcts_score": round(mcts_score, 4),
        "judging_seconds": round(judged, 1),
        "curve": curve,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
