"""The trainer: checkpoints restore bit-for-bit, resume continues from the checkpoint and equals
the uninterrupted run, NaN counted, the progress bar."""

import dataclasses
import functools
import json
import os
import re
import shutil
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_run_dir import metrics_points, tb_points
from tree_bytes import leaves_bytes

from evojax_rl import trainer
from evojax_rl.runs import checkpoint
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


def test_a_checkpoint_of_another_configuration_is_refused(tmp_path):
    ts = build(SMALL).init(0)
    checkpoint.save(str(tmp_path), 0, ts)
    other = build(dataclasses.replace(SMALL, hidden=(4,))).init(0)
    with pytest.raises(checkpoint.CheckpointError, match="does not fit this configuration"):
        checkpoint.restore(str(tmp_path), other)


def wrap_trainer(monkeypatch, chunk=None, evaluate=None, compile=None):
    """Make ``train`` build trainers whose functions are wrapped: ``chunk(t, ts, length)`` for
    ``t.run_chunk(ts, length)``, and likewise ``evaluate`` and ``compile``."""
    real = trainer.build

    def build(config):
        t = real(config)
        wraps = {"run_chunk": chunk, "evaluate": evaluate, "compile": compile}
        return t._replace(**{name: (lambda w: lambda *a: w(t, *a))(w)
                             for name, w in wraps.items() if w is not None})

    monkeypatch.setattr(trainer, "build", build)


def test_resume_continues_from_the_checkpoint_and_ends_where_the_uninterrupted_run_ends(
        tmp_path, monkeypatch):
    run = str(tmp_path / "run")
    full = train(SMALL, run, progress=False)  # checkpoints at 4 and 6 are kept
    with open(os.path.join(run, "metrics.jsonl")) as f:
        full_metrics = f.read()
    # Now make it a run killed after its checkpoint at 4: metrics.jsonl and tb/ hold 5 and 6
    # already, and a save killed half-way left its temporary directories.
    shutil.rmtree(os.path.join(run, "checkpoints", "gen_00000006"))
    os.remove(os.path.join(run, "result.json"))
    os.mkdir(os.path.join(run, "checkpoints", ".tmp-0123"))
    os.mkdir(os.path.join(run, "checkpoints", ".old-4567"))
    open(os.path.join(run, ".tmp-89ab.json"), "w").close()

    ran = []  # the length of every chunk the resumed leg runs
    wrap_trainer(monkeypatch, chunk=lambda t, ts, n: ran.append(n) or t.run_chunk(ts, n))
    resumed = train(SMALL, run, resume=True, progress=False)
    assert ran == [2]  # generations 5 and 6 only: nothing before the checkpoint is recomputed
    assert [(leg["start"], leg["end"]) for leg in resumed["legs"]] == [(0, 4), (4, 6)]
    assert resumed["wall_seconds"] == round(sum(leg["seconds"] for leg in resumed["legs"]), 3)
    assert resumed["generations"] == full["generations"] == 6
    assert resumed["params_sha256"] == full["params_sha256"]
    assert resumed["final_mean_return"] == full["final_mean_return"]
    # The logs read like the uninterrupted run's: no generation twice, TensorBoard included.
    with open(os.path.join(run, "metrics.jsonl")) as f:
        assert f.read() == full_metrics
    assert tb_points(run) == metrics_points(run)
    assert sorted(os.listdir(run)) == ["checkpoints", "config.json", "learning_curve.png",
                                       "metrics.jsonl", "result.json", "tb"]
    assert sorted(os.listdir(os.path.join(run, "checkpoints"))) == ["gen_00000004", "gen_00000006"]


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    ckpts = str(tmp_path / "checkpoints")
    checkpoint.save(ckpts, 4, build(SMALL).init(1), {"name": "", "seed": 1, "legs": []})
    with pytest.raises(checkpoint.CheckpointError,
                       match="written by run '' with seed 1, not by '' with seed 0"):
        train(SMALL, str(tmp_path), seed=0, resume=True, progress=False)
    with pytest.raises(checkpoint.CheckpointError,
                       match="written by run '' with seed 1, not by 'other' with seed 1"):
        train(SMALL, str(tmp_path), seed=1, resume=True, progress=False, name="other")
    assert os.listdir(tmp_path) == ["checkpoints"]


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
    with pytest.raises(ValueError, match="strategy must be one of 'open_es', .*, got 'nope'"):
        build(dataclasses.replace(SMALL, strategy="nope"))
    with pytest.raises(ValueError, match="seed must be an int from 0 to 4294967295, got -1"):
        train(SMALL, None, seed=-1, progress=False)
    with pytest.raises(ValueError, match="unknown environment 'Nope-v0'; valid names: .*CartPole-v1"):
        build(dataclasses.replace(SMALL, env="Nope-v0"))
    with pytest.raises(ValueError, match="resume=True needs out_dir"):
        train(SMALL, None, resume=True, progress=False)


