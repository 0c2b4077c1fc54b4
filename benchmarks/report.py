"""Write BENCHMARKS.md from the saved benchmark results (``benchmarks/results/*.json``).

    python benchmarks/report.py [--results benchmarks/results] [--out BENCHMARKS.md]

Every number in the file comes from those results: the prose here explains each table and
states the targets (from the issues), but measures nothing. ``run_all.py`` calls ``render``
after each run; running this file alone rebuilds BENCHMARKS.md from what was saved.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
OUT = os.path.join(HERE, "..", "BENCHMARKS.md")

# Targets set by the issues (requirements, not measurements): (key, comparison, bound).
TARGETS = {
    "evals_ours_over_pycma": ("<=", 1.1),
    "wall_ours_over_pycma": ("<=", 0.1),
    "fixed_ours_over_bare": (">=", 0.9),
    "random_ours_over_evosax": (">=", 3.0),
    "cartpole_ours_over_evosax": ("<=", 0.33),
    "puct_ours_over_mctx": (">=", 3.0),
    "gumbel_ours_over_mctx": (">=", 1.0),
    "ours_over_recipe": ("<=", 0.5),
    "selfplay_ours_over_recipe": (">=", 1.5),
    "tictactoe_process_seconds": ("<", 60),
    "connect4_process_seconds": ("<=", 1800),
    "random_win_rate": (">=", 0.95),
    "mcts_score": (">", 0.5),
    "warm_over_pycma": ("<=", 1.0),
    "cold_over_pycma": ("<=", 2.0),
    "equal_lambda_s": ("<=", 0.5),
    "pbt_over_fixed_median": (">", 0.0),
    "pendulum_default_return": (">=", -200),
}


def load(results_dir: str = RESULTS) -> dict:
    """``{name: record}`` for every ``NAME.json`` in ``results_dir``."""
    out = {}
    if os.path.isdir(results_dir):
        for f in sorted(os.listdir(results_dir)):
            if f.endswith(".json"):
                with open(os.path.join(results_dir, f)) as fh:
                    out[f[:-5]] = json.load(fh)
    return out


def g(x, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, thousands separated; '—' for None."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) >= 10**digits):
        return f"{int(x):,}"
    if x != 0 and abs(x) < 1e-3:
        mant, exp = f"{x:.{digits - 1}e}".split("e")
        return f"{mant.rstrip('0').rstrip('.')}e{int(exp)}"
    s = f"{x:.{digits}g}"
    if "e" in s:
        return f"{x:,.0f}"
    return s


def target(key: str, value) -> str:
    op, bound = TARGETS[key]
    if value is None:
        return f"target {op} {bound:g}: no figure"
    ok = {"<=": value <= bound, ">=": value >= bound, "<": value < bound, ">": value > bound}[op]
    return f"target {op} {bound:g}: {'met' if ok else '**not met**'}"


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_line(m: dict) -> str:
    v = m.get("versions", {})
    mem = f", {m['memory_gib']:g} GiB memory" if m.get("memory_gib") else ""
    return (f"{m.get('cpu')}, {m.get('cpu_count')} cores{mem} ({m.get('platform')}); JAX backend "
            f"{m.get('backend')} ({m.get('device_count')} x {m.get('device')}). Python "
            f"{v.get('python')}, jax {v.get('jax')}, jaxlib {v.get('jaxlib')}, "
            f"flax {v.get('flax')}, "
            f"optax {v.get('optax')}, gymnax {v.get('gymnax')}, brax {v.get('brax')}; peers: "
            f"pycma {v.get('cma')}, evosax {v.get('evosax')}, mctx {v.get('mctx')}.")


def same_machine(a: dict, b: dict) -> bool:
    keys = ("cpu", "cpu_count", "memory_gib", "backend", "device", "versions")
    return all(a.get(k) == b.get(k) for k in keys)


def provenance(rec: dict, machine: dict) -> str:
    """One line under each section's heading: the command, when, how long, on what."""
    r = rec["result"]
    where = "" if same_machine(r.get("machine", {}), machine) else (
        f" On another machine than the header's: {machine_line(r.get('machine', {}))}")
    quick = " (a --quick run: small budgets)" if rec.get("quick") else ""
    when = rec["date"][:16].replace("T", " ")
    return (f"    {rec['command']}\n\nMeasured {when}{quick}, {g(rec['wall_s'])} s of wall "
            f"time.{where}")


def cma(rec: dict) -> str:
    r = rec["result"]
    probs = r["problems"]
    impls = [k for k in ("ours", "pycma", "evosax") if k in next(iter(probs.values()))]
    seeds = r["seeds"]
    t1 = table(
        ["problem", "successes " + " / ".join(impls), "common seeds"]
        + [f"evals {k}" for k in impls] + ["evals ours/pycma"],
        [[name, " / ".join(str(p[k]["successes"]) for k in impls) + f" of {seeds}",
          p["common_seeds"]] + [g(p[k]["median_evals"], 5) for k in impls]
         + [g(p["evals_ours_over_pycma"])] for name, p in probs.items()])
    t2 = table(
        ["problem"] + [f"wall {k} (s)" for k in impls] + ["wall ours/pycma"]
        + [f"cold {k} (s)" for k in impls] + ["cold ours / pycma wall"],
        [[name] + [g(p[k]["median_wall_s"]) for k in impls] + [g(p["wall_ours_over_pycma"])]
         + [g(p[k]["cold_s"]) for k in impls] + [g(p["cold_ours_over_pycma"])]
         for name, p in probs.items()])
    failed = [f"{k} on {name} at f = {', '.join(g(f) for f in p[k]['failed_f'])}"
              for name, p in probs.items() for k in impls if p[k]["failed_f"]]
    failed = (" Failed runs stopped at: " + "; ".join(failed) + ".") if failed else ""
    t3 = table(
        ["problem", "D"] + [f"{k} (us / generation)" for k in impls] + ["eigh of C (us)"],
        [[name, p["dimension"]] + [g(p[k]["us_per_generation"]) for k in impls]
         + [g(p["eigh_us"])] for name, p in probs.items()])
    return f"""\
Each problem is minimized to f <= {g(r['target'])} from the same x0 (ones for the ellipsoid,
zeros for Rosenbrock) with sigma {g(r['sigma'])} and default population sizes by each
implementation on the same {seeds} seeds, everything in float64; pycma runs one generation per
Python call in NumPy, evosax's `CMA_ES` one generation per Python call with its jitted
`ask`/`tell`, ours the whole run as one compiled loop. The implementations run interleaved,
seed by seed, so that all meet the same machine conditions.

Evaluations and wall times are medians over the *common* seeds: those on which every
implementation reached the target, so that all medians describe the same runs.{failed}

{t1}

Wall: median seconds per run after compilation (each implementation's cold run comes first).
Cold: one run (another seed) right after JAX's caches were cleared, so compilation is included
(process start-up and imports are not); pycma compiles nothing, its cold run is a plain run.
The last column sets our cold run against pycma's median run: what a user who runs one
optimization in a fresh process sees.

{t2}

Where the time goes: wall over generations on the common seeds, and one `jnp.linalg.eigh` of
a D x D float64 matrix inside a compiled loop (our CMA-ES decomposes C in `ask`; pycma's
lazy-update rule makes that due every generation at these dimensions).

{t3}

Worst over the problems: `evals_ours_over_pycma` **{g(r['evals_ours_over_pycma'])}**
({target('evals_ours_over_pycma', r['evals_ours_over_pycma'])}), `wall_ours_over_pycma`
**{g(r['wall_ours_over_pycma'])}** ({target('wall_ours_over_pycma', r['wall_ours_over_pycma'])};
compiled), and with compilation: `cold_ours_over_pycma` **{g(r['cold_ours_over_pycma'])}**. The
compiled ratio is the cost of a run once the loop is compiled (repeated runs, sweeps, restarts);
for a single run in a fresh process the compiler dominates.
"""


def sampling(rec: dict) -> str:
    r = rec["result"]
    rows = [[name, g(s["jax_us"]), g(s["ours_us"]), g(s["ours_over_jax"])]
            for name, s in r["shapes"].items()]
    return f"""\
`strategies.sampling.normal` (every strategy samples through it) against `jax.random.normal`,
which gives the same values: one jitted call per draw, summed on device, {r['rounds']} interleaved
rounds, median per call. On the CPU JAX runs Threefry as a rolled loop; ours is unrolled and
fused.

{table(['shape', 'jax.random.normal (us)', 'sampling.normal (us)', 'ours / jax'], rows)}
"""


def load_text(r: dict) -> str:
    """'; load average ... before, ... after' where the result has it."""
    load = r.get("load_average")
    if not load:
        return ""
    return (f"; load average (1 min) {g(load['before'][0])} before the timed rounds, "
            f"{g(load['after'][0])} after")


def obs_norm_text(r: dict) -> str:
    """How the saved result ran ours: a flag in older results, a sentence in newer ones."""
    value = r["obs_norm"]
    if isinstance(value, bool):
        return "on for ours" if value else "off for ours"
    return value


