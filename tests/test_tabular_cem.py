"""Tabular CEM (evojax_rl.cem_rl.tabular) against exact value iteration (cem_rl.mdp)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_rl.cem_rl import (
    deterministic_mdp,
    elite_mask,
    elite_size,
    frozen_lake_mdp,
    policy_return,
    policy_values,
    tabular_cem,
    update_policy,
    value_iteration,
)
from evojax_rl.problems import Box, Discrete, Env, make

# A combination lock: states 0..4 in a row, 3 actions. At state i the right action CODE[i]
# moves on (reaching state 5 ends the episode with +10), one wrong action stays, the other sends
# the agent back to 0. Every other step costs -1; 20 steps at most. The unique optimum plays the
# code: return 10 - 4 = 6. A uniformly random matrix's greedy policy plays it with p = 3^-5.
CODE = np.array([2, 0, 1, 2, 1])
LOCK_LEN, LOCK_T, GOAL = 5, 20, 10.0


def _lock_model():
    next_state = np.zeros((LOCK_LEN, 3), np.int32)
    reward = np.full((LOCK_LEN, 3), -1.0)
    done = np.zeros((LOCK_LEN, 3), bool)
    for s in range(LOCK_LEN):
        for a in range(3):
            if a == CODE[s]:
                last = s == LOCK_LEN - 1
                next_state[s, a] = 0 if last else s + 1  # the end: terminal, index unused
                reward[s, a], done[s, a] = (GOAL if last else -1.0), last
            else:
                next_state[s, a] = s if a == (CODE[s] + 1) % 3 else 0
    start = np.eye(LOCK_LEN)[0]
    return next_state, reward, done, start


LOCK_MODEL = _lock_model()


def _lock_env():
    next_state, reward, done, _ = (jnp.asarray(x) for x in LOCK_MODEL)

    def reset(key, params):
        return jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32)

    def step(key, s, a, params):
        s2 = next_state[s, a]
        return s2.astype(jnp.float32), s2, reward[s, a].astype(jnp.float32), done[s, a], {}

    return Env(reset, step, None, Box(0.0, 4.0, ()), Discrete(3), LOCK_T, "lock")


LOCK_ENV = _lock_env()


def test_value_iteration_solves_the_lock():
    mdp = deterministic_mdp(*LOCK_MODEL)
    v, greedy = value_iteration(mdp, LOCK_T)
    np.testing.assert_array_equal(greedy, CODE)
    assert mdp.start @ v == pytest.approx(GOAL - (LOCK_LEN - 1))
    assert policy_return(mdp, greedy, LOCK_T) == pytest.approx(6.0)
    # With k steps left and k < 5 the lock cannot be opened: V = -k from state 0.
    assert value_iteration(mdp, 3)[0][0] == pytest.approx(-3.0)


@pytest.fixture(scope="module")
def lock_run():
    """CEM as the lecture's (top 30% of 200 sessions, Laplace smoothing, smooth updates), 20
    iterations."""
    cem = tabular_cem(LOCK_ENV, LOCK_LEN, sessions=200, percentile=70.0, laplace=0.1, alpha=0.7)
    state, metrics = cem.run(cem.init(jax.random.key(0)), 20)
    return np.asarray(state.policy, np.float64), jax.device_get(metrics), cem


def test_tabular_cem_reaches_the_value_iteration_optimum(lock_run):
    mdp = deterministic_mdp(*LOCK_MODEL)
    v, _ = value_iteration(mdp, LOCK_T)
    optimum = mdp.start @ v
    policy, metrics, _ = lock_run
    greedy = policy.argmax(1).astype(np.int32)
    assert policy_return(mdp, greedy, LOCK_T) == pytest.approx(optimum, abs=1e-6)
    # The stochastic policy itself (what CEM samples) is close: smoothing keeps it from 0/1.
    assert policy_return(mdp, policy / policy.sum(1, keepdims=True), LOCK_T) > optimum - 0.5
    assert metrics["mean_return"][-1] > optimum - 0.5
    assert metrics["threshold"][-1] == pytest.approx(optimum)


def test_without_elite_selection_it_does_not_learn(lock_run):
    """The same update with every session counted (what percentile=0 does: elite_mask keeps
    all, see test_elite_mask): the policy only drifts, and stays far from the optimum."""
    mdp = deterministic_mdp(*LOCK_MODEL)
    _, _, cem = lock_run
    update = jax.jit(lambda p, ss: update_policy(p, ss.obs.astype(jnp.int32), ss.actions,
                                                 ss.alive, laplace=0.1, alpha=0.7))
    policy = jnp.full((LOCK_LEN, 3), 1 / 3)
    for i in range(20):
        played = cem.sample(policy, jax.random.key(i))
        policy = update(policy, played)
    policy = np.asarray(policy, np.float64)
    assert policy_return(mdp, policy.argmax(1).astype(np.int32), LOCK_T) < 0.0
    assert policy_return(mdp, policy / policy.sum(1, keepdims=True), LOCK_T) < 0.0
    assert float(played.returns.mean()) < 0.0


def test_exact_return_matches_sampled_sessions(lock_run):
    """policy_return (exact) against the mean of sampled sessions of the same matrix: ties the
    exact evaluation to the sampler the method uses."""
    mdp = deterministic_mdp(*LOCK_MODEL)
    _, _, cem = lock_run
    policy = jnp.asarray([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2], [0.3, 0.4, 0.3], [0.1, 0.1, 0.8],
                          [0.25, 0.5, 0.25]], jnp.float32)
    returns = np.concatenate([np.asarray(cem.sample(policy, jax.random.key(i)).returns)
                              for i in range(20)])  # 4000 sessions
    exact = policy_return(mdp, np.asarray(policy, np.float64), LOCK_T)
    assert abs(returns.mean() - exact) < 4 * returns.std() / np.sqrt(returns.size)


def test_update_policy_by_hand():
    old = jnp.asarray([[0.5, 0.5], [0.5, 0.5], [0.9, 0.1]])
    # Elite steps: state 0 took 0, 0, 1; state 1 took 1; a padding step (weight 0) at state 1
    # took 0; state 2 unvisited.
    states = jnp.asarray([[0, 0, 1, 1], [0, 2, 2, 2]])
    actions = jnp.asarray([[0, 1, 1, 0], [0, 0, 0, 0]])
    weights = jnp.asarray([[1, 1, 1, 0], [1, 0, 0, 0]])
    new = update_policy(old, states, actions, weights, laplace=1.0, alpha=0.5)
    # (count + 1) / (visits + 2), then halfway from the old row; state 2 kept.
    expected = [[0.5 * 3 / 5 + 0.25, 0.5 * 2 / 5 + 0.25],
                [0.5 * 1 / 3 + 0.25, 0.5 * 2 / 3 + 0.25],
                [0.9, 0.1]]
    np.testing.assert_allclose(new, expected, rtol=1e-6)
    plain = update_policy(old, states, actions, weights)  # no smoothing, replace
    np.testing.assert_allclose(plain, [[2 / 3, 1 / 3], [0.0, 1.0], [0.9, 0.1]], rtol=1e-6)
    reset = update_policy(old, states, actions, weights, alpha=0.5, unvisited="uniform")
    np.testing.assert_allclose(reset[2], [0.7, 0.3], rtol=1e-6)


def test_elite_mask():
    returns = jnp.asarray([1.0, 5.0, 3.0, 5.0, 2.0])
    assert elite_size(5, 60.0) == 2 and elite_size(5, 0.0) == 5 and elite_size(5, 99.9) == 1
    assert elite_size(200, 70.0) == 60
    np.testing.assert_array_equal(elite_mask(jax.random.key(0), returns, 60.0),
                                  [False, True, False, True, False])
    # Ties at the threshold: exactly M kept, the better session always among them, the rest
    # drawn at random among the tied.
    tied = jnp.asarray([0.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    keys = jax.random.split(jax.random.key(0), 40)
    picks = np.asarray(jax.jit(jax.vmap(lambda k: elite_mask(k, tied, 50.0)))(keys))
    assert (picks.sum(1) == 3).all() and picks[:, 3].all()
    assert (picks[:, [0, 1, 2, 4, 5]].sum(0) > 0).all()


def test_frozen_lake_model_matches_gymnax():
    """frozen_lake_mdp (from the rules) against gymnax's FrozenLake-misc: landing frequencies
    of 4000 steps from every (cell, action), and the rewards."""
    env = make("FrozenLake-misc")
    mdp = frozen_lake_mdp()
    _, state0 = env.reset(jax.random.key(0), env.params)
    n = 4000

    def land(s, a):
        state = state0.replace(position=s)
        keys = jax.random.split(jax.random.key(1), n)
        obs, _, r, done, _ = jax.vmap(env.step, in_axes=(0, None, None, None))(
            keys, state, a, env.params)
        freq = jnp.zeros(16).at[obs.astype(jnp.int32)].add(jnp.where(done, 0.0, 1.0)) / n
        return freq, r.mean()

    s, a = jnp.repeat(jnp.arange(16), 4), jnp.tile(jnp.arange(4), 16)
    freq, mean_r = jax.jit(jax.vmap(land))(s, a)
    np.testing.assert_allclose(np.asarray(freq).reshape(16, 4, 16), mdp.transition, atol=0.04)
    np.testing.assert_allclose(np.asarray(mean_r).reshape(16, 4), mdp.reward, atol=0.04)
    v, greedy = value_iteration(mdp, env.max_steps)
    # The optimum at 100 steps, and the best stationary policy's (the greedy one's) return.
    assert mdp.start @ v == pytest.approx(0.7442, abs=1e-4)
    assert policy_return(mdp, greedy, env.max_steps) == pytest.approx(0.7402, abs=1e-4)


@pytest.mark.parametrize("kwargs, match", [
    (dict(sessions=0), "sessions must be an int >= 1, got 0"),
    (dict(percentile=100.0), r"percentile must be in \[0, 100\), got 100.0"),
    (dict(percentile=-1), r"percentile must be in \[0, 100\), got -1"),
    (dict(laplace=-0.5), "laplace must be a finite number >= 0, got -0.5"),
    (dict(alpha=0.0), r"alpha must be in \(0, 1\], got 0.0"),
    (dict(unvisited="reset"), "unvisited must be one of 'keep', 'uniform', got 'reset'"),
    (dict(max_steps=0), "max_steps must be an int >= 1, got 0"),
    (dict(state_of=3), "state_of must be callable"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tabular_cem(LOCK_ENV, LOCK_LEN, **kwargs)


def test_bad_env_and_policies():
    with pytest.raises(ValueError, match="action_space must be Discrete"):
        tabular_cem(LOCK_ENV._replace(action_space=Box(-1.0, 1.0, (1,))), 5)
    with pytest.raises(ValueError, match=r"observations of shape \(2,\); pass state_of"):
        tabular_cem(LOCK_ENV._replace(observation_space=Box(0.0, 1.0, (2,))), 5)
    with pytest.raises(ValueError, match="n_states must be an int >= 1, got 0"):
        tabular_cem(LOCK_ENV, 0)
    mdp = deterministic_mdp(*LOCK_MODEL)
    with pytest.raises(ValueError, match=r"actions must be in 0..2, got values from 0 to 3"):
        policy_values(mdp, np.array([0, 1, 2, 3, 0]), 5)
    with pytest.raises(ValueError, match="rows must be non-negative and sum to 1"):
        policy_values(mdp, np.full((5, 3), 0.5), 5)
    with pytest.raises(ValueError, match="horizon must be an int >= 1, got 0"):
        value_iteration(mdp, 0)
    with pytest.raises(ValueError, match=r"gamma must be in \(0, 1\], got 1.5"):
        value_iteration(mdp, 5, gamma=1.5)
    with pytest.raises(ValueError, match="start must be a probability vector of length 5"):
        deterministic_mdp(LOCK_MODEL[0], LOCK_MODEL[1], LOCK_MODEL[2], np.ones(5))
