"""The rollout engine against plain Python loops, its reference path, and its memory footprint."""

import functools

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_rl import obs_norm
from evojax_rl.policies import mlp_policy
from evojax_rl.problems import Box, Discrete, Env, make
from evojax_rl.rollout import make_rollout


def population(policy, p, seed=0, scale=1.0):
    pop = jax.vmap(policy.init)(jax.random.split(jax.random.key(seed), p))
    return jax.tree.map(lambda x: scale * x, pop)


@functools.lru_cache(maxsize=None)
def _one_step(name, max_steps, policy):
    """One step of an episode, jitted on its own: ``(params, stats, run_key, t, obs, state) ->
    (obs, state, reward, done)`` with gymnax's public six-value ``step``. Only the per-step
    work is compiled (eager dispatch of each op would cost ~40 ms a step); the episode loop
    stays in Python. Policies are NamedTuples, so ``policy`` is part of the cache key."""
    gym_env, gym_params = gymnax.make(name)
    gym_params = gym_params.replace(max_steps_in_episode=max_steps)

    @jax.jit
    def step(params, stats, run_key, t, obs, state):
        k_act, k_env = jax.random.split(jax.random.fold_in(run_key, t))
        action = policy.apply(params, obs_norm.normalize(stats, obs), k_act)
        obs, state, reward, terminated, truncated, _ = gym_env.step(k_env, state, action,
                                                                    gym_params)
        return jnp.asarray(obs, jnp.float32), state, reward, terminated | truncated

    return gym_env, gym_params, step


def python_loop(name, policy, params, episode_key, max_steps, stats):
    """One episode in a plain Python loop over steps, same key scheme as the engine."""
    gym_env, gym_params, step = _one_step(name, max_steps, policy)
    k_reset, run_key = jax.random.split(episode_key)
    obs, state = gym_env.reset(k_reset, gym_params)
    obs = jnp.asarray(obs, jnp.float32)
    ret, seen = 0.0, []
    for t in range(max_steps):
        seen.append(np.asarray(obs))
        obs, state, reward, done = step(params, stats, run_key, t, obs, state)
        ret += float(reward)
        if bool(done):
            break
    return ret, t + 1, np.stack(seen)


