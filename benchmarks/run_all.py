"""Run every benchmark, one after the other, save their results and write BENCHMARKS.md.

    python benchmarks/run_all.py                 # the full run (about 230 min on 2 cores: the saved walls add up to 230)
    python benchmarks/run_all.py --quick         # small budgets: checks the pipeline (minutes)
    python benchmarks/run_all.py --only rollout_throughput,mcts_throughput
    python benchmarks/run_all.py --report-only   # rewrite BENCHMARKS.md from the saved results

Each benchmark runs as its own subprocess, never two at once (they would share the cores). Its
output is passed through; its last line (one JSON object) is saved, with the command, the date,
whether it was a --quick run, its wall time and exit status, to ``benchmarks/results/NAME.json``.
``--only`` reruns a subset and keeps the other saved results, so BENCHMARKS.md (written by
``report.py`` from everything saved) always covers every benchmark; its header says, per
benchmark, when it was measured and in which mode. A benchmark whose last line is not JSON
keeps its previous result, and run_all exits with status 1.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time

import common
import report

HERE = os.path.dirname(os.path.abspath(__file__))

# name -> (script, full-run arguments, --quick arguments), in the order they run.
BENCHMARKS = {
    "cma_vs_pycma": ("cma_vs_pycma.py", ["--seeds", "10"], ["--quick"]),
    "sampling_throughput": ("sampling_throughput.py", [], ["--quick"]),
    "rollout_throughput": ("rollout_throughput.py", [], ["--quick"]),
    "brax_throughput": ("brax_throughput.py", [], ["--quick"]),
    "cartpole_solve": ("cartpole_solve.py", ["--seeds", "5"], ["--quick"]),
    "first_result": ("first_result.py", ["--repeats", "3", "--before", "8ef843d"], ["--quick"]),
    "mcts_throughput": ("mcts_throughput.py", [], ["--quick"]),
    "preset_returns": ("preset_returns.py", ["--extra-seeds", "1,2"], ["--quick"]),
    "alphazero_tictactoe": ("alphazero_tictactoe.py", [], ["--quick"]),
    "alphazero_connect4": ("alphazero_connect4.py", [], ["--quick"]),
    "scaling": ("scaling.py", [], ["--quick"]),
    "pbt": ("pbt.py", [], ["--quick"]),
    "planning": ("planning.py", [], ["--quick"]),
    "cem_rl": ("cem_rl.py", [], ["--quick"]),
    "tetris_cem": ("tetris_cem.py", [], ["--quick"]),
    "tetris_cem_cap20k": ("tetris_cem.py", ["--cap", "20000"], ["--quick", "--cap", "1000"]),
    "tetris_cem_long": ("tetris_cem.py", ["--cap", "20000", "--generations", "80"],
                        ["--quick", "--generations", "60", "--small-seeds="]),
    "tetris_engine_check": ("tetris_engine_check.py", ["--games", "10"],
                            ["--games", "4", "--height", "10"]),
    "ipop_f7": ("ipop_vs_pycma.py", ["--runs", "1500"], ["--runs", "30"]),
    "ipop_f8": ("ipop_vs_pycma.py", ["--problems", "8:5,8:10", "--runs", "300"],
                ["--problems", "8:5,8:10", "--runs", "10"]),
    "ipop_f15_f20": ("ipop_vs_pycma.py", ["--problems", "20:5,15:10", "--runs", "150"],
                     ["--problems", "20:5,15:10", "--runs", "4"]),
    "ipop_all": ("ipop_vs_pycma.py", ["--problems", "1-24:5,1-24:10", "--runs", "30"],
                 ["--problems", "1-24:2", "--runs", "2"]),
    "bbob": ("bbob.py", ["--null", "--sweep", "--out", "{results}/bbob"],
             ["--quick", "--sweep", "--out", "{results}/bbob"]),
}


def last_json(lines: list[str]) -> dict | None:
    """The last line that parses as a JSON object, if it is the last non-empty line."""
    for line in reversed(lines):
        if line.strip():
            try:
                obj = json.loads(line)
            except ValueError:
                return None
            return obj if isinstance(obj, dict) else None
    return None


def run_one(name: str, quick: bool, results: str = report.RESULTS) -> dict | None:
    """Run one benchmark; its record, or None when it printed no JSON last line. ``{results}``
    in its arguments becomes the results directory (relative to the checkout when inside it),
    so that files a script writes beside its JSON (bbob's COCO data and ECDF) follow
    ``--results`` instead of overwriting the saved ones."""
    script, full, quick_args = BENCHMARKS[name]
    where = common.checkout_path(results)
    args = [a.replace("{results}", where) for a in (quick_args if quick else full)]
    cmd = [sys.executable, os.path.join(HERE, script), *args]
    shown = " ".join(["python", f"benchmarks/{script}", *args])
    print(f"=== {name}: {shown}", flush=True)
    date = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=common.CHECKOUT)
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if not line.startswith("{"):  # the JSON line is long; it is saved, not shown
            print("    " + line, end="", flush=True)
    rc = proc.wait()
    wall = time.perf_counter() - t
    result = last_json(lines)
    print(f"=== {name}: exit status {rc}, {wall:.1f} s"
          + ("" if result is not None else ", no JSON result (previous result kept)"), flush=True)
    if result is None:
        return None
    return {"name": name, "command": shown, "quick": quick, "date": date,
            "wall_s": round(wall, 1), "returncode": rc, "result": result}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small budgets for every benchmark")
    ap.add_argument("--only", default="",
                    help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    ap.add_argument("--report-only", action="store_true", help="only rewrite BENCHMARKS.md")
    ap.add_argument("--results", default=report.RESULTS, help="where results are saved")
    ap.add_argument("--out", default=report.OUT, help="the report to write")
    args = ap.parse_args()
    names = common.parse_only(ap, args.only, BENCHMARKS, "benchmark")

    failed = []
    walls = {}
    if not args.report_only:
        os.makedirs(args.results, exist_ok=True)
        for name in names:
            rec = run_one(name, args.quick, args.results)
            if rec is None:
                failed.append(name)
                continue
            walls[name] = rec["wall_s"]
            with open(os.path.join(args.results, f"{name}.json"), "w") as f:
                json.dump(rec, f, indent=1)
                f.write("\n")
        print("wall time per benchmark (s):", json.dumps(walls),
              f"total {sum(walls.values()):.1f}", flush=True)

    results = report.load(args.results)
    if results:
        report.write(results, args.out)
        print(f"wrote {os.path.relpath(args.out)} from {len(results)} saved result(s)")
    if failed:
        print(f"no result from: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
