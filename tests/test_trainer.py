"""The trainer: checkpoints restore bit-for-bit, resume equals the uninterrupted run, NaN counted."""

import dataclasses
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_rl import checkpoint
from evojax_rl.problems import make, register
from evojax_rl.trainer import TrainConfig, build, train

SMALL = TrainConfig(
    env="CartPole-v1",
    hidden=(8,),
    strategy="open_es",
    strategy_kwargs={"sigma": 0.1, "learning_rate": 0.05},
    popsize=16,
    generations=6,
    chunk=2,
    eval_episodes=2,
    checkpoint_every=2,
)


def leaves_bytes(tree):
    out = []
    for leaf in jax.tree_util.tree_leaves(tree):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        a = np.asarray(leaf)
        out.append((a.dtype.str, a.shape, a.tobytes()))
    return out


def test_checkpoint_restores_the_whole_state_bit_for_bit(tmp_path):
    t = build(SMALL)
    ts, _ = t.run_chunk(t.init(3), 2)
    checkpoint.save(str(tmp_path), 2, ts, {"note": "x"})
    back, info = checkpoint.restore(str(tmp_path), t.init(0))
    assert info["generation"] == 2 and info["meta"] == {"note": "x"}
    assert leaves_bytes(back) == leaves_bytes(ts)
    assert jax.dtypes.issubdtype(back.key.dtype, jax.dtypes.prng_key)
    # And it keeps training identically.
    a, _ = t.run_chunk(ts, 2)
    b, _ = t.run_chunk(back, 2)
    assert leaves_bytes(a) == leaves_bytes(b)


def test_a_failed_save_leaves_nothing_behind(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError):
        checkpoint.save(str(tmp_path), 1, {"a": jnp.ones(3)})
    assert os.listdir(tmp_path) == []


def test_checkpoints_keep_the_newest_two(tmp_path):
    for g in (1, 2, 3):
        checkpoint.save(str(tmp_path), g, {"a": jnp.full(2, g)})
    assert checkpoint.steps(str(tmp_path)) == [2, 3]


def test_a_checkpoint_of_another_configuration_is_refused(tmp_path):
    ts = build(SMALL).init(0)
    checkpoint.save(str(tmp_path), 0, ts)
    other = build(dataclasses.replace(SMALL, hidden=(4,))).init(0)
    with pytest.raises(checkpoint.CheckpointError, match="does not fit this configuration"):
        checkpoint.restore(str(tmp_path), other)


def test_resume_ends_where_the_uninterrupted_run_ends(tmp_path):
    full = train(SMALL, str(tmp_path / "full"), progress=False)
    part = str(tmp_path / "part")
    train(dataclasses.replace(SMALL, generations=4), part, progress=False)
    resumed = train(SMALL, part, resume=True, progress=False)
    assert resumed["generations"] == full["generations"] == 6
    assert resumed["params_sha256"] == full["params_sha256"]
    assert resumed["final_mean_return"] == full["final_mean_return"]
    # The log of the resumed run reads like the uninterrupted one's.
    def gens(d):
        with open(os.path.join(d, "metrics.jsonl")) as f:
            return [json.loads(line)["generation"] for line in f]
    assert gens(part) == gens(str(tmp_path / "full")) == [1, 2, 3, 4, 5, 6]
    for name in ("result.json", "learning_curve.png", "config.json"):
        assert os.path.exists(os.path.join(part, name))
    assert os.listdir(os.path.join(part, "tb"))


def test_same_seed_same_result_without_disk():
    a = train(SMALL, None, seed=4, progress=False)
    b = train(SMALL, None, seed=4, progress=False)
    c = train(SMALL, None, seed=5, progress=False)
    assert a["params_sha256"] == b["params_sha256"] != c["params_sha256"]


def _nan_cartpole(**kw):
    """CartPole whose reward is NaN when the first action is 1 and the cart starts right of 0."""
    base = make("CartPole-v1", max_steps=50)

    def reset(key, params):
        obs, state = base.reset(key, params)
        return obs, (state, obs[0] > 0, jnp.zeros((), jnp.int32))

    def step(key, s, action, params):
        state, right, t = s
        obs, state, reward, done, info = base.step(key, state, action, params)
        reward = jnp.where(right & (t == 0) & (action == 1), jnp.nan, reward)
        return obs, (state, right, t + 1), reward, done, info

    return base._replace(reset=reset, step=step, name="nan-cartpole")


register("test-nan-cartpole", _nan_cartpole)


def test_nan_rewards_rank_worst_and_are_counted(tmp_path):
    cfg = dataclasses.replace(SMALL, env="test-nan-cartpole", popsize=32, generations=4)
    result = train(cfg, str(tmp_path), progress=False)
    with open(tmp_path / "metrics.jsonl") as f:
        records = [json.loads(line) for line in f]
    assert sum(r["nonfinite"] for r in records) > 0
    assert all(np.isfinite(r["mean_return"]) for r in records)
    assert np.isfinite(result["final_mean_return"])


def test_bad_settings_give_one_clear_sentence():
    with pytest.raises(ValueError, match="generations must be an int >= 1, got 0"):
        build(dataclasses.replace(SMALL, generations=0))
    with pytest.raises(ValueError, match="popsize must be even with mirrored sampling, got 15"):
        build(dataclasses.replace(SMALL, popsize=15))
    with pytest.raises(ValueError, match="unknown strategy 'nope'"):
        build(dataclasses.replace(SMALL, strategy="nope"))
    with pytest.raises(ValueError, match="unknown environment 'Nope-v0'; valid names: .*CartPole-v1"):
        build(dataclasses.replace(SMALL, env="Nope-v0"))
    with pytest.raises(checkpoint.CheckpointError, match="no checkpoint found"):
        train(SMALL, None, resume=True, progress=False)


def test_population_not_divisible_by_the_devices_warns_and_runs_on_one():
    assert jax.device_count() == 4  # conftest
    assert build(SMALL).devices == 4
    with pytest.warns(UserWarning, match="popsize 18 is not divisible by the 4 devices"):
        t = build(dataclasses.replace(SMALL, popsize=18))
    assert t.devices == 1


def test_resuming_a_run_that_reached_its_target_does_not_run_on(tmp_path):
    config = dataclasses.replace(SMALL, generations=50, chunk=1, checkpoint_every=0,
                                 target_return=5.0)  # any policy scores >= 5 on CartPole
    first = train(config, str(tmp_path), seed=0, progress=False)
    assert first["target_reached"] and first["generations"] == 1
    again = train(config, str(tmp_path), seed=0, resume=True, progress=False)
    assert again["generations"] == 1 and again["target_reached"]
    assert again["params_sha256"] == first["params_sha256"]