def rollout(rec: dict) -> str:
    r = rec["result"]
    if "fixed" not in r:  # saved by the script's previous version (one fixed-length case)
        return ("This saved result comes from a previous version of the script (the fixed-length "
                "case only, before compaction); rerun `python benchmarks/run_all.py --only "
                "rollout_throughput`.\n")
    f, rd = r["fixed"], r["random"]
    label = {
        "ours": "ours (`make_rollout`, compaction on)",
        "ours_uncompacted": "ours, `compact=False` (vmapped `while_loop`)",
        "ours_obs_norm": "ours with observation normalization on (the default; no peer does it)",
        "bare": "bare vmapped scan of gymnax `step_env` (like for like)",
        "bare_with_autoreset": "bare scan of gymnax `step` (computes a reset every step)",
        "evosax": "evosax `GymnaxProblem.eval`",
        "evosax_fused": "evosax `GymnaxProblem.eval` inside one `jax.jit` returning the fitness",
    }
    ms = f["ms_per_call"]
    frows = [[label[k], g(ms[k]), f"{g(f['ms_range'][k][0])}-{g(f['ms_range'][k][1])}",
              g(f["steps_per_s"][k] / 1e6)] for k in label if k in ms]
    ln, share = rd["lengths"], r["random_live_step_share"]
    rms = rd["ms_per_call"]
    rlabel = dict(label, bare="bare 500-step scan of every lane (the cost of no early exit)")
    rrows = [[rlabel[k], g(rms[k]), f"{g(rd['ms_range'][k][0])}-{g(rd['ms_range'][k][1])}",
              g(rd["live_steps_per_s"][k] / 1e6), g(rms["evosax"] / rms[k])]
             for k in rlabel if k in rms]
    unroll = f.get("unroll_over_bare") or {}
    extra = ""
    if unroll:
        urows = [[k, g(ms[f"bare_unroll{k}"]), g(v)] for k, v in unroll.items()]
        extra = f"""
Is the loop the cost? The `bare` scan with `lax.scan(unroll=k)` (fixed case):

{table(['unroll k', 'ms / call', 'speed over unroll 1'], urows)}
"""
    ev = rd["evosax_lengths"]
    return f"""\
Population {r['popsize']} of 4-32-32-2 tanh MLPs (argmax head) on CartPole-v1, {r['episode_steps']}
steps at most; observation normalization {obs_norm_text(r)};
{r['repeats']} interleaved rounds x {r['calls']} calls of every runner of both cases, medians
(and the range over the rounds){load_text(r)}.

**Fixed-length episodes (like for like).** A balancing controller embedded in the MLP, so every
episode runs the full {r['episode_steps']} steps and every runner does {g(f['steps_per_call'])}
environment steps per call.

{table(['', 'ms / call', 'range', 'M env steps / s'], frows)}

Headline: `fixed_ours_over_bare` **{g(r['fixed_ours_over_bare'])}**
({target('fixed_ours_over_bare', r['fixed_ours_over_bare'])}): ours against a bare scan of the
environment's own `step_env` (no automatic reset, no masking, no early exit, no observation
statistics, so ours runs with normalization off too); `compact=False`
{g(f['uncompacted_over_bare'])}; with our observation normalization on, the default, work the
bare scan does not do: {g(f.get('obs_norm_over_bare', float('nan')))}. Against evosax, fixed length:
{g(f['ours_over_evosax'])}x. Favourable to us, for reference only: against the bare scan of
gymnax's public `step`, {g(f['ours_over_bare_with_autoreset'])}x, since that `step` computes a
reset transition at every step, work that our episodes (which end at done) never need.

**A random population.** {r['popsize']} random members ({rd['population']}), with common random numbers as evosax's `GymnaxProblem.eval` has them
(every member starts from the same state), so both sides run the same episodes: median length
{g(ln['median'])}, mean {g(ln['mean'])}, {g(ln['at_limit_per_call'])} of {r['popsize']} members at
{r['episode_steps']} per call; {g(ln['live_steps_per_call'])} live steps of
{g(f['steps_per_call'])} lane-steps, a live-step share of **{g(share)}** (evosax's episodes:
mean {g(ev['mean'])}, {g(ev['at_limit_per_call'])} at {r['episode_steps']}; the same return for
{rd['same_return_as_evosax']:.1%} of the members, the rest differ by argmax flips from float
rounding in the MLP). Speed over evosax: its time over the runner's.

{table(['', 'ms / call', 'range', 'M live steps / s', 'speed over evosax'], rrows)}

Headline: `random_ours_over_evosax` **{g(r['random_ours_over_evosax'])}**
({target('random_ours_over_evosax', r['random_ours_over_evosax'])}) at a live-step share of
{g(share)}; against evosax fused in one jit {g(rd['ours_over_evosax_fused'])}x. Compaction
against our own uncompacted engine: {g(rd['ours_over_uncompacted'])}x. An estimate of what is
left: the live steps at the full-width bare scan's cost per lane-step would take
{g(share * rms['bare'])} ms, {g(rd['ours_over_ideal'])} of ours.
{extra}"""


def brax(rec: dict) -> str:
    r = rec["result"]
    label = {"ours": "ours (compaction on)", "ours_uncompacted": "ours, `compact=False`",
             "bare": "bare `lax.scan` of brax `env.step`"}
    rows = []
    for c, v in r["cases"].items():
        ln = v["lengths"]
        for k, name in label.items():
            rows.append([c if k == "ours" else "",
                         (f"{g(ln['median'])} / {g(ln['mean'])} / {ln['at_limit']}"
                          if k == "ours" else ""),
                         g(ln["live_step_share"]) if k == "ours" else "", name,
                         g(v["ms_per_call"][k]),
                         f"{g(v['ms_range'][k][0])}-{g(v['ms_range'][k][1])}",
                         g(v["live_steps_per_s"][k]), g(v["ms_per_call"]["bare"] / v["ms_per_call"][k])])
    comp = r["compile_s"]
    return f"""\
`brax/ant` ({r['backend']} pipeline) with brax's health termination on (an episode ends once
the torso leaves z in [0.2, 1.0]), a batch of {r['batch']} members of the 27-32-32-8 tanh MLP,
one episode each, {r['steps']} steps at most, {r['repeats']} interleaved rounds, medians (and the
range over the rounds){load_text(r)}.
Fixed: `policy.init` draws scaled by 0.01 (near-zero actions: the ant stands, every episode runs
to the limit); terminating: the draws as they are; terminating_x3: the draws times 3. The bare
runner steps every lane to the limit (no masking, no early exit, no observation statistics), so
its cost does not depend on when episodes end. Lengths: median / mean / members at the limit.

{table(['case', 'lengths', 'live-step share', 'runner', 'ms / call', 'range',
        'live steps / s', 'speed over bare'], rows)}

Like for like, fixed length: `fixed_ours_over_bare` **{g(r['fixed_ours_over_bare'])}**.
Terminating (random policies): {g(r['terminating_ours_over_bare'])}x the bare scan;
terminating_x3: {g(r['terminating_x3_ours_over_bare'])}x. Those two are not per-step costs: the
bare scan keeps stepping episodes that have ended, so they measure what early exit and compaction
save at each live-step share. Compaction gave the uncompacted engine's returns in every case:
{g(all(v['compacted_equals_uncompacted'] for v in r['cases'].values()))}.

First call (compiling, without a persistent cache) on this machine: ours {g(comp['ours'])} s,
`compact=False` {g(comp['ours_uncompacted'])} s, bare {g(comp['bare'])} s: the compacting engine
compiles brax's step once per batch width it steps at.
"""


def cartpole(rec: dict) -> str:
    r = rec["result"]
    per_gen = {}
    for k in ("ours", "evosax", "evosax_fused"):
        gens, secs = r["generations"][k], r["seconds"][k]
        per_gen[k] = sum(secs) / sum(gens) * 1e3
    gens = {k: statistics.median(v) for k, v in r["generations"].items()}
    rows = [
        ["compiled (search only), s", g(r["ours_s"]), g(r["evosax_s"]), g(r["evosax_fused_s"]),
         f"**{g(r['ours_over_evosax'])}**"],
        ["cold (compilation included), s", g(r["ours_cold_s"]), g(r["evosax_cold_s"]),
         g(r["evosax_fused_cold_s"]), f"**{g(r['ours_over_evosax_cold'])}**"],
        ["ms per generation (compiled)", g(per_gen["ours"]), g(per_gen["evosax"]),
         g(per_gen["evosax_fused"]), g(per_gen["ours"] / per_gen["evosax"])],
        ["median generations to solve", g(gens["ours"]), g(gens["evosax"]),
         g(gens["evosax_fused"]), ""],
    ]
    return f"""\
Both sides: popsize {r['popsize']}, the same MLP and initial parameters, Adam
{g(r['learning_rate'])}, sigma {g(r['sigma'])}, mirrored sampling, centered ranks, observation
normalization; until the population mean return >= {g(r['target'])}. Ours checks once per
compiled chunk of {r['chunk']} generations. Medians over {r['seeds']} seed(s).

{table(['', 'ours', 'evosax (README loop)', 'evosax (one fused jit)', 'ours / evosax'], rows)}

`ours_over_evosax` (compiled) {target('cartpole_ours_over_evosax', r['ours_over_evosax'])}.
CartPole is solved in a few generations by both, so the cold figure is mostly the XLA compiler,
and the compiled one is a handful of generations. Milliseconds per generation: all seeds'
seconds over all seeds' generations to the target; ours' seconds include the rest of the chunk
in which it reached the target, so its figure is an upper bound.
"""


