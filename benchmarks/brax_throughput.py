"""brax rollout throughput: Ant with its health termination on, ours against a bare scan of
brax's own step at the same batch, in a fixed-length and in terminating cases.

A batch of ``--batch`` (64) members of a 27-32-32-8 tanh MLP (tanh head, actions in [-1, 1]) on
``brax/ant`` (``--backend``, default ``spring``: the cheap pipeline on a CPU; brax's default
``terminate_when_unhealthy=True``: an episode ends once the torso leaves z in [0.2, 1.0]), one
episode each, ``--steps`` (300) steps at most. Cases (the same compiled runners; only the
parameters differ):

- ``fixed``: ``policy.init`` draws scaled by 0.01, so the actions stay near zero and the ant
  stands: every episode runs to the limit (checked), and every runner does the same
  ``batch x steps`` environment steps. Like for like.
- ``terminating``: the draws of ``policy.init`` as they are (random policies).
- ``terminating_x3``: the same draws times 3: more violent policies, most episodes end early.

Runners:

- ``ours``: ``make_rollout`` as a user gets it (compaction on, observation normalization on).
- ``ours_uncompacted``: ``make_rollout(compact=False)`` (a vmapped ``while_loop`` that runs every
  lane until the last episode ends).
- ``bare``: a vmapped ``lax.scan`` of ``steps`` calls of brax's ``env.step`` (the environment as
  ``envs.get_environment`` builds it: no automatic reset, no episode wrapper) with the same
  policy, no masking, no early exit, no observation statistics: what running every lane to the
  limit costs. Its returns are not episode returns once an episode has terminated.

Compilation (each runner's first call, which compiles it) is timed and reported: brax's step is
large, and the compacting engine compiles one loop per width (``batch, batch/2, ..., 8``).
Timing: ``--repeats`` interleaved rounds, each one call of every (case, runner), the order rotated
from round to round; medians.

Last line: JSON with ``fixed_ours_over_bare`` (bare's time over ours, fixed case: the like-for-like
figure), then per case the length distribution, the live-step share (live steps / (batch x
steps)), ``ms_per_call`` and the ratios.

    python benchmarks/brax_throughput.py [--batch 64] [--steps 300] [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np

# The first calls are timed as compilation: keep evojax_rl's persistent compilation cache out of
# them (it would load a previous run's programs instead of compiling).
os.environ.setdefault("EVOJAX_RL_DISABLE_CACHE", "1")

from common import emit  # noqa: E402
from evojax_rl import obs_norm  # noqa: E402
from evojax_rl.policies import mlp_policy  # noqa: E402
from evojax_rl.problems import make  # noqa: E402
from evojax_rl.rollout import make_rollout  # noqa: E402

CASES = {"fixed": 0.01, "terminating": 1.0, "terminating_x3": 3.0}  # scale of policy.init's draws


def bare_fn(brax_env, policy, steps: int):
    """vmap over the batch of a ``steps``-step ``lax.scan`` of brax's ``env.step`` (no masking)."""

    def episode(params, key):
        state = brax_env.reset(key)
        k_act = jax.random.key(0)  # the tanh head ignores its key

        def step(carry, _):
            state, ret = carry
            state = brax_env.step(state, policy.apply(params, state.obs, k_act))
            return (state, ret + state.reward), None

        (_, ret), _ = jax.lax.scan(step, (state, jnp.zeros((), jnp.float32)), None,
                                   length=steps)
        return ret

    def run(key, pop):
        batch = jax.tree.leaves(pop)[0].shape[0]
        return jax.vmap(episode)(pop, jax.random.split(key, batch))

    return jax.jit(run)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--backend", default="spring",
                    help="brax pipeline: spring, positional, generalized, mjx")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="batch 16, 100 steps, 2 repeats")
    args = ap.parse_args()
    if args.quick:
        args.batch, args.steps, args.repeats = 16, 100, 2
    warnings.filterwarnings("ignore", message=".*not actively being maintained.*")
    from brax import envs

    b, t = args.batch, args.steps
    env = make("brax/ant", backend=args.backend, max_steps=t)
    policy = mlp_policy(env, (32, 32), "tanh")
    stats = obs_norm.init(env.observation_space.shape)
    draws = jax.vmap(policy.init)(jax.random.split(jax.random.key(1), b))
    pops = {c: jax.tree.map(lambda x, s=s: x * s, draws) for c, s in CASES.items()}

    ours = {}
    for name, compact in (("ours", True), ("ours_uncompacted", False)):
        ours[name] = jax.jit(make_rollout(env, policy, compact=compact, devices=1))
    bare = bare_fn(envs.get_environment("ant", backend=args.backend), policy, t)
    runners = {
        "ours": lambda k, pop: ours["ours"](k, pop, stats).fitness,
        "ours_uncompacted": lambda k, pop: ours["ours_uncompacted"](k, pop, stats).fitness,
        "bare": bare,
    }

    # Compile each runner (timed), then record every case's lengths and check that compaction
    # gives the uncompacted engine's returns and that the fixed case runs to the limit.
    key = jax.random.key(5)
    compile_s = {}
    for name, run in runners.items():
        t0 = time.perf_counter()
        jax.block_until_ready(run(key, pops["fixed"]))
        compile_s[name] = round(time.perf_counter() - t0, 1)
        print(f"{name:18s} first call (compiling) {compile_s[name]:7.1f} s", flush=True)
    lengths, same = {}, {}
    for c, pop in pops.items():
        res = ours["ours"](key, pop, stats)
        ref = ours["ours_uncompacted"](key, pop, stats)
        same[c] = bool(np.array_equal(np.asarray(res.returns), np.asarray(ref.returns)))
        ln = np.asarray(res.lengths[:, 0])
        lengths[c] = {"median": float(np.median(ln)), "mean": round(float(np.mean(ln)), 1),
                      "min": int(np.min(ln)), "at_limit": int(np.sum(ln >= t)),
                      "live_step_share": round(float(np.mean(ln) / t), 4)}
        print(f"{c:15s} lengths: median {lengths[c]['median']:g}, mean {lengths[c]['mean']:g}, "
              f"min {lengths[c]['min']}, {lengths[c]['at_limit']} of {b} at {t}; live-step "
              f"share {lengths[c]['live_step_share']:.3f}; compacted == uncompacted: {same[c]}",
              flush=True)
    assert lengths["fixed"]["at_limit"] == b, "fixed case: an episode ended early"

    load_before = os.getloadavg()
    order = [(c, n) for c in pops for n in runners]
    times = {c: {n: [] for n in runners} for c in pops}
    for r in range(args.repeats):
        for c, n in order[r % len(order):] + order[:r % len(order)]:
            k = jax.random.fold_in(key, r)
            t0 = time.perf_counter()
            jax.block_until_ready(runners[n](k, pops[c]))
            times[c][n].append(time.perf_counter() - t0)
    med = {c: {n: statistics.median(v) for n, v in ts.items()} for c, ts in times.items()}

    out = {}
    print(f"\nbrax ant ({args.backend}), batch {b}, {t} steps at most, "
          f"median of {args.repeats} rounds")
    for c, m in med.items():
        live = lengths[c]["live_step_share"] * b * t
        print(f"{c} (live-step share {lengths[c]['live_step_share']:.3f}):")
        for n, s in m.items():
            print(f"  {n:18s} {s * 1e3:9.1f} ms/call  {b * t / s:10.0f} lane-steps/s  "
                  f"{live / s:10.0f} live steps/s")
        out[c] = {
            "lengths": lengths[c],
            "compacted_equals_uncompacted": same[c],
            "ms_per_call": {n: round(s * 1e3, 1) for n, s in m.items()},
            "ms_range": {n: [round(min(v) * 1e3, 1), round(max(v) * 1e3, 1)]
                         for n, v in times[c].items()},
            "live_steps_per_s": {n: round(live / s) for n, s in m.items()},
            "ours_over_bare": round(m["bare"] / m["ours"], 3),
            "uncompacted_over_bare": round(m["bare"] / m["ours_uncompacted"], 3),
            "ours_over_uncompacted": round(m["ours_uncompacted"] / m["ours"], 3),
        }
        print(f"  ours over bare {out[c]['ours_over_bare']:.3f}, uncompacted over bare "
              f"{out[c]['uncompacted_over_bare']:.3f}, ours over uncompacted "
              f"{out[c]['ours_over_uncompacted']:.3f}")
    emit({
        "fixed_ours_over_bare": out["fixed"]["ours_over_bare"],
        "terminating_ours_over_bare": out["terminating"]["ours_over_bare"],
        "terminating_x3_ours_over_bare": out["terminating_x3"]["ours_over_bare"],
        "env": "brax/ant",
        "backend": args.backend,
        "batch": b,
        "steps": t,
        "repeats": args.repeats,
        "compile_s": compile_s,
        "load_average": {"before": [round(x, 2) for x in load_before],
                         "after": [round(x, 2) for x in os.getloadavg()]},
        "cases": out,
    })


if __name__ == "__main__":
    main()
