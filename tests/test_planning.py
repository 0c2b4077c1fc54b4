"""Planning by evolution (evojax_rl.planning): the warm start, known optimal plans on hand-built
environments, discrete and box actions, done inside the horizon, vmap against single episodes,
CartPole balanced through the CLI, and bad input.

Budgets are tiny and configurations are shared, so that the whole file compiles few programs.
"""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_rl import cli, planning
from evojax_rl.problems import Box, Discrete, Env, register
from evojax_rl.strategies import cem

T = 6  # steps of the hand-built episodes
BOX_TARGETS = np.array([1.5, -2.0, 0.5, -1.0, 2.0, 0.0], np.float32)  # within the box [-2, 2]
SEQUENCE = np.array([2, 0, 1, 1, 0, 2], np.int32)  # Discrete(3)


def _tracking_env(targets, space):
    """State: the step index t. Reward for matching ``targets[t]`` (box: minus the squared
    miss; discrete: 1 for a hit): the best plan from step t is ``targets[t:t+H]``."""

    def reset(key, params):
        return jnp.zeros((1,), jnp.float32), jnp.zeros((), jnp.int32)

    def step(key, t, action, params):
        goal = params[jnp.minimum(t, T - 1)]
        if isinstance(space, Box):
            reward = -jnp.sum(jnp.square(action - goal))
        else:
            reward = (action == goal).astype(jnp.float32)
        t = t + 1
        return t.astype(jnp.float32)[None], t, reward, t >= T, {}

    return Env(reset, step, jnp.asarray(targets), Box(-1e3, 1e3, (1,)), space, T, "tracking")


BOX_ENV = _tracking_env(BOX_TARGETS, Box(-2.0, 2.0, (1,)))
DISCRETE_ENV = _tracking_env(SEQUENCE, Discrete(3))


def _step(planner, t=0, plan=None):
    """One control step from step ``t`` of a fresh episode (the hand-built environments' state
    is ``t``), warm-started from ``plan`` (default: the neutral plan)."""
    episode = planner.reset(jax.random.key(0))
    episode = episode._replace(env_state=jnp.int32(t), t=jnp.int32(t))
    if plan is not None:
        episode = episode._replace(plan=jnp.asarray(plan, jnp.float32))
    return jax.jit(planner.step)(episode)


# One planner (and so one compiled step) for the box tests: 40 generations of 32 plans.
BOX_PLANNER = dict(horizon=4, iterations=40, popsize=32)


def test_shift_moves_the_plan_one_step_and_fills_the_tail():
    plan = jnp.arange(8.0).reshape(4, 2)
    out = planning.shift(plan, jnp.array([-1.0, -2.0]))
    np.testing.assert_array_equal(out, [[2, 3], [4, 5], [6, 7], [-1, -2]])


def test_box_plans_are_scaled_to_the_box_and_clipped():
    planner = planning.make_planner(BOX_ENV, **BOX_PLANNER)
    decode = jax.jit(planner.decode)
    np.testing.assert_allclose(decode(jnp.array([0.25])), [0.5])  # centre 0, half-width 2
    np.testing.assert_allclose(decode(jnp.array([3.0])), [2.0])
    np.testing.assert_allclose(decode(jnp.array([-7.0])), [-2.0])
    assert planner.initial_plan.shape == (4, 1) and not planner.initial_plan.any()
    # An unbounded coordinate is used as it is; a bounded one is scaled.
    env = BOX_ENV._replace(action_space=Box(np.array([-np.inf, 0.0]), np.array([np.inf, 4.0]),
                                            (2,)))
    decode = planning.make_planner(env, horizon=2, iterations=1, popsize=4).decode
    np.testing.assert_allclose(decode(jnp.array([5.0, -0.5])), [5.0, 1.0])