def presets(rec: dict) -> str:
    r = rec["result"]
    rows = []
    for name, p in r["presets"].items():
        gens = f"{p['generations']} of {p['max_generations']}"
        if p["target_reached"]:
            gens += " (stopped at target)"
        others = ", ".join(f"{g(v, 4)}" + ("" if v >= p["floor"] else " (below)")
                           for v in p.get("other_seeds", {}).values())
        rows.append([f"`{name}`", p["env"], g(p["reached"], 4), f">= {g(p['floor'])}",
                     "pass" if p["pass"] else "**FAIL**", others or "—", g(p["published"]),
                     gens, g(p["wall_process_s"]), g(p["wall_train_s"])])
    skipped = ""
    if r["skipped"]:
        skipped = ("\nNot run here: " + ", ".join(f"`{n}`" for n in r["skipped"])
                   + " (run_all.py --quick leaves out the longer presets).\n")
    seeds = sorted({s for p in r["presets"].values() for s in p.get("other_seeds", {})})
    other = ""
    if seeds:
        other = (f" Other seeds: the same preset with seeds {', '.join(seeds)}, reported to"
                 " show how far a run can land from seed 0's (a machine's floating-point"
                 " differences move a run about as much as another seed does); not checked.")
    verdict = "every preset run is at or above its floor" if r["all_pass"] else \
        "**a preset ended below its floor**"
    return f"""\
Each preset as `evojax-rl train PRESET --seed {r['seed']} --no-progress`, one process each, one
after the other. Reached: the mean policy's return on fresh episodes at the end of the run.
Floor: `Preset.floor`, the bound `evojax-rl presets` states (`return >= X with seed 0`), set
well below what was measured since floating-point results differ between CPUs. Published:
gymnax's ES checkpoints. Wall: the whole process (start-up, imports, compilation) and the
trainer's own `wall_seconds` (seed {r['seed']}'s run).{other}

{table(['preset', 'env', 'reached', 'floor', 'check', 'other seeds', 'published',
        'generations', 'wall process (s)', 'wall train (s)'], rows)}
{skipped}
Result: {verdict}.
"""


def mcts(rec: dict) -> str:
    r = rec["result"]
    rows = []
    for s in r["settings"]:
        same = [s.get("puct_same_visits"), s.get("gumbel_same_visits")]
        rows.append([s["batch"], s["simulations"], "uniform" if s["uniform_prior"] else "MLP",
                     g(s["puct_ours_sims_per_s"]), g(s["puct_mctx_sims_per_s"]),
                     f"{g(s['puct_ratio'])}x", g(s["gumbel_ours_sims_per_s"]),
                     g(s["gumbel_mctx_sims_per_s"]), f"{g(s['gumbel_ratio'])}x",
                     "not checked" if None in same else ("yes" if all(same) else "**no**")])
    nodes = sorted({m["num_nodes"] for m in r["memory"]})
    actions = sorted({m["num_actions"] for m in r["memory"]})
    mem = {(m["num_nodes"], m["num_actions"]): m for m in r["memory"]}
    a0, a1, n0, n1 = actions[0], actions[1], nodes[0], nodes[1]
    b = {k: m["bytes_without_embedding"] for k, m in mem.items()}
    slope = (b[n1, a0] - b[n0, a0]) / (n1 - n0)  # bytes per node at A = a0
    per_pair = (b[n0, a1] - b[n0, a0]) / (n0 * (a1 - a0))  # bytes per (node, action)
    per_node, fixed = slope - per_pair * a0, b[n0, a0] - slope * n0
    mrows = [[n, g(mem[n, a0]["bytes_without_embedding"]),
              g(mem[n, a0]["bytes_with_embedding_64xf32"])]
             + [g(mem[n, a]["bytes_without_embedding"]) for a in actions[1:]] for n in nodes]
    uniform = ""
    if "puct_uniform_ours_over_mctx" in r:
        uniform = f"""
With uniform priors (all prior logits zero: an exact tie at every new node) PUCT is
{g(r['puct_uniform_ours_over_mctx'])}x mctx and Gumbel {g(r['gumbel_uniform_ours_over_mctx'])}x:
exact equality with mctx needs its keyed tie-breaking, and we pay for the keys in a second
descent only when a near-tie was seen, which here is every time.
"""
    return f"""\
Model: random MLP, embedding {r['embedding']}, one tanh layer of {r['embedding']} units over
[embedding, one_hot(action)], {r['actions']} actions, discount 0.99 (prior: the MLP's logits, or
uniform); both policies with their
default settings; {r['repeats']} interleaved repeats, medians. Same visits: our root visit
counts equal mctx's with the noise off (`dirichlet_fraction=0` / `gumbel_scale=0`).

{table(['B', 'S', 'prior', 'PUCT ours (sims/s)', 'PUCT mctx', 'ratio', 'Gumbel ours',
        'Gumbel mctx', 'ratio', 'same visits'], rows)}

Worst over the MLP-prior settings: `puct_ours_over_mctx` **{g(r['puct_ours_over_mctx'])}**
({target('puct_ours_over_mctx', r['puct_ours_over_mctx'])}), `gumbel_ours_over_mctx`
**{g(r['gumbel_ours_over_mctx'])}** ({target('gumbel_ours_over_mctx', r['gumbel_ours_over_mctx'])}).
{uniform}
Tree memory per tree (B = 1), float32, from `evojax_rl.mcts.tree_nbytes` (bytes): from these
rows, `N * ({g(per_node)} + {g(per_pair)} A) + {g(fixed)}` bytes plus `N` embeddings; of the
{g(per_pair)} B per (node, action), one is the invalid-action mask, which mctx's tree does not
hold.

{table(['N', f'A = {a0}', f'A = {a0}, 64 x f32 embedding'] + [f'A = {a}' for a in actions[1:]],
       mrows)}
"""


def rounds_text(r: dict) -> str:
    """The self-play rounds' ratios, where the run had several."""
    rounds = r.get("selfplay_rounds") or []
    if len(rounds) < 2:
        return ""
    ratio = 3 if len(rounds[0]) > 3 else 2  # [ours, recipe, (same options,) ratio, ...]
    return (f"; the median of {len(rounds)} interleaved rounds, each compiled afresh, whose ratios "
            f"were {', '.join(g(x[ratio]) for x in rounds)}")


