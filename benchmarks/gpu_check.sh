#!/usr/bin/env bash
# The headline benchmarks on whatever device JAX has (meant for one GPU), one after the other
# within a time budget (default 470 s, under 8 minutes), then one table.
#
#   benchmarks/gpu_check.sh            # the GPU sizes: rollouts at popsize 256, 4096, 16384,
#                                      # MCTS, CMA-ES, CartPole solve, and last (the largest
#                                      # compile) brax ant at batch 1024 x 1000 steps
#   benchmarks/gpu_check.sh --quick    # small sizes, to check the script anywhere (CPU: ~15 min
#                                      # on 2 cores, most of it compiling brax)
#
# Environment:
#   GPU_CHECK_PYTHON     the Python to run (default: the checkout's .venv/bin/python). It needs
#                        this package's dependencies and the peers (gymnax, brax, evosax, mctx,
#                        cma); for a GPU, a jax with its CUDA plugin.
#   GPU_CHECK_OUT        where each benchmark's log and JSON result and the table go (default:
#                        $OUT/gpu_check when $OUT is set, else /tmp/gpu_check-DATE).
#   GPU_CHECK_BUDGET     seconds for all the benchmarks together (default 470; 1500 with
#                        --quick); a benchmark gets min(its own limit, what is left), and those
#                        that no longer fit are skipped.
#   GPU_CHECK_ALLOW_CPU  1: go on when nvidia-smi sees a GPU but JAX runs on the CPU (by default
#                        that stops the check: the figures would not be GPU figures).
#
# Exit status: 0 when every benchmark printed its JSON result, 1 otherwise, 2 when the check did
# not start. Record the table, with the device it names, in BENCHMARKS.md.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
quick=0
case "${1:-}" in
  --quick) quick=1 ;;
  "") ;;
  *) echo "usage: benchmarks/gpu_check.sh [--quick]" >&2; exit 2 ;;
esac
py="${GPU_CHECK_PYTHON:-$root/.venv/bin/python}"
if [ -n "${OUT:-}" ]; then default_out="$OUT/gpu_check"; else default_out="/tmp/gpu_check-$(date +%Y%m%d-%H%M%S)"; fi
out="${GPU_CHECK_OUT:-$default_out}"
if [ "$quick" = 1 ]; then budget="${GPU_CHECK_BUDGET:-1500}"; else budget="${GPU_CHECK_BUDGET:-470}"; fi
mkdir -p "$out"
export PYTHONUNBUFFERED=1

if [ ! -x "$py" ] && ! command -v "$py" >/dev/null 2>&1; then
  echo "gpu_check: no Python at $py; set GPU_CHECK_PYTHON or run scripts/setup_env.sh." >&2
  exit 2
fi
backend="$("$py" -c 'import jax; d = jax.devices()[0]; print(jax.default_backend(), "|", d.device_kind, "|", jax.device_count(), "|", jax.__version__)' 2>"$out/jax_start.log")" || {
  echo "gpu_check: JAX does not start under $py:" >&2; tail -n 20 "$out/jax_start.log" >&2; exit 2; }
gpus="$(nvidia-smi -L 2>/dev/null || true)"
echo "gpu_check: python $py; JAX backend | device | count | version: $backend"
[ -n "$gpus" ] && echo "gpu_check: nvidia-smi: $gpus"
case "$backend" in
  cpu*)
    if [ -n "$gpus" ] && [ "${GPU_CHECK_ALLOW_CPU:-0}" != 1 ]; then
      echo "gpu_check: a GPU is present but JAX under $py runs on the CPU (a CPU-only jaxlib):" \
           "these would not be GPU figures. Point GPU_CHECK_PYTHON at a Python whose jax has" \
           "its CUDA plugin (and this package's dependencies), or set GPU_CHECK_ALLOW_CPU=1." >&2
      exit 2
    fi
    [ "$quick" = 0 ] && echo "gpu_check: JAX runs on the CPU: the GPU sizes will be slow here;" \
                             "--quick checks the script in reasonable time." ;;
esac

# name | limit (s) | script and arguments (GPU sizes) | --quick arguments
steps_full=(
  "rollout_p256|75|rollout_throughput.py --popsize 256 --repeats 5 --calls 5 --unroll ''"
  "rollout_p4096|75|rollout_throughput.py --popsize 4096 --repeats 5 --calls 3 --unroll ''"
  "rollout_p16384|90|rollout_throughput.py --popsize 16384 --repeats 3 --calls 3 --unroll ''"
  "mcts|90|mcts_throughput.py --repeats 3"
  "cma|60|cma_vs_pycma.py --quick"
  "cartpole_solve|75|cartpole_solve.py --quick"
  "brax_ant|200|brax_throughput.py --batch 1024 --steps 1000 --repeats 3"
)
steps_quick=(
  "rollout_p64|150|rollout_throughput.py --quick --popsize 64"
  "rollout_p256|150|rollout_throughput.py --quick --popsize 256"
  "brax_ant|400|brax_throughput.py --quick"
  "mcts|300|mcts_throughput.py --quick"
  "cma|200|cma_vs_pycma.py --quick"
  "cartpole_solve|200|cartpole_solve.py --quick"
)
if [ "$quick" = 1 ]; then steps=("${steps_quick[@]}"); else steps=("${steps_full[@]}"); fi