@pytest.mark.parametrize("name,head,steps", [("CartPole-v1", "sample", 60), ("Pendulum-v1", None, 40)])
def test_returns_equal_plain_python_loop(name, head, steps):
    env = make(name, max_steps=steps)
    policy = mlp_policy(env, (8,), head)
    p, e = 4, 2
    pop = population(policy, p)
    # Non-trivial frozen statistics, so normalization is exercised too.
    shape = env.observation_space.shape
    stats = obs_norm.ObsStats(jnp.float32(10.0), jnp.full(shape, 0.1), jnp.full(shape, 20.0))
    key = jax.random.key(7)
    res = jax.jit(make_rollout(env, policy, episodes=e, devices=1))(key, pop, stats)

    keys = jax.random.split(key, p * e).reshape(p, e)
    seen_all = []
    for i in range(p):
        params = jax.tree.map(lambda x: x[i], pop)
        for j in range(e):
            ret, length, seen = python_loop(name, policy, params, keys[i, j], steps, stats)
            np.testing.assert_allclose(res.returns[i, j], ret, rtol=1e-5, atol=1e-4)
            assert int(res.lengths[i, j]) == length
            seen_all.append(seen)
    np.testing.assert_allclose(res.fitness, res.returns.mean(1), rtol=1e-6)
    # The statistics count exactly the live observations, and match numpy's.
    seen = np.concatenate(seen_all)
    assert float(res.obs_stats.count) == len(seen) == int(res.lengths.sum())
    np.testing.assert_allclose(res.obs_stats.mean, seen.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(res.obs_stats.m2 / len(seen), seen.var(0), rtol=1e-3, atol=1e-5)


def test_early_exit_equals_running_to_the_limit():
    """gymnax's CartPole, episodes of many lengths, through the default compaction (64
    episodes: widths 64 and 16); tests/test_rollout_compaction.py checks other patterns (all
    short, all at the limit, a single survivor)."""
    name = "CartPole-v1"
    env = make(name, max_steps=200)
    policy = mlp_policy(env, (16,))
    pop = population(policy, 32, seed=3)
    stats = obs_norm.init(env.observation_space.shape)
    key = jax.random.key(1)
    fast = jax.jit(make_rollout(env, policy, episodes=2, devices=1))(key, pop, stats)
    full = jax.jit(make_rollout(env, policy, episodes=2, devices=1, early_exit=False))(key, pop, stats)
    np.testing.assert_array_equal(fast.lengths, full.lengths)
    np.testing.assert_allclose(fast.returns, full.returns, rtol=1e-6)
    np.testing.assert_allclose(fast.obs_stats.mean, full.obs_stats.mean, rtol=1e-5, atol=1e-6)
    assert len(np.unique(np.asarray(fast.lengths))) > 5  # so early exit and compaction matter


def _temp_bytes(fn, *args):
    return jax.jit(fn).lower(*args).compile().memory_analysis().temp_size_in_bytes


def test_peak_memory_does_not_grow_with_the_step_limit():
    policy = mlp_policy(make("CartPole-v1"), (32, 32))
    pop = population(policy, 16)
    stats = obs_norm.init((4,))
    key = jax.random.key(0)
    sizes = []
    for steps in (100, 10_000):
        env = make("CartPole-v1", max_steps=steps)
        sizes.append(_temp_bytes(make_rollout(env, policy, devices=1), key, pop, stats))
    assert sizes[0] == sizes[1]

    # The measurement does see trajectories: a scan that keeps every observation grows.
    def keep_all(steps):
        def f(pop):
            def body(c, _):
                c = c * 1.01
                return c, c
            return jax.lax.scan(body, jnp.ones((16, 4)), None, length=steps)[1].sum()
        return f

    assert _temp_bytes(keep_all(10_000), pop) > 10 * _temp_bytes(keep_all(100), pop)


@pytest.mark.parametrize("crn", [False, True])
def test_sharded_over_four_devices_equals_one_device(crn):
    assert jax.device_count() == 4  # forced host devices (tests/conftest.py)
    env = make("CartPole-v1")
    policy = mlp_policy(env, (32, 32))
    pop = population(policy, 16, seed=5, scale=2.0)
    stats = obs_norm.ObsStats(jnp.float32(100.0), jnp.zeros(4), jnp.full(4, 5.0))
    key = jax.random.key(9)
    kw = dict(episodes=3, common_random_numbers=crn)
    one = jax.jit(make_rollout(env, policy, devices=1, **kw))(key, pop, stats)
    four = jax.jit(make_rollout(env, policy, devices=4, **kw))(key, pop, stats)
    assert len(four.returns.sharding.device_set) == 4
    np.testing.assert_array_equal(one.returns, four.returns)
    np.testing.assert_array_equal(one.lengths, four.lengths)
    assert float(one.obs_stats.count) == float(four.obs_stats.count)
    np.testing.assert_allclose(one.obs_stats.mean, four.obs_stats.mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(one.obs_stats.m2, four.obs_stats.m2, rtol=1e-5)


def test_popsize_that_does_not_split_over_devices_is_refused():
    env = make("CartPole-v1")
    policy = mlp_policy(env, (4,))
    rollout = make_rollout(env, policy, devices=4)
    with pytest.raises(ValueError, match="popsize 6 does not split over 4 devices"):
        rollout(jax.random.key(0), population(policy, 6), obs_norm.init((4,)))


def test_common_random_numbers_give_every_member_the_same_episodes():
    env = make("CartPole-v1")
    policy = mlp_policy(env, (8,))
    one = population(policy, 1)
    same = jax.tree.map(lambda x: jnp.repeat(x, 8, 0), one)
    stats = obs_norm.init((4,))
    key = jax.random.key(2)
    crn = jax.jit(make_rollout(env, policy, episodes=2, common_random_numbers=True, devices=1))
    res = crn(key, same, stats)
    assert np.all(np.asarray(res.returns) == np.asarray(res.returns[0]))
    plain = jax.jit(make_rollout(env, policy, episodes=2, devices=1))(key, same, stats)
    assert len(np.unique(np.asarray(plain.lengths))) > 1


def _nan_env():
    """A user-protocol env: reward is NaN whenever the action is 1, else 1; 5 steps."""

    def reset(key, params):
        return jnp.zeros(2), jnp.zeros((), jnp.int32)

    def step(key, t, action, params):
        reward = jnp.where(action == 1, jnp.nan, 1.0)
        return jnp.ones(2) * (t + 1), t + 1, reward, t + 1 >= 5, {}

    return Env(reset, step, None, Box(-10.0, 10.0, (2,)), Discrete(2), 5, "nan-env")


def test_nan_reward_gives_a_nan_fitness_for_that_member_only():
    env = _nan_env()
    policy = mlp_policy(env, (), "argmax")  # linear: logits = W obs + b
    pop = population(policy, 4)
    bias = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])  # members 1, 3 pick action 1
    pop = jax.tree.map(jnp.zeros_like, pop)
    pop["params"]["Dense_0"]["bias"] = bias
    res = jax.jit(make_rollout(env, policy, devices=1, obs_norm_on=False))(
        jax.random.key(0), pop, obs_norm.init(())
    )
    fitness = np.asarray(res.fitness)
    np.testing.assert_array_equal(np.isnan(fitness), [False, True, False, True])
    np.testing.assert_array_equal(fitness[[0, 2]], [5.0, 5.0])