def alphazero_tictactoe(rec: dict) -> str:
    r = rec["result"]
    rows = []
    for who in ("ours", "recipe"):
        for seed, run in r["runs"][who].items():
            rows.append([who, seed, g(run["first_s"]), g(run["stable_s"]),
                         g(run.get("stable_iteration")), g(run.get("compile_s")),
                         g(run.get("stable_after_compile_s")), g(run.get("iteration_s")),
                         run["iterations"]])
    text = f"""\
Like for like: our `tictactoe-alphazero` training and a pgx + mctx + flax + optax recipe
(`benchmarks/az_recipe.py`: the same game, Gumbel MuZero with 32 simulations, MLP 128x2, 512
self-play games per iteration, the preset's 0-{r.get('opening_plies', 2)} random opening plies;
its own replay of 4 iterations and 200 Adam steps of 512 valid positions per iteration at
1e-3, the preset's learner settings since 2026-11-29) each train for
{g(r['horizon_s'])} s (compilation included, judging excluded) and are judged after every
iteration by the same test: the greedy {r['judge_simulations']}-simulation search of each loses
no line against the perfect player over every optimal reply in both seats. Stable: the training
time from which every later judgement (to the horizon) is perfect. Compilation: the first judged
time less the run's median iteration; no persistent compilation cache (each run compiles
afresh). Seeds {', '.join(map(str, r['seeds']))}.

{table(['trainer', 'seed', 'first perfect (s)', 'stable from (s)', 'stable from (iteration)',
        'compiling (s)', 'stable, after compiling (s)', 's per iteration', 'iterations'], rows)}

Runs that reached stable perfect play within the horizon: ours {r['ours_stable_runs']} of
{len(r['seeds'])}, the recipe {r['recipe_stable_runs']} of {len(r['seeds'])}. Median time to
stable perfect play (a run that never got there counts as longer than any other; "—": the median
run never got there): ours **{g(r['ours_s'])} s**, the recipe **{g(r['recipe_s'])} s**:
`ours_over_recipe` **{g(r['ours_over_recipe'])}** ({target('ours_over_recipe',
r['ours_over_recipe'])}); counted from the end of compiling: ours
{g(r.get('ours_after_compile_s'))} s, the recipe {g(r.get('recipe_after_compile_s'))} s
({g(r.get('after_compile_ours_over_recipe'))}x). Median time to the first perfect judgement: ours
**{g(r['ours_first_s'])} s**, the recipe **{g(r['recipe_first_s'])} s**
({g(r['first_ours_over_recipe'])}x{'' if r['first_ours_over_recipe'] is None else
('; ours is slower' if r['first_ours_over_recipe'] > 1 else '; ours is faster')}).

Self-play positions searched per second (batch 512, 32 simulations, 9 plies of every game,
compilation excluded; ours compiled as its trainer compiles it, `mcts.jit`, the recipe as written,
`jax.jit`'s defaults): ours {g(r['selfplay_ours_per_s'])}, the recipe
{g(r['selfplay_recipe_per_s'])}: `selfplay_ours_over_recipe`
**{g(r['selfplay_ours_over_recipe'])}** ({target('selfplay_ours_over_recipe',
r['selfplay_ours_over_recipe'])}){rounds_text(r)}.
"""
    if "selfplay_ours_over_recipe_same_options" in r:
        text += f"""
Of that, our choice of XLA options (`mcts.COMPILER_OPTIONS`: {', '.join(
f'`{k}={v}`' for k, v in r['compiler_options'].items())}, YNNPACK library calls for dots
only) is part: the recipe compiled with the same options searches
{g(r['selfplay_recipe_same_options_per_s'])} positions per second, and against it ours is
**{g(r['selfplay_ours_over_recipe_same_options'])}x** (its ratios in the same rounds:
{', '.join(g(x[4]) for x in r['selfplay_rounds'])}), the two searches' own code alone.
"""
    if "selfplay_model_default_options_s" in r:
        per_call = 9 * 512
        ours_call = per_call / r["selfplay_ours_per_s"]
        recipe_call = per_call / r["selfplay_recipe_per_s"]
        text += f"""
Where a self-play call goes: ours {ours_call:.3f} s, the recipe {recipe_call:.3f} s; the game's
steps and the network alone (the same {33 * 9} calls at batch 512 in a chain, work that any
implementation pays) take {r['selfplay_model_s']:.3f} s compiled with our options and
{r['selfplay_model_default_options_s']:.3f} s without, so the search's own part is
{ours_call - r['selfplay_model_s']:.3f} s against the recipe's
{recipe_call - r['selfplay_model_default_options_s']:.3f} s
(`selfplay_search_ours_over_recipe` {g(r['selfplay_search_ours_over_recipe'])}; with the same
options {g(r['selfplay_search_ours_over_recipe_same_options'])}; an estimate: inside a search the
same network calls can cost more than in a chain).
"""
    p = r.get("preset")
    if p:
        lost = ", ".join(f"{it}: {n}" for it, n in p["lost_lines_per_evaluation"])
        text += f"""
The preset as a user runs it, `evojax-rl train tictactoe-alphazero`: **{g(p['process_seconds'])} s**
for the whole process from an empty compilation cache ({target('tictactoe_process_seconds', p['process_seconds'])}). Its final
agent through `load_agent` ({p['agent_simulations']} simulations) lost **{p['lines_lost']}** of
{p['lines']} lines against the perfect player in both seats and **{p['random']['loss']}** of
{p['random_games']} games against a uniform random player (won {p['random']['win']}, drew
{p['random']['draw']}); perfect at the run's last 5 evaluations:
**{g(p['last_5_evaluations_perfect'])}**. Lines lost at each evaluation (iteration: lines): {lost}.
"""
    return text


def alphazero_connect4(rec: dict) -> str:
    r = rec["result"]
    rows = [[c["iteration"]] + [f"{c[f'vs_{o}/win']:.0%} / {c[f'vs_{o}/draw']:.0%} / "
                                f"{c[f'vs_{o}/loss']:.0%}" for o in ("random", "mcts")]
            + [g(c.get("vs_previous/score"))] for c in r["curve"]]
    mcts = [c["vs_mcts/score"] for c in r["curve"]]
    prev = [c["vs_previous/score"] for c in r["curve"]]
    return f"""\
`evojax-rl train connect4-alphazero` ({r['iterations']} iterations) took
**{g(r['process_seconds'])} s** for the whole process ({target('connect4_process_seconds',
r['process_seconds'])}). Its final agent through `load_agent` ({r['agent_simulations']}
simulations, greedy) won **{r['random_win_rate']:.1%}** of {r['random_games']} games against a
uniform random player ({target('random_win_rate', r['random_win_rate'])}) and scored
**{g(r['mcts_score'])}** (wins plus half the draws: {r['mcts']['win']} won, {r['mcts']['draw']}
drawn, {r['mcts']['loss']} lost of {r['mcts_games']}) against pure MCTS with
{r['mcts_simulations']} random-rollout simulations ({target('mcts_score', r['mcts_score'])}),
half of the games in each seat.

The curve, from the run's own evaluations (100 games per opponent, half in each seat; win / draw
/ loss from the agent's view; against the previous evaluation's parameters, the score):

{table(['iteration', 'vs random', 'vs pure MCTS (200)', 'vs previous (score)'], rows)}

Against pure MCTS the score ranges over {g(min(mcts))}-{g(max(mcts))} across these evaluations,
while against its own previous parameters the agent scores {g(min(prev))}-{g(max(prev))}: where
the first stays flat and the second stays above 0.5, the agent still improves but this MCTS
opponent no longer measures it.
"""


def first_result(rec: dict) -> str:
    r = rec["result"]
    c = r["cases"]
    labels = {
        "pycma": "pycma, whole run",
        "optimize_cold": "`optimize(cma_es)`, cache cold (first process ever)",
        "optimize_warm": "`optimize(cma_es)`, cache warm (a second process)",
        "optimize_nocache": "`optimize(cma_es)`, cache disabled",
        "before_optimize": f"`optimize(cma_es)` before (`{r.get('before')}`, no cache)",
        "train_cold": "`evojax-rl train cartpole-openes`, cache cold",
        "train_warm": "`evojax-rl train cartpole-openes`, cache warm",
    }
    ref = c.get("pycma", {}).get("median_s")
    rows = []
    for key, label in labels.items():
        if key in c:
            row = c[key]
            ratio = g(row["median_s"] / ref) if ref and "train" not in key else ""
            rows.append([label, g(row["median_s"]), ", ".join(g(x) for x in row["runs_s"]), ratio,
                         g(row.get("median_import_s")), g(row.get("median_optimize_s")),
                         g(row.get("median_equal_lambda_s"))])
    load = ", ".join(g(x) for x in r["loadavg_before"])
    out = f"""\
Each case is a fresh process, timed from its start to the printed result (imports, tracing,
compilation and the run included), {r['repeats']} round(s), the cases interleaved round by
round; medians. 10-D Rosenbrock from zeros, sigma 0.5, to f <= 1e-8, in float64 for ours (as in
`cma_vs_pycma.py`). "cold" is a new, empty cache directory each round; "warm" the directory
the cold process just filled. After its first result each `optimize` process calls `optimize`
again with a new, equal `lambda` (and another seed): the last column. Load average before the
rounds: {load} (2 shared cores: the figures are inflated by the other work on the machine, the
ratios less so, since the cases are interleaved).

{table(['case', 'median s', 'runs s', '/ pycma', 'import s', 'first optimize s',
        'equal lambda s'], rows)}

`warm_over_pycma` {g(r.get('warm_over_pycma'))}: {target('warm_over_pycma',
r.get('warm_over_pycma'))}. `cold_over_pycma` {g(r.get('cold_over_pycma'))}:
{target('cold_over_pycma', r.get('cold_over_pycma'))}. `equal_lambda_s`
{g(r.get('equal_lambda_s'))} (the largest of the three `optimize` cases):
{target('equal_lambda_s', r.get('equal_lambda_s'))}.
"""
    if r.get("before_equal_lambda_s") is not None:
        out += f"""
Before (`{r['before']}`), the second call with a new equal `lambda` took
{g(r['before_equal_lambda_s'])} s: it traced and compiled the whole loop again.
"""
    if r.get("compile"):
        cols = ["run_trace_s", "run_lower_s", "run_compile_s", "other_trace_s", "other_lower_s",
                "other_compile_s", "wall_s"]
        before = r.get("compile_before") or {}
        trows = []
        for name, row in r["compile"].items():
            trows.append([f"`{name}`"] + [g(row[k], 2) for k in cols])
            if name in before:
                trows.append([f"`{name}` before"] + [g(before[name][k], 2) for k in cols])
        out += f"""
Compile time per strategy: each factory with its defaults in `optimize` on the same problem
(float64, `max_generations=20000`, stopped after one generation), a fresh process each with
the cache disabled; seconds from JAX's monitoring events (wall time), medians over
{r['repeats']} process(es). "loop" is the compiled `while_loop` (`_run`): tracing to a jaxpr,
lowering to StableHLO, XLA's compilation; "other" is every other program the call compiled
(the key split, `init`'s array constructors); "call" is the whole `optimize` call.
{"Rows marked before are the code of `" + r['before'] + "`, measured in the same run." if before
 else ""}

{table(['strategy', 'loop trace', 'loop lower', 'loop compile', 'other trace', 'other lower',
        'other compile', 'call'], trows)}
"""
    if r.get("parts"):
        names = {"whole": "as shipped", "no_stop": "without the stop criteria",
                 "short_history": "history buffer of 100 instead of 20000",
                 "rolled_sampler": "jax.random's rolled Threefry instead of ours (unrolled)"}
        prow = [[names.get(k, k)] + [g(v[c], 2) for c in ("run_trace_s", "run_lower_s",
                                                            "run_compile_s", "wall_s")]
                for k, v in r["parts"].items()]
        parts = r["parts"]
        whole = parts["whole"]["run_compile_s"]

        def delta(k):
            if k not in parts:
                return "—"
            d = whole - parts[k]["run_compile_s"]
            return g(d, 2) + " s" + (" (within the noise)" if abs(d) < 0.3 else "")

        out += f"""
What the pieces of `cma_es`'s loop cost to compile (one piece taken out or swapped at a time;
same measurement):

{table(['cma_es loop', 'trace', 'lower', 'compile', 'call'], prow)}

Of the loop's {g(whole, 2)} s of XLA compilation, the stop criteria take {delta('no_stop')}
(kept: they are pycma's, part of matching it); the history buffer's length {delta('short_history')};
our unrolled sampler against jax.random's {delta('rolled_sampler')} (kept for its speed per
generation). Run the script twice before reading a difference under 0.3 s.
"""
    before = r.get("compile_before") or {}
    if "cma_es" in before and r.get("compile"):
        was, now = before["cma_es"]["other_compile_s"], r["compile"]["cma_es"]["other_compile_s"]
        out += f"""
What was cut: the programs `optimize` compiled besides the loop (for `cma_es`, "other compile"
{g(was, 2)} s before, {g(now, 2)} s now: the key split and its unpacking as one program, the loop's scalar arguments and CMA-ES's
identity matrices from NumPy instead of six small programs for `jnp.eye`); the loop itself is
the same program before and after, so its rows differ by noise only. The rest of the gain is
the cache (a warm process loads every program) and importing only what is used (`import s`
above).
"""
    return out


