"""Rollout throughput: ours vs the bare vmapped gymnax scan vs evosax's GymnaxProblem.eval.

Population 256 on CartPole-v1, every episode run to 500 steps by a policy that never falls (a
linear balancing controller embedded in a 4-32-32-2 tanh MLP, plus small per-member noise), so
all three do the same 128,000 environment steps per call. The three are timed in one run,
interleaved, ``--repeats`` rounds of ``--calls`` calls each; figures are medians.

Last line: JSON with ``ours``, ``bare``, ``evosax`` (env steps per second), ``ours_over_bare``,
``ours_over_evosax``; also ``bare_noreset`` (the bare scan over gymnax's ``step_env``, i.e. without
the automatic reset that gymnax's ``step`` computes at every step) and ``ours_over_bare_noreset``.

    python benchmarks/rollout_throughput.py [--popsize 256] [--repeats 7] [--calls 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import jax
import jax.numpy as jnp

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


def bare_fn(gym_env, gym_params, policy, auto_reset: bool = True):
    """vmap over the population of a 500-step scan of gymnax's own ``step`` (no masking).

    ``auto_reset=False`` scans gymnax's ``step_env`` instead (no reset transition per step): the
    floor our adapter stands on, reported as ``bare_noreset`` for transparency.
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

        (_, _, ret), _ = jax.lax.scan(step, (obs, state, 0.0), jax.random.split(k_run, STEPS))
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
    ap.add_argument("--no-obs-norm", action="store_true", help="time ours without normalization")
    args = ap.parse_args()

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
    bare_noreset = bare_fn(gym_env, gym_params, policy, auto_reset=False)
    evo_policy = EvosaxMLP(layer_sizes=(32, 32, 2), output_fn=lambda x, key: jnp.argmax(x))
    problem = GymnaxProblem("CartPole-v1", evo_policy, episode_length=STEPS, num_rollouts=1)
    evo_state = problem.init(jax.random.key(2))

    runners = {
        "ours": lambda k: rollout(k, pop, stats).fitness,
        "bare": lambda k: bare(k, pop),
        "bare_noreset": lambda k: bare_noreset(k, pop),
        "evosax": lambda k: problem.eval(k, pop, evo_state)[0],
    }
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
        print(f"{name:12s} {med[name] * 1e3:8.1f} ms/call  {sps[name] / 1e6:7.3f} M steps/s")
    print(f"# {platform.processor() or platform.machine()}, {jax.device_count()} device(s), "
          f"jax {jax.__version__}, popsize {args.popsize}, obs_norm {not args.no_obs_norm}")
    out = {
        "ours": round(sps["ours"]),
        "bare": round(sps["bare"]),
        "evosax": round(sps["evosax"]),
        "ours_over_bare": round(sps["ours"] / sps["bare"], 3),
        "ours_over_evosax": round(sps["ours"] / sps["evosax"], 3),
        "bare_noreset": round(sps["bare_noreset"]),
        "ours_over_bare_noreset": round(sps["ours"] / sps["bare_noreset"], 3),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
