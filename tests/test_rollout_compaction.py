"""Compaction (``make_rollout(compact=True)``, the default) against the uncompacted engine.

Compaction moves episodes between lanes and gathers each member's parameters anew for every
width, so what it can get wrong is which parameters, keys and results go with which episode.
The episodes here make that visible: a member's parameters set its episode's length and
rewards, and the environment's per-step noise comes from the episode's key.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_rl import obs_norm, rollout as rollout_module
from evojax_rl.policies import mlp_policy
from evojax_rl.problems import Box, Env, make
from evojax_rl.rollout import make_rollout

LIMIT = 64
# Frozen observation statistics that are not the identity, so normalization is exercised.
STATS = obs_norm.ObsStats(jnp.float32(5.0), jnp.full((2,), 0.3), jnp.full((2,), 2.0))


def _lengths_env() -> Env:
    """A user-protocol env whose episode length is set by the first action.

    obs = ``[t / LIMIT, u]`` with ``u ~ U(0, 1)`` drawn from the step's key; the first action
    ``a in [0, 1]`` sets the length ``1 + floor(1.5 * LIMIT * a)`` (so ``a > 2/3`` outlives
    ``LIMIT``); every reward is ``a_t + u``.
    """

    def reset(key, params):
        u = jax.random.uniform(key)
        return jnp.stack([0.0, u]), (jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))

    def step(key, state, action, params):
        t, length = state
        a = action[0]
        length = jnp.where(t == 0, 1 + jnp.floor(1.5 * LIMIT * a).astype(jnp.int32), length)
        u = jax.random.uniform(key)
        t = t + 1
        obs = jnp.stack([t / LIMIT, u]).astype(jnp.float32)
        return obs, (t, length), a + u, t >= length, {}

    return Env(reset, step, None, Box(-1.0, 2.0, (2,)), Box(0.0, 1.0, (1,)), LIMIT, "lengths")


def _population(policy, p, bias, seed=0):
    """``p`` linear policies with random weights and output biases ``bias: [p]``."""
    pop = jax.vmap(policy.init)(jax.random.split(jax.random.key(seed), p))
    pop["params"]["Dense_0"]["bias"] = jnp.asarray(bias, jnp.float32).reshape(p, 1)
    return pop


# Output bias per member (tanh head: a = (tanh(z) + 1) / 2): -4 gives length 1-2, +4 outlives
# the limit, 0 spreads the lengths over 1..LIMIT with the random weights and noise.
PATTERNS = {
    "spread": [0.0] * 16,
    "all_short": [-4.0] * 16,
    "all_long": [4.0] * 16,
    "single_survivor": [-4.0] * 11 + [4.0] + [-4.0] * 4,
    "halves": [-4.0] * 8 + [4.0] * 8,
}


def _run(env, policy, pop, stats, **kw):
    return jax.jit(make_rollout(env, policy, **kw))(jax.random.key(3), pop, stats)


def _assert_same(a, b):
    """Lengths equal; returns and statistics to float32 rounding (a lane's arithmetic may be
    compiled differently at another batch width: it was bit-identical on the CPU we measured)."""
    np.testing.assert_array_equal(a.lengths, b.lengths)
    for x, y in [(a.returns, b.returns), (a.fitness, b.fitness), *zip(a.obs_stats, b.obs_stats)]:
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


@pytest.fixture
def every_width(monkeypatch):
    """Compaction quarters the width down to two lanes (32, 8, 2 for 32 episodes), so live
    episodes move more than once."""
    monkeypatch.setattr(rollout_module, "COMPACT_LEVELS", 99)
    monkeypatch.setattr(rollout_module, "COMPACT_FLOOR", 2)


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_compaction_equals_the_uncompacted_engine(pattern, every_width):
    env = _lengths_env()
    policy = mlp_policy(env, ())
    pop = _population(policy, 16, PATTERNS[pattern])
    kw = dict(episodes=2, devices=1)
    compact = _run(env, policy, pop, STATS, **kw)
    plain = _run(env, policy, pop, STATS, compact=False, **kw)
    lengths = np.asarray(plain.lengths)
    expected = {
        "spread": lambda: len(np.unique(lengths)) > 8,
        "all_short": lambda: lengths.max() <= 2,
        "all_long": lambda: lengths.min() == LIMIT,
        "single_survivor": lambda: (lengths == LIMIT).sum() == 2 and lengths[11].min() == LIMIT,
        "halves": lambda: (lengths[8:] == LIMIT).all() and (lengths[:8] <= 2).all(),
    }[pattern]
    assert expected(), lengths  # the pattern is what its name says
    _assert_same(compact, plain)
    # ... and equal to the scan that runs every episode to the limit.
    _assert_same(compact, _run(env, policy, pop, STATS, early_exit=False, **kw))


def test_every_lane_keeps_its_own_parameters_and_keys(every_width):
    """Long episodes of members that differ only in their random weights: after the short
    ones are compacted away, each survivor still earns with its own parameters and noise."""
    env = _lengths_env()
    policy = mlp_policy(env, ())
    bias = np.where(np.arange(16) % 5 == 0, 4.0, -4.0)  # members 0, 5, 10, 15 live long
    pop = _population(policy, 16, bias, seed=1)
    kw = dict(episodes=2, devices=1)
    res = _run(env, policy, pop, STATS, **kw)
    plain = _run(env, policy, pop, STATS, compact=False, **kw)
    assert len(np.unique(np.asarray(res.returns)[::5])) == 8  # the survivors earn differently
    _assert_same(res, plain)


def test_compaction_per_device_equals_one_device(every_width):
    """Each of 4 devices compacts its own episodes; every member plays the same episodes
    (common random numbers), so a key given to the wrong lane would show."""
    assert jax.device_count() == 4  # forced host devices (tests/conftest.py)
    env = _lengths_env()
    policy = mlp_policy(env, ())
    pop = _population(policy, 16, PATTERNS["spread"], seed=2)
    kw = dict(episodes=2, common_random_numbers=True)
    four = _run(env, policy, pop, STATS, devices=4, **kw)
    one = _run(env, policy, pop, STATS, devices=1, compact=False, **kw)
    assert len(four.returns.sharding.device_set) == 4
    assert len(np.unique(np.asarray(one.lengths))) > 8  # spread out, so compaction matters
    _assert_same(four, one)


def test_compact_needs_early_exit():
    env = make("CartPole-v1")
    policy = mlp_policy(env, (4,))
    with pytest.raises(ValueError, match="compact=True needs early_exit=True"):
        make_rollout(env, policy, early_exit=False, compact=True)
    with pytest.raises(ValueError, match="compact must be True or False, got 'yes'"):
        make_rollout(env, policy, compact="yes")