def scaling(rec: dict) -> str:
    r = rec["result"]
    secs, steps = r["generation_seconds"], r["env_steps_per_generation"]
    first, base = next(iter(secs.items()), (None, None))
    rows = [[k, "failed", "", "", "", ""] if v is None else
            [k, g(secs[k] * 1e3), f"{g(min(v['seconds_per_generation']) * 1e3)}-"
             f"{g(max(v['seconds_per_generation']) * 1e3)}", g(secs[k] / base), g(steps[k]),
             g(v["first_chunk_s"])] for k, v in r["layouts"].items()]
    brows = [[g(int(n)), str(tuple(b["hidden"])), g(b["total"]), g(b["fitness_all_gather"]),
              g(b["rest"]), g(b["all_reduce_of_update_paper"])] for n, b in r["bytes"].items()]
    where = (f"On this CPU machine ({r['machine']['cpu_count']} cores) the forced host devices and "
             "the processes share the same cores, so more of them show the overhead of splitting "
             "the population (and, between processes, of gloo), not a speed-up."
             if r["backend"] == "cpu" else r["note"][0].upper() + r["note"][1:] + ".")
    load = r["load_average"]
    return f"""\
Seconds per ES generation (CartPole-v1, 4-32-32-2 MLP, popsize {r['popsize']}, episodes cut at
{r['max_steps']} steps, observation normalization; median of {r['chunks']} chunks of
{r['chunk']} generations after one untimed chunk that compiles) on {r['backend']}
({r['device_kind']}), processes x devices per process, each layout in fresh processes. Every
layout runs the same seed: the same episodes (environment steps per generation below) and the
same final mean policy on every layout: {g(r['same_results_on_every_layout'])}. {where} Load
average (1 min) {g(load['before'][0])} before, {g(load['after'][0])} after.

{table(['processes x devices', 'ms / generation', 'chunks (ms / generation)', f'vs {first}',
        'env steps / generation', 'first chunk, compiling (s)'], rows)}

Between processes every collective of a generation is a round trip through gloo that waits
whenever the other process is off the shared cores, so those figures vary most from run to run
with the machine's other load.

Bytes that cross devices in one generation (the compiled chunk of one generation on
{r['bytes_devices']} forced CPU devices, popsize {r['bytes_popsize']}, summed over
`distributed.collectives`): the fitness all-gather (4 P bytes) and a constant rest (observation
statistics, a step count), whatever the policy's size. For contrast, a paper figure, not
measured: an all-reduce of the update moves 4 bytes per parameter.

{table(['parameters', 'hidden', 'bytes / generation', 'fitness all-gather', 'rest',
        'all-reduce of the update (paper figure)'], brows)}
"""


def pbt(rec: dict) -> str:
    r = rec["result"]
    rows, seeds = [], []
    for task, t in r["tasks"].items():
        rows.append([task, f"**{g(t['pbt_best'], 4)}**", f"**{g(t['fixed_median'], 4)}**",
                     g(t["fixed_best"], 4), g(t["fixed_oracle"], 4),
                     ", ".join(f"{g(v)} {k.replace('_', ' ')}" for k, v in t["cost_per_run"].items()),
                     g(t["seconds"])])
        for row in t["per_seed"]:
            seeds.append([task, row["seed"], g(row["pbt_best"], 4), g(row["fixed_median"], 4),
                          g(row["fixed_best"], 4), g(row["fixed_oracle"], 4), row["pbt_copies"]])
    verdicts = "; ".join(
        f"{task}: {target('pbt_over_fixed_median', t['pbt_best'] - t['fixed_median'])}"
        f" (every seed: {g(t['pbt_beats_median_every_seed'])})" for task, t in r["tasks"].items())
    return f"""\
Each task and seed runs one program twice: PBT (exploit and explore every `ready` steps) and
16 independent members with hyperparameters drawn from the same priors (exploit off: the same
draws, steps and evaluations, so the same environment or gradient steps). Judged on a fresh
evaluation at the end (fresh episodes; held-out data). `pbt_best`: PBT's member with the best
training score. `fixed_median`: the median fixed run (the issue's target). `fixed_best`: the
fixed run with the best training score, the same selection rule as PBT's (a random search of
16 trials): the like-for-like comparison. `fixed_oracle`: the best fixed run on the fresh
evaluation, which no one could pick without it. Higher is better (Pendulum: return; regression:
minus the test MSE). Means over {r['seeds']} seeds.

{table(['task', 'pbt_best', 'fixed_median', 'fixed_best', 'fixed_oracle', 'cost per run', 'seconds'], rows)}

PBT's best beats the fixed runs' median, {verdicts}.

{table(['task', 'seed', 'pbt_best', 'fixed_median', 'fixed_best', 'fixed_oracle', 'PBT copies'], seeds)}
"""


def planning(rec: dict) -> str:
    r = rec["result"]
    prow = [[x["strategy"], x["horizon"], x["popsize"], x["iterations"], g(x["budget"]),
             f"**{g(x['mean_return'], 4)}**", g(x["min_return"], 4),
             g(x["seconds_per_step"] * 1e3), g(x["compile_seconds"])] for x in r["pendulum"]]
    crow = [[x["strategy"], x["horizon"], x["popsize"], x["iterations"], g(x["budget"]),
             g(x["mean_return"], 4), x["min_length"], f"**{g(x['all_500'])}**",
             g(x["seconds_per_step"] * 1e3), g(x["compile_seconds"])] for x in r["cartpole"]]
    defaults = ", ".join(f"{k} {g(v, 4)} ({target('pendulum_default_return', v)})"
                         for k, v in r["pendulum_default"].items())
    return f"""\
Model-predictive control with the true environment as the model: at every control step the
strategy optimizes a plan of H actions (P candidates, I generations, warm-started from the
previous plan shifted by one step), the first action is executed, and it replans. Budget =
P x I x H model steps per control step and episode. {r['episodes']} episodes at once
(`vmap`), seed {r['seed']}; ms per control step of the whole batch, compilation excluded.

Pendulum-v1 (a trained ES policy reaches about -140, random actions about -1200). At the
defaults (`evojax-rl plan Pendulum-v1`): {defaults}.

{table(['strategy', 'H', 'P', 'I', 'budget', 'mean return', 'worst episode', 'ms / step', 'compile s'], prow)}

CartPole-v1 at the defaults (target: every episode balanced for 500 steps):

{table(['strategy', 'H', 'P', 'I', 'budget', 'mean return', 'shortest episode', 'all 500', 'ms / step', 'compile s'], crow)}
"""


