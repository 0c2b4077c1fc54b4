"""Rollout throughput on CartPole-v1: fixed-length episodes against a bare scan, and a random
population (episodes of every length) against evosax's GymnaxProblem.eval.

Two cases, both with a population of ``--popsize`` (256) 4-32-32-2 tanh MLPs (argmax head) and
the 500-step limit, timed in one run, interleaved: ``--repeats`` rounds, each timing ``--calls``
calls of every runner of both cases (the order of the runners rotates from round to round);
figures are medians over the rounds.

**Fixed** (like for like): a linear balancing controller embedded in the MLP, plus small
per-member noise, so that every episode runs the full 500 steps and every runner does the same
``P x 500`` environment steps per call. Runners:

- ``ours``: ``make_rollout`` with compaction on (the default) and observation normalization
  off, so it does the work the peers do (it calls gymnax's ``step_env``, since our episodes end
  at done instead of resetting).
- ``ours_uncompacted``: the same with ``compact=False`` (a vmapped ``while_loop``).
- ``ours_obs_norm``: ``ours`` with observation normalization on, as a user gets it by default:
  per-step statistics and normalization that no peer computes (in both cases).
- ``bare``: a vmapped 500-step ``lax.scan`` over gymnax's ``step_env``: the environment's own
  step without automatic reset, no masking, no early exit, no observation statistics. The floor.
- ``bare_with_autoreset``: the same scan over gymnax's public ``step``, which also computes a
  reset transition at every step (to auto-reset). Ours against it is favourable to us: the
  peer does work we do not.
- ``evosax``: evosax's ``GymnaxProblem.eval`` (its own MLP class, fed the same parameters).
- ``bare_unroll{k}``: the ``bare`` scan with ``lax.scan(unroll=k)``: whether the loop, rather
  than the per-step work, is the cost.

**Random**: ``P`` members drawn by ``policy.init`` from ``jax.random.key(1)`` (seed
``--population-seed``): most fall within 10-30 steps, a handful balance for the full 500, so a
batch that runs every lane until the last episode ends does ~8x more lane-steps than there are
live steps. Common random numbers (every member starts from the same state in a call), as
evosax's ``GymnaxProblem.eval`` does, so both sides run the same episodes: same parameters, same
network, same initial states (returns agree up to argmax flips from float rounding in the MLP,
which change some chaotic episodes; both sides' length distributions are printed). Every call
index uses the same episode key in every round and for every runner, so the work per call is
fixed. Runners: ``ours`` (compaction on), ``ours_uncompacted``, ``evosax`` (``problem.eval`` as
a user calls it: it returns every step's environment state), ``evosax_fused`` (the same inside
one ``jax.jit`` that returns only the fitness, so XLA may drop the states), ``bare`` (the
500-step scan of every lane: what running all lanes to the limit costs; its returns are not
episode returns). The live-step share is live steps / (P x 500).

Last line: JSON, headline ratios first: ``fixed_ours_over_bare`` (target >= 0.9) and
``random_ours_over_evosax`` (evosax's ``problem.eval`` time over ours; target >= 3) with
``random_live_step_share`` beside it; then per case ``ms_per_call`` and the other ratios
(``ours_over_bare_with_autoreset`` is the favourable one, labelled as such).

    python benchmarks/rollout_throughput.py [--popsize 256] [--repeats 7] [--calls 5] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from common import emit
from evojax_rl import obs_norm
from evojax_rl.policies import mlp_policy
from evojax_rl.problems import make
from evojax_rl.rollout import make_rollout

STEPS = 500


def balancing_population(policy, popsize: int, key):
    """``popsize`` MLP params whose argmax action is ``[x, x', th, th'] @ w > 0`` (never falls)."""
    params = policy.init(jax.random.key(0))
    w = jnp.array([0.1, 0.5, 1.0, 0.5], jnp.float32)
    eps = 1e-2
    p = jax.tree.map(jnp.zeros_like, params)
    d = p["params"]
    d["Dense_0"]["kernel"] = d["Dense_0"]["kernel"].at[:, 0].set(eps * w)
    d["Dense_1"]["kernel"] = d["Dense_1"]["kernel"].at[0, 0].set(1.0)
    d["Dense_2"]["kernel"] = d["Dense_2"]["kernel"].at[0, :].set(jnp.array([-1.0, 1.0]))
    leaves, treedef = jax.tree.flatten(p)
    keys = jax.random.split(key, len(leaves))
    noisy = [leaf[None] + 1e-5 * jax.random.normal(k, (popsize,) + leaf.shape)
             for leaf, k in zip(leaves, keys)]
    return jax.tree.unflatten(treedef, noisy)


def random_population(policy, popsize: int, seed: int):
    """``popsize`` members as ``policy.init`` draws them (one key each from ``key(seed)``)."""
    return jax.vmap(policy.init)(jax.random.split(jax.random.key(seed), popsize))


def bare_fn(gym_env, gym_params, policy, auto_reset: bool = False, unroll: int = 1):
    """vmap over the population of a 500-step scan of gymnax's ``step_env`` (no masking).

    ``auto_reset=True`` scans gymnax's public ``step`` instead, which computes a reset
    transition at every step; ``unroll`` is passed to ``lax.scan``.
    """

    def episode(params, key):
        k_reset, k_run = jax.random.split(key)
        obs, state = gym_env.reset(k_reset, gym_params)

        def step(carry, k):
            obs, state, ret = carry
            k_act, k_env = jax.random.split(k)
            action = policy.apply(params, obs, k_act)
            if auto_reset:
                obs, state, reward, _, _, _ = gym_env.step(k_env, state, action, gym_params)
            else:
                obs, state, reward, _, _ = gym_env.step_env(k_env, state, action, gym_params)
            return (obs, state, ret + reward), None

        (_, _, ret), _ = jax.lax.scan(step, (obs, state, 0.0), jax.random.split(k_run, STEPS),
                                      unroll=unroll)
        return ret

    def run(key, pop):
        popsize = jax.tree.leaves(pop)[0].shape[0]
        return jax.vmap(episode)(pop, jax.random.split(key, popsize))

    return jax.jit(run)


def length_summary(lengths: np.ndarray, popsize: int) -> dict:
    """Median, mean, min, members at the limit (per call) and the live-step share of
    ``lengths: [calls, P]``."""
    return {
        "median": float(np.median(lengths)),
        "mean": round(float(np.mean(lengths)), 1),
        "min": int(np.min(lengths)),
        "at_limit_per_call": round(float(np.mean(np.sum(lengths >= STEPS, axis=1))), 1),
        "live_steps_per_call": round(float(np.mean(np.sum(lengths, axis=1)))),
        "live_step_share": round(float(np.mean(lengths) / STEPS), 4),
    }


def time_rounds(cases: dict, keys: list, repeats: int) -> dict:
    """``{case: {runner: [seconds per call, one per round]}}``; every round times ``len(keys)``
    calls of every runner, the runners' order rotated from round to round."""
    order = [(c, n) for c, runners in cases.items() for n in runners]
    times = {c: {n: [] for n in runners} for c, runners in cases.items()}
    for r in range(repeats):
        for c, n in order[r % len(order):] + order[:r % len(order)]:
            run = cases[c][n]
            t0 = time.perf_counter()
            for k in keys:
                out = run(k)
            jax.block_until_ready(out)
            times[c][n].append((time.perf_counter() - t0) / len(keys))
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--popsize", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--calls", type=int, default=5)
    ap.add_argument("--population-seed", type=int, default=1,
                    help="seed of the random population's policy.init draws")
    ap.add_argument("--unroll", default="2,4,8",
                    help="lax.scan unroll factors to time ('' for none)")
    ap.add_argument("--quick", action="store_true", help="3 repeats of 2 calls, no unrolling")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.calls, args.unroll = 3, 2, ""
    unrolls = [int(u) for u in args.unroll.split(",") if u]
    popsize = args.popsize

    import gymnax
    from evosax.problems import GymnaxProblem
    from evosax.problems.networks import MLP as EvosaxMLP

    env = make("CartPole-v1")
    policy = mlp_policy(env, (32, 32), "argmax")
    stats = obs_norm.init(env.observation_space.shape)
    gym_env, gym_params = gymnax.make("CartPole-v1")
    evo_policy = EvosaxMLP(layer_sizes=(32, 32, 2), output_fn=lambda x, key: jnp.argmax(x))
    problem = GymnaxProblem("CartPole-v1", evo_policy, episode_length=STEPS, num_rollouts=1)
    evo_state = problem.init(jax.random.key(2))
    evo_fused = jax.jit(lambda k, pop: problem.eval(k, pop, evo_state)[0])

    def ours_runners(pop, crn):
        # ours and ours_uncompacted do the peers' work (no observation statistics);
        # ours_obs_norm is the default a user gets, with normalization on.
        out = {}
        for name, compact, norm_on in (("ours", True, False), ("ours_uncompacted", False, False),
                                       ("ours_obs_norm", True, True)):
            ro = jax.jit(make_rollout(env, policy, obs_norm_on=norm_on, compact=compact,
                                      common_random_numbers=crn, devices=1))
            out[name] = (lambda ro: lambda k: ro(k, pop, stats))(ro)
        return out

    bare = bare_fn(gym_env, gym_params, policy)

    # Fixed: every episode runs to the limit.
    fixed_pop = balancing_population(policy, popsize, jax.random.key(1))
    fixed = {k: (lambda f: lambda key: f(key).fitness)(f)
             for k, f in ours_runners(fixed_pop, False).items()}
    fixed["bare"] = lambda k: bare(k, fixed_pop)
    fixed["bare_with_autoreset"] = (lambda f: lambda k: f(k, fixed_pop))(
        bare_fn(gym_env, gym_params, policy, auto_reset=True))
    fixed["evosax"] = lambda k: problem.eval(k, fixed_pop, evo_state)[0]
    for u in unrolls:
        fixed[f"bare_unroll{u}"] = (lambda f: lambda k: f(k, fixed_pop))(
            bare_fn(gym_env, gym_params, policy, unroll=u))

    # Random: policy.init's spread of lengths, common random numbers (evosax's semantics).
    rand_pop = random_population(policy, popsize, args.population_seed)
    ours_rand = ours_runners(rand_pop, True)
    rand = {k: (lambda f: lambda key: f(key).fitness)(f) for k, f in ours_rand.items()}
    rand["evosax"] = lambda k: problem.eval(k, rand_pop, evo_state)[0]
    rand["evosax_fused"] = lambda k: evo_fused(k, rand_pop)
    rand["bare"] = lambda k: bare(k, rand_pop)

    # Warm up (compile); check the fixed case runs every episode to the limit and that the
    # random case's engines agree; record the random case's lengths on the timed keys.
    keys = [jax.random.key(100 + i) for i in range(args.calls)]
    for name, run in fixed.items():
        fit = run(keys[0])
        assert float(jnp.min(fit)) == STEPS, (name, float(jnp.min(fit)))
    ours_len, evo_len, agree = [], [], []
    for k in keys:
        res = ours_rand["ours"](k)
        ref = ours_rand["ours_uncompacted"](k)
        assert np.array_equal(np.asarray(res.lengths), np.asarray(ref.lengths)), "compaction"
        ours_len.append(np.asarray(res.lengths[:, 0]))
        evo_fit = np.asarray(rand["evosax"](k))  # CartPole pays 1 per step: return = length
        evo_len.append(evo_fit)
        agree.append(float(np.mean(evo_fit == np.asarray(res.fitness))))
    for run in rand.values():
        run(keys[0])
    ours_len, evo_len = np.stack(ours_len), np.stack(evo_len)
    lengths = length_summary(ours_len, popsize)
    share = lengths["live_step_share"]
    print(f"random population (policy.init, seed {args.population_seed}), {args.calls} calls: "
          f"median length {lengths['median']:g}, mean {lengths['mean']:g}, "
          f"{lengths['at_limit_per_call']:g} of {popsize} at {STEPS} per call, live steps "
          f"{lengths['live_steps_per_call']:,} of {popsize * STEPS:,} per call "
          f"(share {share:.3f}); evosax's episodes: mean {np.mean(evo_len):.1f}, "
          f"{np.mean(np.sum(evo_len >= STEPS, axis=1)):g} at {STEPS}; same return as ours for "
          f"{np.mean(agree):.1%} of members", flush=True)

    load_before = os.getloadavg()
    times = time_rounds({"fixed": fixed, "random": rand}, keys, args.repeats)
    med = {c: {n: statistics.median(ts) for n, ts in t.items()} for c, t in times.items()}
    spread = {c: {n: [round(min(ts) * 1e3, 2), round(max(ts) * 1e3, 2)] for n, ts in t.items()}
              for c, t in times.items()}

    steps = popsize * STEPS
    print(f"\nfixed: {popsize} x {STEPS} = {steps:,} environment steps per call")
    for n, t in med["fixed"].items():
        print(f"  {n:22s} {t * 1e3:8.2f} ms/call  {steps / t / 1e6:7.3f} M steps/s")
    print(f"random: {lengths['live_steps_per_call']:,} live steps per call "
          f"(share {share:.3f} of {steps:,})")
    for n, t in med["random"].items():
        print(f"  {n:22s} {t * 1e3:8.2f} ms/call  "
              f"{lengths['live_steps_per_call'] / t / 1e6:7.3f} M live steps/s")

    f, r = med["fixed"], med["random"]
    fixed_ratio = f["bare"] / f["ours"]
    random_ratio = r["evosax"] / r["ours"]
    print(f"\nfixed_ours_over_bare {fixed_ratio:.3f} (target >= 0.9; with observation "
          f"normalization on, work the bare scan does not do: {f['bare'] / f['ours_obs_norm']:.3f}); "
          f"random_ours_over_evosax {random_ratio:.2f}x (target >= 3) at live-step share "
          f"{share:.3f}; against evosax fused in one jit {r['evosax_fused'] / r['ours']:.2f}x")
    emit({
        "fixed_ours_over_bare": round(fixed_ratio, 3),
        "random_ours_over_evosax": round(random_ratio, 3),
        "random_live_step_share": share,
        "popsize": popsize,
        "episode_steps": STEPS,
        "repeats": args.repeats,
        "calls": args.calls,
        "obs_norm": "off for ours and ours_uncompacted (as for every peer); on for ours_obs_norm",
        "load_average": {"before": [round(x, 2) for x in load_before],
                         "after": [round(x, 2) for x in os.getloadavg()]},
        "fixed": {
            "steps_per_call": steps,
            "ms_per_call": {n: round(t * 1e3, 2) for n, t in f.items()},
            "ms_range": spread["fixed"],
            "steps_per_s": {n: round(steps / t) for n, t in f.items()},
            "ours_over_bare": round(fixed_ratio, 3),
            "uncompacted_over_bare": round(f["bare"] / f["ours_uncompacted"], 3),
            "obs_norm_over_bare": round(f["bare"] / f["ours_obs_norm"], 3),
            "ours_over_evosax": round(f["evosax"] / f["ours"], 3),
            # Favourable to us: the peer computes a reset at every step, which we never need.
            "ours_over_bare_with_autoreset": round(f["bare_with_autoreset"] / f["ours"], 3),
            "unroll_over_bare": {u: round(f["bare"] / f[f"bare_unroll{u}"], 3)
                                 for u in unrolls},
        },
        "random": {
            "population": f"policy.init, seed {args.population_seed}",
            "common_random_numbers": True,
            "lengths": lengths,
            "evosax_lengths": length_summary(evo_len, popsize),
            "same_return_as_evosax": round(float(np.mean(agree)), 4),
            "ms_per_call": {n: round(t * 1e3, 2) for n, t in r.items()},
            "ms_range": spread["random"],
            "live_steps_per_s": {n: round(lengths["live_steps_per_call"] / t)
                                 for n, t in r.items()},
            "ours_over_evosax": round(random_ratio, 3),
            "ours_over_evosax_fused": round(r["evosax_fused"] / r["ours"], 3),
            "obs_norm_over_evosax": round(r["evosax"] / r["ours_obs_norm"], 3),
            "ours_over_uncompacted": round(r["ours_uncompacted"] / r["ours"], 3),
            "uncompacted_over_evosax": round(r["evosax"] / r["ours_uncompacted"], 3),
            # An estimate: the live steps at the bare scan's cost per lane-step at full width.
            "ours_over_ideal": round(share * r["bare"] / r["ours"], 3),
        },
    })


if __name__ == "__main__":
    main()