start=$(date +%s)
: >"$out/status.txt"
for step in "${steps[@]}"; do
  IFS='|' read -r name limit cmd <<<"$step"
  left=$(( budget - ($(date +%s) - start) ))
  if [ "$left" -lt 20 ]; then
    echo "=== $name: skipped ($left s of the budget left)"
    echo "$name skipped 0" >>"$out/status.txt"
    continue
  fi
  [ "$left" -lt "$limit" ] && limit=$left
  echo "=== $name: python benchmarks/$cmd (limit $limit s)"
  t0=$(date +%s)
  eval "timeout -k 10 $limit \"\$py\" benchmarks/$cmd" 2>&1 | tee "$out/$name.log" \
    | grep -v --line-buffered '^{' | sed -u 's/^/    /'
  rc=${PIPESTATUS[0]}
  wall=$(( $(date +%s) - t0 ))
  last="$(grep -v '^[[:space:]]*$' "$out/$name.log" | tail -n 1)"
  if [ "${last:0:1}" = "{" ]; then
    printf '%s\n' "$last" >"$out/$name.json"
  else
    rm -f "$out/$name.json"
  fi
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && rc=timeout
  echo "=== $name: exit $rc, $wall s"
  echo "$name $rc $wall" >>"$out/status.txt"
done
total=$(( $(date +%s) - start ))

"$py" - "$out" "$total" "$quick" <<'EOF' | tee "$out/table.md"
import json, os, sys

out, total, quick = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
status = [line.split() for line in open(os.path.join(out, "status.txt")) if line.strip()]


def load(name):
    path = os.path.join(out, name + ".json")
    return json.load(open(path)) if os.path.exists(path) else None


def f(x, d=3):
    return "—" if x is None else (f"{x:,.0f}" if abs(x) >= 10 ** d else f"{x:.{d}g}")


def figures(name, r):
    if name.startswith("rollout"):
        fx, rd = r["fixed"], r["random"]
        return (f"P {r['popsize']}: fixed ours/bare **{f(r['fixed_ours_over_bare'])}** "
                f"(>= 0.9), ours {f(fx['ms_per_call']['ours'])} ms = "
                f"{f(fx['steps_per_s']['ours'] / 1e6)} M steps/s, bare "
                f"{f(fx['ms_per_call']['bare'])} ms; random: ours over evosax "
                f"**{f(r['random_ours_over_evosax'])}x** (>= 3) at live-step share "
                f"{f(r['random_live_step_share'])}, ours {f(rd['ms_per_call']['ours'])} ms, "
                f"uncompacted {f(rd['ms_per_call']['ours_uncompacted'])} ms, evosax "
                f"{f(rd['ms_per_call']['evosax'])} ms")
    if name.startswith("brax"):
        c = r["cases"]
        return (f"ant ({r['backend']}) batch {r['batch']} x {r['steps']}: fixed ours/bare "
                f"**{f(r['fixed_ours_over_bare'])}** ({f(c['fixed']['ms_per_call']['ours'])} ms); "
                f"terminating {f(r['terminating_ours_over_bare'])}x bare (share "
                f"{f(c['terminating']['lengths']['live_step_share'])}), x3 "
                f"{f(r['terminating_x3_ours_over_bare'])}x (share "
                f"{f(c['terminating_x3']['lengths']['live_step_share'])}); first call ours "
                f"{f(r['compile_s']['ours'])} s, bare {f(r['compile_s']['bare'])} s")
    if name == "mcts":
        best = max(r["settings"], key=lambda s: s["batch"] * s["simulations"])
        return (f"PUCT ours/mctx **{f(r['puct_ours_over_mctx'])}** (>= 3), Gumbel "
                f"**{f(r['gumbel_ours_over_mctx'])}** (>= 1), worst over settings; at B "
                f"{best['batch']} S {best['simulations']}: PUCT {f(best['puct_ours_sims_per_s'])} "
                f"sims/s")
    if name == "cma":
        return (f"evals ours/pycma **{f(r['evals_ours_over_pycma'])}** (<= 1.1), wall "
                f"**{f(r['wall_ours_over_pycma'])}** (<= 0.1), worst of 4 problems, "
                f"{r['seeds']} seeds")
    if name == "cartpole_solve":
        return (f"compiled ours/evosax **{f(r['ours_over_evosax'])}** (<= 0.33): ours "
                f"{f(r['ours_s'])} s, evosax {f(r['evosax_s'])} s; cold {f(r['ours_cold_s'])} s "
                f"vs {f(r['evosax_cold_s'])} s; {r['seeds']} seed(s)")
    return ""


device = None
rows = []
for name, rc, wall in status:
    r = load(name)
    if r is not None and device is None:
        m = r.get("machine", {})
        device = (f"{m.get('device_count')} x {m.get('device')} (JAX backend {m.get('backend')}, "
                  f"jax {m.get('versions', {}).get('jax')}), host {m.get('cpu')}, "
                  f"{m.get('cpu_count')} cores")
    try:
        text = figures(name, r) if r is not None else "no result"
    except (KeyError, TypeError, ValueError) as e:
        text = f"result without the expected fields ({e!r})"
    rows.append(f"| {name} | {rc} | {wall} | {text} |")
print()
print(f"gpu_check{' --quick' if quick else ''}: {device or 'no result, device unknown'}; "
      f"{total} s in all")
print()
print("| benchmark | exit | wall (s) | figures |")
print("|---|---|---|---|")
print("\n".join(rows))
EOF

ok=1
while read -r name rc wall; do [ "$rc" = 0 ] && [ -f "$out/$name.json" ] || ok=0; done <"$out/status.txt"
echo "gpu_check: logs, results and the table in $out"
[ "$ok" = 1 ] && exit 0 || exit 1