def cem_rl(rec: dict) -> str:
    r = rec["result"]
    trow = []
    for t in r["tabular"]:
        st = t["settings"]
        trow.append([t["env"], t["horizon"], st["sessions"], f"top {g(100 - st['percentile'])}%",
                     g(st["alpha"]), t["iterations"], f"**{g(t['final_exact_greedy'], 4)}**",
                     g(t["final_exact_stochastic"], 4), g(t["best_stationary"], 4), g(t["optimum"], 4),
                     t["greedy_best_stationary_at"] if t["greedy_best_stationary_at"] is not None else "not reached",
                     g(t["run_s"]), g(t["compile_s"])])
    c = r["cartpole"]
    crow = [[x["seed"], x["iterations"] if x["iterations"] is not None else "not solved", g(x["seconds"]),
             g(x["fresh_sampled_mean"], 4), g(x["fresh_greedy_mean"], 4)] for x in c["per_seed"]]
    return f"""\
The lecture's CEM for RL (`evojax_rl.cem_rl`): sessions played with the current policy, the
elite kept, the policy fitted to the elite's state-action pairs.

Tabular CEM (policy matrix, counts, smooth update `alpha`), evaluated *exactly* on the
environment's model after training: the expected return of the greedy (argmax) policy and of the
stochastic one CEM samples from, against value iteration. `best stationary`: the exact return of
value iteration's greedy policy, the best a fixed policy matrix can do (FrozenLake's optimum
needs a policy that changes with the steps left). Seed {r['seed']}.

{table(['env', 'steps', 'sessions', 'elite', 'alpha', 'iterations', 'greedy (exact)', 'stochastic (exact)', 'best stationary', 'optimum', 'greedy reaches best at', 'run s', 'compile s'], trow)}

Neural CEM on CartPole-v1 (100 sessions, top 30%, MLP 64-64 fitted with Adam): iterations until
one iteration's 100 sessions (fresh episodes of the sampling policy) average >= {g(c['target'])};
then 100 fresh episodes of the final policy. Solved {c['solved']} of {c['seeds']} seeds, median
{c['median_iterations']} iterations, {g(c['median_seconds'])} s compiled (compiling:
{g(c['compile_s'])} s).

{table(['seed', 'iterations to 475', 'seconds', 'fresh sampled mean', 'fresh greedy mean'], crow)}
"""


TETRIS_SETTINGS = ("none", "constant", "decreasing")


def _yes(flag) -> str:
    return "yes" if flag else "no"


def _tetris_summary(r: dict) -> dict:
    """The 10 x 20 run's summary of ``tetris_cem.py``'s result, in the shape of its small board's."""
    summ = {"mean": {s: r[s] for s in TETRIS_SETTINGS}, "sampled": r["sampled"],
            "mean_ordering": r["ordering_holds"], "sampled_ordering": r["sampled_ordering_holds"],
            "mean_ordering_seeds": r["ordering_seeds"],
            "sampled_ordering_seeds": r["sampled_ordering_seeds"]}
    if "decreasing_minus_constant" in r:
        summ["mean_decreasing_minus_constant"] = r["decreasing_minus_constant"]
        summ["sampled_decreasing_minus_constant"] = r["sampled_decreasing_minus_constant"]
    return summ


def _tetris_seed_table(r: dict, per_seed: dict, capped: bool, summ: dict) -> str:
    """Per seed, each setting's mean lines by both measures and whether the paper's ordering
    holds; the mean over the seeds; on the paper's board (``capped``) the paper's row; then
    decreasing less constant with its bootstrap interval."""
    settings = TETRIS_SETTINGS

    def ordered(per, field):
        return per["none"][field] < per["constant"][field] < per["decreasing"][field]

    head = ["seed"] + [f"{s}: {m}" for s in settings for m in ("mean policy", "its policies")]
    head += (["capped (decreasing)"] if capped else []) + ["ordering: mean", "ordering: its policies"]
    rows = []
    for seed, per in per_seed.items():
        rows.append([seed] + [f"{per[s][f]:,.0f}" for s in settings
                              for f in ("mean_lines", "sampled_mean_lines")]
                    + ([f"{per['decreasing']['final_population_capped']}"] if capped else [])
                    + [_yes(ordered(per, "mean_lines")), _yes(ordered(per, "sampled_mean_lines"))])
    n = len(per_seed)
    rows.append(["**mean**"] + [f"**{summ[m][s]:,.0f}**" for s in settings for m in ("mean", "sampled")]
                + ([""] if capped else [])
                + [f"{_yes(summ['mean_ordering'])} ({summ['mean_ordering_seeds']} of {n} seeds)",
                   f"{_yes(summ['sampled_ordering'])} ({summ['sampled_ordering_seeds']} of {n} seeds)"])
    if capped:  # the paper's board: its figures beside ours
        rows.append(["paper"] + [f"{r['paper'][s]:,}" if m == "mean" else "" for s in settings
                                 for m in ("mean", "sampled")] + ["", "yes", ""])
    out = table(head, rows)
    if "mean_decreasing_minus_constant" in summ:
        parts = []
        for m, name in (("mean", "mean policy"), ("sampled", "its policies")):
            d, lo, hi = summ[f"{m}_decreasing_minus_constant"]
            parts.append(f"{name} {d:,.0f} [{lo:,.0f}, {hi:,.0f}]")
        out += ("\n\nDecreasing less constant, mean lines over the seeds [paired bootstrap 95% "
                "interval]: " + "; ".join(parts) + ".")
    return out


def _tetris_reading(r: dict) -> str:
    """What the paper's constant-noise figure says of which measure its table reports."""
    const = [per["constant"]["mean_lines"] for per in r["per_seed"].values()]
    drawn = r["sampled"]["constant"]
    paper = r["paper"]["constant"]
    ratio = paper / statistics.fmean(const)
    return (f"The paper's constant-noise figure ({paper:,}) is {ratio:.2f}x our mean policies' "
            f"average (by seed {min(const):,.0f} to {max(const):,.0f}) and {paper / drawn:.1f}x "
            f"our drawn policies': more likely a final mean's figure.")


def _tetris_std(per_seed: dict) -> str:
    std = {s: statistics.fmean(per[s]["final_std"] for per in per_seed.values())
           for s in TETRIS_SETTINGS}
    return (f"Final standard deviation per weight, mean over the seeds: none {std['none']:.2f}, "
            f"constant {std['constant']:.2f}, decreasing {std['decreasing']:.2f}.")


def tetris_cem(rec: dict) -> str:
    r = rec["result"]
    b = r["budget"]
    summ = _tetris_summary(r)
    n = len(r["per_seed"])
    text = f"""\
Szita & Lorincz's noisy cross-entropy method on our Tetris (the seven tetrominoes,
`evojax_rl.tetris`): a linear value of the 22 Bertsekas-Tsitsiklis afterstate features,
`strategies.cem` with population {b['popsize']}, {g(100 * b['elite_ratio'])}% elites, sigma
{g(b['sigma'])} from a zero mean, and extra variance none, constant 4, or decreasing
max(5 - t/10, 0) (spent at generation 50), {b['generations']} generations, one training game per
member. Each run is judged two ways on the same {b['eval_games']} **uncapped** piece sequences:
the *mean policy* (the final CEM mean, {b['eval_games']} games) and *its policies* ({b['eval_games']}
draws from the final distribution, the strategy's `ask` after the last generation, one game
each): what the run itself would play next. Which of the two the paper's table reports, its
table alone does not say.

**10 x 20, training games capped at {b['cap_pieces']:,} pieces** (the paper's were uncapped), mean
lines per seed, and how many of the decreasing run's last 100 games reached the cap:

{_tetris_seed_table(r, r["per_seed"], True, summ)}

The paper's ordering on the average of the seeds, mean policy: {_yes(summ['mean_ordering'])}
(in {summ['mean_ordering_seeds']} of {n} seeds); its policies: {_yes(summ['sampled_ordering'])}
(in {summ['sampled_ordering_seeds']} of {n} seeds). {_tetris_std(r["per_seed"])}
{_tetris_reading(r)}
"""
    sb = r.get("small_board")
    if sb:
        m = len(sb["seeds"])
        text += f"""
**10 x {sb['height']}, training uncapped** (every game played to its end; the same settings),
{m} seeds, {g(sb['wall_seconds'])} s:

{_tetris_seed_table(r, sb["per_seed"], False, sb)}

Without a cap, the paper's ordering on the average of the seeds, mean policy:
{_yes(sb['mean_ordering'])} (in {sb['mean_ordering_seeds']} of {m} seeds); its policies:
{_yes(sb['sampled_ordering'])} (in {sb['sampled_ordering_seeds']} of {m} seeds).
"""
    text += f"""
Speed: {r['placements_per_s']:,} pieces placed per second in the uncapped evaluation (each piece
scores all of its rotations x columns first), {r['train_placements_per_s']:,} in training (100
games at once, those still going gathered into narrower batches as the others end). Whole run
{g(r['wall_seconds'])} s.
"""
    return text


# What each rerun of the 10 x 20 experiment with other settings tests.
TETRIS_VARIANTS = {
    "tetris_cem_cap20k": "Most of a good decreasing run's last games reach a cap this low (the "
                         "capped column): ties that selection cannot rank.",
    "tetris_cem_long": "The decreasing noise is spent at generation 50, so the last generations "
                       "of a longer run are plain CE: does stopping where the noise ends decide "
                       "the ordering?",
}


