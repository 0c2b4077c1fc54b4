"""Environment adapters (gymnax, brax, a user's own) and the policies fitted to their spaces."""

import os
import subprocess
import sys

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_rl import obs_norm
from evojax_rl.policies import mlp_policy
from evojax_rl.problems import Box, Discrete, Env, brax_names, make
from evojax_rl.rollout import make_rollout



def _have_brax() -> bool:
    try:
        import brax  # noqa: F401
    except ImportError:
        return False
    return True


# Each brax test is skipped on its own without the [brax] extra, so the others still run.
needs_brax = pytest.mark.skipif(not _have_brax(), reason="needs the [brax] extra")

# MNISTBandit downloads MNIST when it is built, which needs the network.
NEEDS_NETWORK = {"MNISTBandit-bsuite"}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.skip(reason="downloads MNIST")) if n in NEEDS_NETWORK else n
        for n in gymnax.registered_envs
    ],
)
def test_every_registered_gymnax_env_adapts(name):
    """Reset and three steps with the policy fitted to the env's spaces, in one small jit."""
    env = make(name, max_steps=4)
    assert env.name == name and env.max_steps == 4
    policy = mlp_policy(env, (4,))

    @jax.jit
    def run(key):
        params = policy.init(key)
        obs, state = env.reset(key, env.params)
        total, dones = jnp.zeros(()), []
        for t in range(3):
            action = policy.apply(params, obs, jax.random.fold_in(key, t))
            obs, state, reward, done, _ = env.step(jax.random.fold_in(key, 10 + t), state, action, env.params)
            total, dones = total + reward, dones + [done]
        return obs, total, jnp.stack(dones)

    obs, total, dones = run(jax.random.key(1))
    assert obs.shape == env.observation_space.shape and obs.dtype == jnp.float32
    assert total.shape == () and np.isfinite(float(total))
    assert dones.dtype == jnp.bool_ and dones.shape == (3,)


@pytest.mark.parametrize("name", ["Breakout-MinAtar", "MountainCarContinuous-v0", "Catch-bsuite"])
def test_gymnax_envs_run_through_the_rollout(name):
    env = make(name, max_steps=6)
    policy = mlp_policy(env, (4,))
    pop = jax.vmap(policy.init)(jax.random.split(jax.random.key(0), 2))
    res = jax.jit(make_rollout(env, policy, devices=1))(
        jax.random.key(1), pop, obs_norm.init(env.observation_space.shape)
    )
    assert res.fitness.shape == (2,) and res.lengths.shape == (2, 1)
    assert np.all((np.asarray(res.lengths) >= 1) & (np.asarray(res.lengths) <= 6))
    assert np.all(np.isfinite(np.asarray(res.fitness)))


def test_adapter_step_equals_gymnax_step_before_done():
    env = make("Acrobot-v1")
    gym_env, gym_params = gymnax.make("Acrobot-v1")
    key = jax.random.key(3)
    obs, state = env.reset(key, env.params)
    gobs, gstate = gym_env.reset(key, gym_params)
    np.testing.assert_array_equal(obs, gobs)
    for t in range(20):
        k = jax.random.fold_in(key, t)
        obs, state, r, done, _ = env.step(k, state, t % 3, env.params)
        gobs, gstate, gr, term, trunc, _ = gym_env.step(k, gstate, t % 3, gym_params)
        np.testing.assert_allclose(obs, gobs, rtol=1e-5, atol=1e-6)  # op fusion differs
        assert float(r) == float(gr) and bool(done) == bool(term | trunc)


def test_spaces_and_overrides():
    env = make("Pendulum-v1", env_params={"max_speed": 4.0})
    assert env.params.max_speed == 4.0
    assert isinstance(env.action_space, Box) and env.action_space.shape == (1,)
    assert env.max_steps == 200
    assert make("CartPole-v1").action_space == Discrete(2)
    # Equal configurations share their functions, so jitted rollouts compile once.
    assert make("CartPole-v1", max_steps=9) is make("CartPole-v1", max_steps=9)


def test_unknown_environment_lists_the_valid_names():
    with pytest.raises(ValueError, match="unknown environment 'CartPole-v9'; valid names: .*CartPole-v1"):
        make("CartPole-v9")