@pytest.mark.parametrize("strategy", ["cem", "cma_es"])
def test_box_plan_finds_the_known_optimal_sequence(strategy):
    planner = planning.make_planner(BOX_ENV, strategy, **BOX_PLANNER)
    episode, record = _step(planner, t=1)
    # The first action is executed; the rest of the plan is the next step's warm plan.
    np.testing.assert_allclose(record.action, BOX_TARGETS[1:2], atol=0.15)
    np.testing.assert_allclose(np.asarray(episode.plan[:3, 0]) * 2, BOX_TARGETS[2:5], atol=0.15)
    assert -0.05 < float(record.planned_return) <= 0 and bool(record.live)
    assert float(record.reward) == pytest.approx(-(float(record.action[0]) - BOX_TARGETS[1]) ** 2)


def test_the_warm_start_is_kept_and_shifted():
    """From the optimal plan no candidate does better, so the plan kept is the warm plan: its
    first action is executed and the rest, shifted, becomes the next warm plan."""
    planner = planning.make_planner(BOX_ENV, **BOX_PLANNER)
    best = BOX_TARGETS[:4, None] / 2  # plan coordinates: action / half-width
    episode, record = _step(planner, t=0, plan=best)
    np.testing.assert_allclose(record.action, BOX_TARGETS[:1], atol=1e-6)
    assert float(record.reward) == 0.0 and float(record.planned_return) == 0.0
    np.testing.assert_allclose(episode.plan, np.r_[BOX_TARGETS[1:4] / 2, 0.0][:, None],
                               atol=1e-6)
    assert int(episode.t) == 1 and not bool(episode.done)


def test_discrete_plan_finds_the_known_optimal_sequence():
    planner = planning.make_planner(DISCRETE_ENV, horizon=5, iterations=10, popsize=64)
    assert planner.initial_plan.shape == (5, 2)  # logits of actions 1 and 2 against action 0's
    episode, record = _step(planner, t=1)
    assert int(record.action) == SEQUENCE[1] and float(record.planned_return) == 5.0
    assert [int(planner.decode(x)) for x in episode.plan[:4]] == list(SEQUENCE[2:6])


def test_returns_stop_at_done_and_at_the_episode_limit():
    """A model (not the environment) whose episode ends after 3 steps and whose rewards after
    that are NaN: every plan is worth 3 over a horizon of 5, and 2 when only 2 steps of the
    episode are left."""

    def step(key, c, action, params):
        reward = jnp.where(c > 0, 1.0, jnp.nan)
        return c - 1, reward, c - 1 <= 0

    model = planning.Model(start=lambda obs, state: jnp.int32(3), step=step, params=None)
    planner = planning.make_planner(BOX_ENV, horizon=5, iterations=2, popsize=4, model=model)
    assert float(_step(planner, t=0)[1].planned_return) == 3.0
    assert float(_step(planner, t=T - 2)[1].planned_return) == 2.0


def test_a_batch_of_episodes_equals_its_episodes_one_by_one():
    planner = planning.make_planner(BOX_ENV, **BOX_PLANNER)  # its step is compiled already
    key = jax.random.key(7)
    batch = planning.run(planner, key, 3, chunk=4, record=True)
    assert batch.steps == T and list(batch.lengths) == [T] * 3
    assert batch.trajectory.action.shape == (3, T, 1)
    step = jax.jit(planner.step)
    for i, k in enumerate(jax.random.split(key, 3)):
        episode = planner.reset(k)
        for t in range(T):
            episode, record = step(episode)
            np.testing.assert_allclose(batch.trajectory.action[i, t], record.action, atol=1e-5)
        np.testing.assert_allclose(batch.returns[i], episode.ret, rtol=1e-5, atol=1e-5)
        assert bool(episode.done) and int(episode.t) == batch.lengths[i]
    # A step of an ended episode changes nothing (its plan would earn -4 if it were taken).
    again, record = step(episode._replace(plan=jnp.ones_like(episode.plan)))
    assert not bool(record.live) and float(record.reward) == 0.0
    assert int(again.t) == T and int(again.env_state) == T and float(again.ret) == float(episode.ret)
    # Episodes from different keys differ (the keys are used), and planning beats doing nothing.
    assert len(np.unique(batch.returns)) > 1
    assert -0.2 < batch.mean_return < 0
    assert batch.seconds_per_step > 0 and batch.compile_seconds > 0