def tetris_cem_variant(rec: dict) -> str:
    """A rerun of the 10 x 20 experiment with another training cap or more generations."""
    r = rec["result"]
    b = r["budget"]
    summ = _tetris_summary(r)
    n = len(r["per_seed"])
    over = " (more than the 15 minutes the main run keeps to)" if r["wall_seconds"] > 900 else ""
    return f"""\
The 10 x 20 experiment above, seeds {', '.join(map(str, b['seeds']))}, with {b['generations']}
generations and training games capped at {b['cap_pieces']:,} pieces. {TETRIS_VARIANTS[rec['name']]}
{_tetris_std(r["per_seed"])}

{_tetris_seed_table(r, r["per_seed"], True, summ)}

The paper's ordering on the average of the seeds, mean policy: {_yes(summ['mean_ordering'])}
(in {summ['mean_ordering_seeds']} of {n} seeds); its policies: {_yes(summ['sampled_ordering'])}
(in {summ['sampled_ordering_seeds']} of {n} seeds). Whole run {g(r['wall_seconds'])} s{over}.
"""


def tetris_engine_check(rec: dict) -> str:
    r = rec["result"]
    lines = ", ".join(f"{x:,}" for x in r["lines"])
    board = "the literature's 10 x 20 board" if r["height"] == 20 else f"a 10 x {r['height']} board"
    verdict = ""
    if r["height"] == 20:
        ratio = r["mean_lines"] / r["published"]
        verdict = (f" Ours over the published figure: {ratio:.2f}x"
                   + (": our game is not harsher than the one the literature measured on, so it "
                      "does not explain why the noisy-CE results above fall short of the paper's."
                      if ratio >= 0.5 else ": our game ends sooner than the literature's."))
    return f"""\
Pierre Dellacherie's hand-coded one-piece controller (six features with published weights; ties
to the first slot, not his priority rule) on our engine, {r['games']} uncapped games on {board}:
mean **{r['mean_lines']:,.0f}** lines (standard error {r['stderr_lines']:,.0f}; median
{r['median_lines']:,.0f}); published for 10 x 20: {r['published']:,} (Fahey 2003, the lecture's table).
Per game: {lines}.{verdict} {r['pieces_per_s']:,} pieces per second.
"""


def bbob(rec: dict) -> str:
    r = rec["result"]
    dims = [str(d) for d in r["dims"]]
    per_function = len(r["instances"]) * r["seeds"]
    runs = len(r["functions"]) * per_function
    head = []
    for name, per_dim in r["strategies"].items():
        for d in dims:
            x = per_dim.get(d)
            if x is None:
                continue
            label = ("pycma, other seeds (null comparison)" if name == "pycma-null"
                     else f"ours: {name}")
            head.append([label, d, f"{x['solved']} / {x['solved_ref']}",
                         len(x["ratios"]), g(x["worst_ratio"]),
                         ", ".join(f"f{f}" for f in x["above_1_1"]) or "none"])
    rows = []
    ipop = r["strategies"].get("ipop-cma-es", {})
    for f in r["functions"]:
        named = [ipop[d]["rows"][str(f)] for d in dims if str(f) in ipop.get(d, {}).get("rows", {})]
        row = [f"f{f}", named[0]["name"] if named else ""]
        for d in dims:
            x = ipop.get(d, {}).get("rows", {}).get(str(f))
            if x is None:
                row += ["", "", "", ""]
                continue
            row += [f"{x['solved'][0]} / {x['solved'][1]}", g(x["ert"][0]), g(x["ert"][1]),
                    f"**{g(x['ratio'])}**" if x["ratio"] is not None and x["ratio"] > 1.1
                    else g(x["ratio"])]
        rows.append(row)
    sweep_rows = [[s["dim"], s["runs"], g(s["budget"]), g(s["one_by_one_s"]),
                   f"{g(s['per_function_s'])} ({g(s['per_function_speedup'])}x)",
                   f"{g(s['all_in_one_s'])} ({g(s['all_in_one_speedup'])}x)",
                   f"{g(s['one_by_one_compile_s'])} / {g(s['per_function_compile_s'])} / "
                   f"{g(s['all_in_one_compile_s'])}",
                   f"{s['one_by_one_solved']} / {s['per_function_solved']} / "
                   f"{s['all_in_one_solved']}"] for s in r.get("sweep", [])]
    cocopp = r.get("cocopp_reads_same_ert", {})
    walls = ", ".join(f"{k} {g(v)} s" for k, v in r["walls"].items())
    header = ["f", "name"] + [c for d in dims for c in
                              (f"solved D={d}", f"ERT ours D={d}", f"ERT pycma D={d}", "ratio")]
    return f"""\
COCO's 24 noiseless BBOB functions (`evojax_rl.problems.bbob`, equal to `cocoex`'s values), instances
{r['instances'][0]}-{r['instances'][-1]} x {r['seeds']} seeds = {per_function} runs per function and
dimension ({runs} per dimension), budget {g(r['budget_per_d'])} x D evaluations, target f - f_opt <= 1e-8,
sigma0 = 2, COCO's starts (the domain centre, then a triangular draw in [-5, 5]^D per restart).
The reference is pycma's IPOP-CMA-ES (`cma.fmin2(..., restarts=9, incpopsize=2)`, x0 =
`problem.initial_solution_proposal`) on `cocoex`'s problems, in the same run. Both count
evaluations per generation (a hit counts its whole generation). ERT: evaluations of all runs (each
to its hit or its end) over the runs that hit; ratio: ours over pycma's, on the functions both
solve at least once.

{table(['strategy', 'D', 'runs solved (ours / pycma)', 'functions both solve', 'worst ERT ratio', 'ERT ratio > 1.1'], head)}

The null comparison runs pycma against itself with other seeds: the spread of ERT ratios between
two identical algorithms at {per_function} runs per function, i.e. what a 1.1 threshold per function
can resolve at this sample size.

IPOP-CMA-ES per function (solved: ours / pycma of {per_function}; ratios above 1.1 in bold):

{table(header, rows)}

![Runtime ECDF]({r['ecdf_png']})

Runtime ECDF: the fraction of (run, target) pairs reached, COCO's 51 targets 10^2 .. 10^-8, against
evaluations / D. COCO's data format for each algorithm is written next to it (`python -m cocopp
benchmarks/results/bbob/*`); cocopp reading it back finds the same ERTs: {"yes" if cocopp and all(cocopp.values()) else cocopp}.

The batched case: plain CMA-ES (no restarts, {g(r['sweep'][0]['budget'] / r['sweep'][0]['dim']) if r.get('sweep') else ''} x D evaluations) on every function x instance x seed,
run one by one through `optimize` (one compiled loop, `args` per run), as one `optimize_batch`
program per function (`bbob.evaluate(..., fid=f)`), and as one program for the whole sweep (the
function id is then batched, so every function's formula is computed for every point). Seconds of
a second call, compiled; compile: the first call's extra seconds.

{table(['D', 'runs', 'evaluations per run', 'one by one (s)', 'one program per function (s)', 'one program for all (s)', 'compile s (one by one / per function / all)', 'solved'], sweep_rows)}

Walls: {walls}.
"""


def _ipop_table(r: dict) -> str:
    """One row per problem of ``ipop_vs_pycma.py``'s result, then how its first three runs
    (restarts) ended."""
    rows, reasons = [], []
    for p in r["problems"]:
        name = f"f{p['function']} {p['name']}"
        rows.append([name, p["dim"], r["runs"], f"{p['ours_successes']} / {p['pycma_successes']}",
                     g(p["ours_evals_mean"], 4), g(p["pycma_evals_mean"], 4),
                     f"**{g(p['ratio'])}** [{g(p['ci95'][0])}, {g(p['ci95'][1])}]"])
        for who in ("ours", "pycma"):
            for restart, counts in sorted(p["stop_reasons"][who].items(), key=lambda kv: int(kv[0]))[:3]:
                top = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
                reasons.append([f"f{p['function']} {p['dim']}-D", who, restart, top])
    return (table(["function", "D", "runs", "solved (ours / pycma)", "ERT ours", "ERT pycma",
                   "ours / pycma [95%]"], rows)
            + "\n\nHow the first three runs ended (stop reason and count; pycma's `callback` is its "
              "target hit, through COCO's termination callback):\n\n"
            + table(["problem", "", "run", "stop reasons"], reasons))


def _ipop_setup(r: dict) -> str:
    p = r["problems"][0]
    return (f"Paired runs (instances {p['instances'][0]}-{p['instances'][1]}, two seeds each), budget "
            f"2e4 x D evaluations, target f_opt + 1e-8, COCO's starts for both, the problem "
            f"evaluated by `cocoex` for both. Evaluations counted one by one (pycma's evaluation of "
            f"each run's final mean included); the interval is a paired bootstrap over the runs.")


