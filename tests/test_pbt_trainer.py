"""The PBT trainer (kind "pbt") on the shared run driver: a resumed run ends bit-for-bit at the
uninterrupted run's state without recomputing the steps before its checkpoint, lineage.json and
lineage.png are written, ``evojax-rl eval`` reads the run, bad settings give one sentence before
anything is written."""

import dataclasses
import io
import json
import os
import shutil
from contextlib import redirect_stdout

import jax
import pytest
from tree_bytes import leaves_bytes as leaves

from evojax_rl import cli, trainers
from evojax_rl.pbt import learners, population
from evojax_rl.pbt.trainer import PBTConfig, program, train
from evojax_rl.runs import driver

SMALL = PBTConfig(
    learner="regression",
    learner_kwargs={"hidden": 8, "train_size": 64, "test_size": 64, "batch_size": 16},
    priors={"learning_rate": ["log_uniform", 1e-3, 1.0]},
    members=8,  # split over the 4 test devices (conftest)
    steps=6,
    ready=2,
    chunk=2,
    checkpoint_every=2,
)


def test_resume_ends_at_the_uninterrupted_runs_state_without_recomputing(tmp_path):
    run = str(tmp_path / "run")
    prog = program(SMALL)
    assert trainers.program(SMALL).kind == "pbt"
    full = driver.run(prog, run, progress=False)
    assert full["steps"] == 6 and full["rounds"] == 3 and full["copies"] == 3
    files = sorted(os.listdir(run))
    assert files == ["checkpoints", "config.json", "learning_curve.png", "lineage.json",
                     "lineage.png", "metrics.jsonl", "result.json", "tb"]
    final, _ = driver.restore_latest(prog, run, 0)
    assert [len(leaf.addressable_shards) for leaf in jax.tree_util.tree_leaves(final.learner)][0] == 4
    with open(os.path.join(run, "metrics.jsonl")) as f:
        full_metrics = f.read()
    with open(os.path.join(run, "lineage.json")) as f:
        full_lineage = json.load(f)
    assert [c["step"] for c in full_lineage["copies"]] == [2, 4, 6]
    # Now make it a run killed after its checkpoint at 4.
    shutil.rmtree(os.path.join(run, "checkpoints", "gen_00000006"))
    for name in ("result.json", "lineage.json", "lineage.png"):
        os.remove(os.path.join(run, name))
    ran = []
    counting = prog._replace(run_chunk=lambda s, n: ran.append((int(s.step), n)) or prog.run_chunk(s, n))
    resumed = driver.run(counting, run, resume=True, progress=False)
    assert ran == [(4, 2)]  # steps 5 and 6 only: nothing before the checkpoint is recomputed
    assert resumed["params_sha256"] == full["params_sha256"]
    assert resumed["final_score"] == full["final_score"]
    back, _ = driver.restore_latest(prog, run, 0)
    assert leaves(back) == leaves(final)  # the whole state, lineage and keys included
    with open(os.path.join(run, "metrics.jsonl")) as f:
        assert f.read() == full_metrics
    with open(os.path.join(run, "lineage.json")) as f:
        assert json.load(f) == full_lineage
    assert os.path.exists(os.path.join(run, "lineage.png"))
    # evojax-rl eval reads the run: the best member by training score, judged afresh.
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["eval", run]) == 0
    record = json.loads(out.getvalue())
    assert record["step"] == 6 and record["member"] == full["best_member"]
    assert record["score"] == full["final_score"]
    assert record["params_sha256"] == full["params_sha256"]


BAD = [
    (dict(ready=0), "ready must be an int >= 1, got 0"),
    (dict(members=1), "members must be an int >= 2, got 1"),
    (dict(members=4), r"members=4 is too few for truncation 0.2 to replace anyone .*use at "
                      "least 5 members"),
    (dict(truncation=0.7), r"truncation must be in \(0, 0.5\], got 0.7"),
    (dict(resample_probability=1.5), r"resample_probability must be in \[0, 1\], got 1.5"),
    (dict(priors={}), r"hyperparameter\(s\) \['learning_rate'\] have no prior"),
    (dict(priors={"learning_rate": ["log_uniform", 1e-3, 1.0], "momentum": ["uniform", 0, 1]}),
     r"prior\(s\) for unknown hyperparameter\(s\) \['momentum'\]"),
    (dict(priors={"learning_rate": ["log_uniform", 1.0, 1e-3]}),
     "the prior of learning_rate needs finite bounds low < high, got low=1.0, high=0.001"),
    (dict(priors={"learning_rate": ["log_uniform", 0.0, 1.0]}),
     "the log_uniform prior of learning_rate needs 0 < low, got low=0.0"),
    (dict(priors={"learning_rate": ["normal", 0.0, 1.0]}),
     "the prior of learning_rate must be one of 'log_uniform', 'uniform', got 'normal'"),
    (dict(members=10, shard=True), "shard=True needs members to be a multiple of the 4 devices, "
                                   "got members=10"),
    (dict(learner="nope"), "learner must be one of 'es', 'regression', got 'nope'"),
    (dict(learner_kwargs={"layers": 3}), r"unknown learner_kwargs \['layers'\] for learner "
                                         "'regression'"),
    (dict(perturb_factors=(0.8,)), r"perturb_factors must be two positive numbers"),
]


@pytest.mark.parametrize("change,message", BAD, ids=[m[:30] for _, m in BAD])
def test_bad_settings_give_one_clear_sentence_before_anything_is_written(tmp_path, change, message):
    run = tmp_path / "run"
    with pytest.raises(ValueError, match=message):
        train(dataclasses.replace(SMALL, **change), str(run), progress=False)
    assert not run.exists()


def test_bad_settings_of_the_functions():
    learner = learners.regression_learner(train_size=8, test_size=8)
    lr = {"learning_rate": ["log_uniform", 1e-3, 1.0]}
    with pytest.raises(ValueError, match="pbt: members=10 does not split over devices=4"):
        population.pbt(learner, lr, members=10, ready=1, rounds=1, devices=4)
    with pytest.raises(ValueError, match="pbt: ready must be an int >= 1, got -2"):
        population.pbt(learner, lr, members=10, ready=-2, rounds=1)
    with pytest.raises(ValueError, match="pbt: devices must be an int from 1 to 4, got 8"):
        population.pbt(learner, lr, members=8, ready=1, rounds=1, devices=8)
    with pytest.raises(ValueError, match="es_learner: popsize must be an int >= 2, got 1"):
        learners.es_learner(popsize=1)