def test_population_not_divisible_by_the_devices_warns_and_runs_on_one():
    assert jax.device_count() == 4  # conftest
    assert build(SMALL).devices == 4
    with pytest.warns(UserWarning, match="popsize 18 is not divisible by the 4 devices"):
        t = build(dataclasses.replace(SMALL, popsize=18))
    assert t.devices == 1


def last_frame(err):
    """The last state tqdm drew on stderr."""
    return err.replace("\n", "\r").strip("\r").split("\r")[-1]


def test_resuming_a_run_that_reached_its_target_does_not_run_on(tmp_path, capsys):
    config = dataclasses.replace(SMALL, generations=50, chunk=1, checkpoint_every=0,
                                 target_return=5.0)  # any policy scores >= 5 on CartPole
    first = train(config, str(tmp_path), seed=0)
    assert first["target_reached"] and first["generations"] == 1
    # The bar ends complete, not frozen at 1/50 as if the run had been cut short.
    assert re.search(r"100%.* 1/1 .*target reached", last_frame(capsys.readouterr().err))
    again = train(config, str(tmp_path), seed=0, resume=True)
    assert again["generations"] == 1 and again["target_reached"]
    assert again["params_sha256"] == first["params_sha256"]
    assert re.search(r"100%.* 1/1 .*target reached", last_frame(capsys.readouterr().err))


def test_the_progress_bar_leaves_compilation_out_and_draws_once_per_chunk(monkeypatch, capsys):
    import tqdm

    # Draw whenever asked (not at most every 0.1 s), so that draws can be counted.
    monkeypatch.setattr(tqdm, "tqdm", functools.partial(tqdm.tqdm, mininterval=0))
    compiles, counted = [], []

    def listener(event, duration, **kwargs):
        compiles.append(event)

    def count(fn):  # XLA compilations made while fn runs
        def wrapped(t, *args):
            before = len(compiles)
            out = fn(t, *args)
            counted.append(len(compiles) - before)
            return out
        return wrapped

    def slow_compile(t, ts, length):
        t.compile(ts, length)
        time.sleep(2)  # a long compilation: the bar must not count it

    wrap_trainer(monkeypatch, chunk=count(lambda t, ts, n: t.run_chunk(ts, n)),
                 evaluate=count(lambda t, ts, seed: t.evaluate(ts, seed)), compile=slow_compile)
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        train(SMALL, None)  # three chunks of two generations
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert counted == [0] * 6  # all compiled before the bar's clock started
    frames = capsys.readouterr().err.replace("\n", "\r").strip("\r").split("\r")
    # Drawn when created ("compiling"), once per chunk but the last, and once when closed (the
    # final state once: a log file keeps every draw).
    assert len(frames) == 1 + 2 + 1, frames
    assert "compiling" in frames[0]
    assert re.search(r" 2/6 \[00:00<", frames[1]), frames[1]  # not the 2 s of compilation
    assert "100%" in frames[-1] and " 6/6 " in frames[-1]
    assert sum(" 6/6 " in f for f in frames) == 1
