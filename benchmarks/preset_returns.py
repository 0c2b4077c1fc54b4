"""What each preset reaches with `evojax-rl train PRESET`, checked against the preset's floor.

    python benchmarks/preset_returns.py [--seed 0] [--extra-seeds 1,2] [--only NAME,...] [--quick]

Each preset runs as ``evojax-rl train PRESET --no-progress`` in its own process, one after the
other, into a temporary run directory. Reported per preset: the mean policy's return on fresh
episodes at the end of the run (``reached``), the preset's ``floor`` (``Preset.floor``: a
conservative lower bound for seed 0 that should hold on any machine) and whether ``reached >=
floor``, the generations run, the process's wall seconds (start-up, imports and compilation
included) and the trainer's own ``wall_seconds``, and the published figure where there is one.

``--extra-seeds`` also runs each preset with other seeds and reports what they reached
(``other_seeds``), as a measure of how far a run can land from seed 0's: floating-point
differences between machines move a run about as much as another seed does. The floor is
checked for ``--seed`` only.

``--quick`` runs only the presets that take under ~20 s on 2 CPU cores (cartpole, acrobot,
mountaincar) in full; the others are listed under ``skipped``. Floors are checked only for
full runs, never for shortened ones.

Last line: one JSON object with ``presets`` (the rows), ``skipped`` and ``all_pass``. The exit
status is 1 when a preset ended below its floor.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from common import emit, parse_only
from evojax_rl.presets import PRESETS

QUICK = ("cartpole-openes", "acrobot-openes", "mountaincarcontinuous-ga")
CLI = "import sys; from evojax_rl.cli import main; sys.exit(main())"


def run_preset(name: str, seed: int, workdir: str) -> dict:
    """``evojax-rl train NAME`` in a fresh process; its result.json plus the process's wall."""
    out = os.path.join(workdir, name)
    cmd = [sys.executable, "-c", CLI, "train", name, "--seed", str(seed), "--no-progress",
           "--out", out]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_process_s"] = round(wall, 1)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--extra-seeds", default="", help="comma-separated seeds also run (no check)")
    ap.add_argument("--only", default="", help="comma-separated preset names")
    ap.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    args = ap.parse_args()
    es_presets = {n: p for n, p in PRESETS.items() if p.config.kind == "es"}  # AlphaZero: own scripts
    names = parse_only(ap, args.only, es_presets, "preset")
    chosen = [n for n in names if not args.quick or n in QUICK]
    rows = {}
    with tempfile.TemporaryDirectory() as workdir:
        for name in chosen:
            preset = PRESETS[name]
            r = run_preset(name, args.seed, workdir)
            rows[name] = {
                "env": preset.config.env,
                "reached": r["final_mean_return"],
                "floor": preset.floor,
                "pass": r["final_mean_return"] >= preset.floor,
                "published": preset.published,
                "generations": r["generations"],
                "max_generations": preset.config.generations,
                "target_reached": r["target_reached"],
                "eval_episodes": r["eval_episodes"],
                "wall_process_s": r["wall_process_s"],
                "wall_train_s": r["wall_seconds"],
                "other_seeds": {},
            }
            row = rows[name]
            print(f"{name:26s} reached {row['reached']:9.2f}  floor {row['floor']:8.1f}  "
                  f"{'pass' if row['pass'] else 'FAIL'}  {row['generations']:5d} generations  "
                  f"{row['wall_process_s']:6.1f} s", flush=True)
            for seed in [int(x) for x in args.extra_seeds.split(",") if x]:
                other = run_preset(name, seed, os.path.join(workdir, f"seed{seed}"))
                row["other_seeds"][seed] = other["final_mean_return"]
                print(f"{name:26s} seed {seed}: reached {other['final_mean_return']:9.2f} "
                      f"({other['wall_process_s']:.1f} s)", flush=True)
    skipped = [n for n in names if n not in chosen]
    all_pass = all(r["pass"] for r in rows.values())
    emit({"seed": args.seed, "presets": rows, "skipped": skipped, "all_pass": all_pass})
    return 0 if all_pass else 1


if __name__ == "__main__":
    sys.exit(main())