def ipop_f7(rec: dict) -> str:
    r = rec["result"]
    return f"""\
IPOP-CMA-ES on the step ellipsoid in 5-D, the function on which ours once looked 1.35x pycma's
evaluations (30 runs). {_ipop_setup(r)} A 30-run ratio scatters with a standard deviation of about
0.13, so 1.35 was within chance.

{_ipop_table(r)}
"""


def ipop_recheck(rec: dict) -> str:
    r = rec["result"]
    return f"""\
`bbob.py`'s rerun at 30 runs per function (`--instances 1-15 --seeds 2 --null` on the functions
above 1.1 at 6 runs) put ours above 1.1x pycma's ERT on four problems: 5-D f8 1.18 and f20 1.17,
10-D f8 1.14 and f15 1.14 (pycma against itself, other seeds: 1.14, 1.06, 0.94, 1.07). Here with
{r['runs']} runs each. {_ipop_setup(r)}

{_ipop_table(r)}
"""


def ipop_all(rec: dict) -> str:
    r = rec["result"]
    dims = sorted({p["dim"] for p in r["problems"]})
    by = {(p["function"], p["dim"]): p for p in r["problems"]}
    rows = []
    for f in sorted({p["function"] for p in r["problems"]}):
        row = [f"f{f}", next(p["name"] for p in r["problems"] if p["function"] == f)]
        for d in dims:
            p = by.get((f, d))
            if p is None:
                row += ["", ""]
                continue
            solved = f"{p['ours_successes']} / {p['pycma_successes']}"
            if not (p["ours_successes"] and p["pycma_successes"]):
                row += [solved, "—"]
                continue
            lo, hi = p["ci95"]
            ratio = f"{g(p['ratio'])} [{g(lo)}, {g(hi)}]"
            row += [solved, f"**{ratio}**" if lo > 1 or hi < 1 else ratio]
        rows.append(row)
    def named(fids):
        return ", ".join(f"f{f}" for f in fids) or "none"

    head = []
    for d, s in r["summary"].items():
        (ours, theirs), (lo, hi) = s["solved"], s["solved_diff_ci95"]
        head.append([d, s["problems"], f"{ours} / {theirs} ({ours - theirs:+d} [{lo:+d}, {hi:+d}])",
                     len(s["both_solve"]), g(s["geomean_ratio"]), named(s["above_1"]),
                     named(s["below_1"]), named(s["above_1_1"])])
    header = ["f", "name"] + [c for d in dims
                              for c in (f"solved D={d}", f"ours / pycma D={d} [95%]")]
    return f"""\
Our IPOP-CMA-ES against pycma's on every BBOB function in {", ".join(f"{d}-D" for d in dims)},
{r['runs']} paired runs each, as in the f7 check above. `bbob.py` (below) judges a ratio from 6 runs
per function, where pycma against itself with other seeds strays above 1.1 on many functions; this is the same comparison with {r['runs']} runs per
function, and no function picked. {_ipop_setup(r)} Ratios in bold: the interval excludes 1 (with
95% intervals, about one problem in 20 does so by chance).

{table(["D", "problems", "runs solved: ours / pycma (difference [95%])", "problems both solve",
        "geometric mean of ratios", "ours slower (interval above 1)",
        "ours faster (interval below 1)", "interval above 1.1"], head)}

{table(header, rows)}

Solved: runs of {r['runs']} that reached the target, ours / pycma. Ratio: ours' ERT over pycma's, on
the problems both solve at least once.
"""


# The script of a result not named after its script.
SCRIPTS = {"tetris_cem_cap20k": "tetris_cem.py", "tetris_cem_long": "tetris_cem.py",
           "ipop_f7": "ipop_vs_pycma.py", "ipop_f8": "ipop_vs_pycma.py",
           "ipop_f15_f20": "ipop_vs_pycma.py", "ipop_all": "ipop_vs_pycma.py"}

# (result name, section title, body renderer), in the order of the file.
SECTIONS = [
    ("cma_vs_pycma", "CMA-ES vs pycma and evosax", cma),
    ("sampling_throughput", "Normal samples", sampling),
    ("rollout_throughput", "Rollout throughput", rollout),
    ("brax_throughput", "brax rollout throughput", brax),
    ("cartpole_solve", "Time to solve CartPole", cartpole),
    ("first_result", "Time to the first result in a fresh process", first_result),
    ("preset_returns", "Returns each preset reaches", presets),
    ("mcts_throughput", "Batched MCTS vs mctx", mcts),
    ("alphazero_tictactoe", "AlphaZero on tic-tac-toe vs a pgx + mctx recipe", alphazero_tictactoe),
    ("alphazero_connect4", "AlphaZero on connect four", alphazero_connect4),
    ("scaling", "Devices and processes", scaling),
    ("pbt", "Population-based training against fixed hyperparameters", pbt),
    ("planning", "Planning by evolution (model-predictive control)", planning),
    ("cem_rl", "Tabular and neural CEM (the lecture's method)", cem_rl),
    ("tetris_cem", "Noisy CE on Tetris (Szita & Lorincz)", tetris_cem),
    ("tetris_cem_cap20k", "Noisy CE on Tetris, training games capped 15 times lower",
     tetris_cem_variant),
    ("tetris_cem_long", "Noisy CE on Tetris, capped 15 times lower and trained past the end of "
     "the decreasing noise", tetris_cem_variant),
    ("tetris_engine_check", "Our Tetris against the literature's: a hand-coded controller",
     tetris_engine_check),
    ("ipop_f7", "IPOP-CMA-ES on BBOB f7 against pycma", ipop_f7),
    ("ipop_f8", "IPOP-CMA-ES on BBOB f8 (Rosenbrock) against pycma", ipop_recheck),
    ("ipop_f15_f20", "IPOP-CMA-ES on BBOB f15 and f20 against pycma", ipop_recheck),
    ("ipop_all", "IPOP-CMA-ES on every BBOB function against pycma, paired runs", ipop_all),
    ("bbob", "BBOB through COCO: our strategies against pycma's IPOP-CMA-ES", bbob),
]


def render(results: dict) -> str:
    """The whole BENCHMARKS.md for ``results`` (``{name: record}``); the header's machine is
    the one of the newest result, and a section measured elsewhere says so."""
    latest = max(results.values(), key=lambda rec: rec["date"])
    machine = latest["result"]["machine"]
    any_quick = any(rec.get("quick") for rec in results.values())
    runs = []
    for name, _, _ in SECTIONS:
        rec = results.get(name)
        runs.append([f"`{name}`", rec["date"][:16].replace("T", " ") if rec else "not run",
                     ("quick" if rec["quick"] else "full") if rec else "",
                     g(rec["wall_s"]) if rec else "", rec["returncode"] if rec else ""])
    total = sum(rec["wall_s"] for rec in results.values())
    head = f"""\
# Benchmarks

Generated by `benchmarks/run_all.py` from the results it saved in `benchmarks/results/` (each
script's last output line, one JSON object); do not edit by hand. Rerun everything with
`python benchmarks/run_all.py` (`--quick` for small budgets, `--only NAME[,NAME]` for a subset,
merged with the saved results; `python benchmarks/report.py` rebuilds this file from them).
Each script can also be run alone: the command is under its heading. Ratios compare us with a
peer measured in the same run, interleaved; the headline of each section is the like-for-like
comparison, and any figure favourable to us is labelled as such.
"""
    if any_quick:
        head += """
**This file holds --quick results** (fewer seeds, rounds and settings than the full run, so the
figures are noisier and some rows are missing): a check that the pipeline works, not the
figures to quote. `python benchmarks/run_all.py` on an idle machine replaces them.
"""
    head += f"""
Machine: {machine_line(machine)}

{table(['benchmark', 'measured', 'mode', 'wall (s)', 'exit status'], runs)}

Total wall time of these runs: {g(total)} s.
"""
    parts = [head]
    for name, title, body in SECTIONS:
        parts.append(f"## {title} (`benchmarks/{SCRIPTS.get(name, name + '.py')}`)\n")
        rec = results.get(name)
        if rec is None:
            parts.append("Not run yet.\n")
            continue
        parts.append(provenance(rec, machine) + "\n")
        parts.append(body(rec))
    return "\n".join(parts)


def reflow(text: str, width: int = 100) -> str:
    """Refill prose paragraphs to ``width``; tables, code, headings and lists stay as they are."""
    out = []
    for para in text.split("\n\n"):
        lines = para.split("\n")
        if para.strip() and not any(ln.startswith(("|", "    ", "#", "- ")) for ln in lines):
            para = textwrap.fill(" ".join(ln.strip() for ln in lines), width,
                                 break_on_hyphens=False, break_long_words=False)
        out.append(para)
    return "\n\n".join(out)


def write(results: dict, out: str = OUT) -> None:
    with open(out, "w") as f:
        f.write(reflow(render(results)).rstrip() + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=RESULTS)
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    results = load(args.results)
    if not results:
        raise SystemExit(f"no results in {args.results}; run benchmarks/run_all.py first.")
    write(results, args.out)
    print(f"wrote {os.path.normpath(args.out)}")


if __name__ == "__main__":
    main()
