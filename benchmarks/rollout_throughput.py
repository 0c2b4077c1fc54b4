"""Rollout throughput: ours vs a bare vmapped gymnax scan vs evosax's GymnaxProblem.eval.

Population 256 on CartPole-v1, every episode run to 500 steps by a policy that never falls (a
linear balancing controller embedded in a 4-32-32-2 tanh MLP, plus small per-member noise), so
every runner does the same 128,000 environment steps per call. All are timed in one run,
interleaved, ``--repeats`` rounds of ``--calls`` calls each; figures are medians.

Runners:

- ``ours``: ``make_rollout`` (a ``while_loop`` that stops when every episode is done; it calls
  gymnax's ``step_env``, since our episodes end at done instead of resetting).
- ``bare``: a vmapped 500-step ``lax.scan`` over gymnax's ``step_env``: the same work as ours
  with no masking or early exit. This is the like-for-like floor.
- ``bare_with_autoreset``: the same scan over gymnax's public ``step``, which also computes a
  reset transition at every step (to auto-reset). Ours against it is favourable to us: the
  peer does work we do not.
- ``evosax``: evosax's ``GymnaxProblem.eval`` (its own MLP of the same shape).
- ``bare_unroll{k}``: the ``bare`` scan with ``lax.scan(unroll=k)``: whether the loop, rather
  than the per-step work, is the cost.

Last line: JSON with ``steps_per_s`` and ``ms_per_call`` per runner; ``ours_over_bare`` (the
headline, like for like), ``ours_over_evosax`` and ``ours_over_bare_with_autoreset``
(favourable: the peer computes a reset each step).

    python benchmarks/rollout_throughput.py [--popsize 256] [--repeats 7] [--calls 5] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--popsize", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--calls", type=int, default=5)
    ap.add_argument("--unroll", default="2,4,8",
                    help="lax.scan unroll factors to time ('' for none)")
    ap.add_argument("--no-obs-norm", action="store_true", help="time ours without normalization")
    ap.add_argument("--quick", action="store_true", help="3 repeats of 2 calls, no unrolling")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.calls, args.unroll = 3, 2, ""
    unrolls = [int(u) for u in args.unroll.split(",") if u]

    import gymnax
    from evosax.problems import GymnaxProblem
    from evosax.problems.networks import MLP as EvosaxMLP

    env = make("CartPole-v1")
    policy = mlp_policy(env, (32, 32), "argmax")
    pop = balancing_population(policy, args.popsize, jax.random.key(1))
    steps_per_call = args.popsize * STEPS

    rollout = jax.jit(make_rollout(env, policy, obs_norm_on=not args.no_obs_norm, devices=1))
    stats = obs_norm.init(env.observation_space.shape)
    gym_env, gym_params = gymnax.make("CartPole-v1")
    bare = bare_fn(gym_env, gym_params, policy)
    bare_reset = bare_fn(gym_env, gym_params, policy, auto_reset=True)
    evo_policy = EvosaxMLP(layer_sizes=(32, 32, 2), output_fn=lambda x, key: jnp.argmax(x))
    problem = GymnaxProblem("CartPole-v1", evo_policy, episode_length=STEPS, num_rollouts=1)
    evo_state = problem.init(jax.random.key(2))

    runners = {
        "ours": lambda k: rollout(k, pop, stats).fitness,
        "bare": lambda k: bare(k, pop),
        "bare_with_autoreset": lambda k: bare_reset(k, pop),
        "evosax": lambda k: problem.eval(k, pop, evo_state)[0],
    }
    for u in unrolls:
        runners[f"bare_unroll{u}"] = (lambda f: lambda k: f(k, pop))(
            bare_fn(gym_env, gym_params, policy, unroll=u))
    # Warm up (compile) and check that every member of every runner lasts the full 500 steps.
    for name, run in runners.items():
        fit = run(jax.random.key(3))
        assert float(jnp.min(fit)) == STEPS, (name, float(jnp.min(fit)))

    times = {name: [] for name in runners}
    key = jax.random.key(4)
    for _ in range(args.repeats):
        for name, run in runners.items():
            key, k = jax.random.split(key)
            t0 = time.perf_counter()
            for i in range(args.calls):
                out = run(jax.random.fold_in(k, i))
            jax.block_until_ready(out)
            times[name].append((time.perf_counter() - t0) / args.calls)

    med = {name: statistics.median(ts) for name, ts in times.items()}
    sps = {name: steps_per_call / t for name, t in med.items()}
    for name in runners:
        print(f"{name:20s} {med[name] * 1e3:8.1f} ms/call  {sps[name] / 1e6:7.3f} M steps/s")
    emit({
        "popsize": args.popsize,
        "steps_per_call": steps_per_call,
        "episode_steps": STEPS,
        "repeats": args.repeats,
        "calls": args.calls,
        "obs_norm": not args.no_obs_norm,
        "steps_per_s": {k: round(v) for k, v in sps.items()},
        "ms_per_call": {k: round(v * 1e3, 2) for k, v in med.items()},
        "ours_over_bare": round(sps["ours"] / sps["bare"], 3),
        "ours_over_evosax": round(sps["ours"] / sps["evosax"], 3),
        "ours_over_bare_with_autoreset": round(sps["ours"] / sps["bare_with_autoreset"], 3),
        "unroll_over_bare": {u: round(sps[f"bare_unroll{u}"] / sps["bare"], 3) for u in unrolls},
    })


if __name__ == "__main__":
    main()