def test_equal_configurations_share_one_planner():
    a = planning.make_planner(BOX_ENV, "cma_es", horizon=3, iterations=3, popsize=6)
    b = planning.make_planner(BOX_ENV, "cma_es", horizon=3, iterations=3, popsize=6)
    c = planning.make_planner(BOX_ENV, "cma_es", horizon=3, iterations=4, popsize=6)
    assert a is b and a is not c


def _untraceable(kind):
    def step(key, state, action, params):
        if kind == "if" and state > 0:  # a Python `if` on a traced value
            state = state - 1
        if kind == "numpy":
            state = np.tanh(state)  # a NumPy call on a traced value
        return jnp.zeros((1,)), state, jnp.float32(0), jnp.bool_(False), {}

    return BOX_ENV._replace(step=step, name=f"untraceable-{kind}")


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(horizon=0), "horizon must be an int >= 1, got 0."),
        (dict(iterations=0), "iterations must be an int >= 1, got 0."),
        (dict(strategy="pgpe"), "strategy must be one of 'cem', 'cma_es', got 'pgpe'."),
        (dict(strategy=cem(8), popsize=8), "popsize and sigma apply to a named strategy"),
        (dict(popsize=1), "popsize must be an int >= 2, got 1."),
        (dict(sigma=0.0), "sigma must be a positive finite number, got 0.0."),
        (dict(model="true"), "model must be a planning.Model, an Env or None, got str."),
        (dict(env=_untraceable("if")), "environment 'untraceable-if': its step cannot be traced"),
        (dict(env=_untraceable("numpy")),
         "environment 'untraceable-numpy': its step cannot be traced"),
    ],
)
def test_bad_settings_fail_at_construction_in_one_sentence(kwargs, message):
    args = dict(env=BOX_ENV, strategy="cem", horizon=3, iterations=1)
    args.update(kwargs)
    env = args.pop("env")
    with pytest.raises(ValueError) as info:
        planning.make_planner(env, **args)
    text = str(info.value)
    assert message in text and "\n" not in text
    if "traced" in message:
        assert "no Python `if` on traced values and no NumPy calls" in text


def _bad_cli(capsys, *argv):
    assert cli.main(["plan", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("evojax-rl: error: ") and "Traceback" not in captured.err
    return captured.err


def test_bad_plan_input_gives_one_sentence_and_status_2(capsys):
    assert "--horizon must be an int >= 1, got 0." in _bad_cli(capsys, "Pendulum-v1",
                                                               "--horizon", "0")
    assert "--strategy must be one of 'cem', 'cma_es', got 'pgpe'." in _bad_cli(
        capsys, "Pendulum-v1", "--strategy", "pgpe")
    assert "unknown environment 'Pendulum-v9'; valid names:" in _bad_cli(capsys, "Pendulum-v9")
    assert "--popsize must be an int >= 2, got 1." in _bad_cli(capsys, "Pendulum-v1",
                                                              "--popsize", "1")
    register("test-planning-untraceable", lambda: _untraceable("if"))
    err = _bad_cli(capsys, "test-planning-untraceable")
    assert "its step cannot be traced by JAX" in err


def test_cli_balances_cartpole_and_ends_with_a_json_line(capsys):
    """CartPole at its default plan settings (CEM, horizon 100, popsize 64, 2 generations):
    every episode lasts the full 500 steps."""
    assert cli.main(["plan", "CartPole-v1", "--episodes", "4", "--no-progress"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    result = json.loads(out[-1])
    assert result["episodes"] == 4 and result["lengths"] == [500] * 4
    assert result["mean_return"] == 500.0 and result["steps"] == 500
    assert result["strategy"] == "cem" and result["horizon"] == 100
    assert result["seconds_per_step"] > 0 and result["compile_seconds"] > 0
    assert out[0].startswith("CartPole-v1: mean return 500.0 over 4 episodes")