@needs_brax
def test_unknown_brax_environment_lists_the_valid_names():
    with pytest.raises(ValueError, match="brax/ant"):
        make("brax/antt")


def test_policy_heads_fit_their_spaces():
    cart = make("CartPole-v1")
    obs = jnp.linspace(-1, 1, 4)
    for head in ("argmax", "sample"):
        pol = mlp_policy(cart, (8,), head)
        a = pol.apply(pol.init(jax.random.key(0)), obs, jax.random.key(1))
        assert a.dtype == jnp.int32 and a.shape == () and 0 <= int(a) < 2
    pend = make("Pendulum-v1")
    pol = mlp_policy(pend, (8,))
    params = jax.tree.map(lambda x: 100.0 * x, pol.init(jax.random.key(0)))
    actions = jax.vmap(lambda o: pol.apply(params, o, None))(jnp.linspace(-5, 5, 30)[:, None] * jnp.ones(3))
    assert actions.shape == (30, 1)
    assert float(actions.min()) >= -2.0 and float(actions.max()) <= 2.0
    assert float(actions.max()) > 1.9  # the tanh head reaches the bound
    with pytest.raises(ValueError, match="head 'tanh' does not fit a Discrete action space"):
        mlp_policy(cart, head="tanh")


def test_a_users_own_env_plugs_in():
    """A 1-D walk: obs is the position, action 1 moves +1, 0 moves -1; reward = position;
    done when the position reaches 3."""

    def reset(key, params):
        return jnp.zeros(1), jnp.zeros((), jnp.float32)

    def step(key, pos, action, params):
        pos = pos + jnp.where(action == 1, 1.0, -1.0) * params
        return pos[None], pos, pos, pos >= 3.0, {}

    env = Env(reset, step, 1.0, Box(-10.0, 10.0, (1,)), Discrete(2), 10, "walk")
    policy = mlp_policy(env, (), "argmax")
    zeros = jax.tree.map(jnp.zeros_like, policy.init(jax.random.key(0)))
    pop = jax.tree.map(lambda x: jnp.stack([x, x]), zeros)
    pop["params"]["Dense_0"]["bias"] = jnp.array([[0.0, 1.0], [1.0, 0.0]])  # always 1 / always 0
    res = jax.jit(make_rollout(env, policy, devices=1))(jax.random.key(0), pop, obs_norm.init((1,)))
    np.testing.assert_array_equal(res.lengths[:, 0], [3, 10])
    np.testing.assert_array_equal(res.fitness, [1 + 2 + 3, -sum(range(1, 11))])


def test_a_foreign_object_is_refused_with_a_clear_sentence():
    with pytest.raises(ValueError, match="expected an evojax_rl.problems.Env"):
        make_rollout(object(), None)


@needs_brax
def test_brax_names_and_backends():
    assert "brax/ant" in brax_names()
    with pytest.raises(ValueError, match="unknown brax backend 'warp'; allowed: generalized"):
        make("brax/ant", backend="warp")


@needs_brax
@pytest.mark.slow
def test_brax_env_runs_through_the_rollout():
    env = make("brax/inverted_pendulum", backend="positional", max_steps=20)
    assert env.action_space.shape == (1,) and env.observation_space.shape == (4,)
    policy = mlp_policy(env, (8,))
    pop = jax.vmap(policy.init)(jax.random.split(jax.random.key(0), 4))
    res = jax.jit(make_rollout(env, policy, devices=1))(jax.random.key(1), pop, obs_norm.init((4,)))
    assert np.all(np.isfinite(np.asarray(res.fitness)))
    assert np.all(np.asarray(res.lengths) >= 1) and np.all(np.asarray(res.lengths) <= 20)


def test_making_a_gymnax_env_leaves_seaborn_for_later():
    """gymnax imports seaborn (and scipy with it, ~3 s) for rendering Pong only: we defer it to
    its first use, which still works."""
    code = ("import sys; from evojax_rl.problems import make; make('CartPole-v1'); "
            "print('scipy.stats' in sys.modules); import seaborn; "
            "print(len(seaborn.color_palette('cubehelix', 3)))")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "3"]
