"""The run directory: which runs a new run may replace, file modes, leftovers, TensorBoard."""

import dataclasses
import os
import stat
import struct

import numpy as np
import pytest

from evojax_rl.runs import checkpoint
from evojax_rl.runs.log import check_run_dir, read_metrics
from evojax_rl.trainer import TrainConfig, train

SMALL = TrainConfig(env="CartPole-v1", hidden=(8,), popsize=16, generations=2, chunk=2,
                    eval_episodes=2, strategy_kwargs={"sigma": 0.1, "learning_rate": 0.05})


def tb_points(run_dir):
    """Every scalar in ``run_dir/tb`` as sorted ``(step, tag, value)`` (read as TFRecords)."""
    from tensorboardX.proto.event_pb2 import Event

    points = []
    tb = os.path.join(run_dir, "tb")
    for name in os.listdir(tb):
        with open(os.path.join(tb, name), "rb") as f:
            data = f.read()
        i = 0
        while i < len(data):  # record: u64 length, u32 crc, payload, u32 crc
            (n,) = struct.unpack("<Q", data[i:i + 8])
            event = Event.FromString(data[i + 12:i + 12 + n])
            points += [(event.step, v.tag, v.simple_value) for v in event.summary.value]
            i += 12 + n + 4
    return sorted(points)


def metrics_points(run_dir):
    """``metrics.jsonl`` as TensorBoard should show it: sorted ``(step, tag, float32 value)``."""
    return sorted((r["generation"], k, float(np.float32(v)))
                  for r in read_metrics(os.path.join(run_dir, "metrics.jsonl"))
                  for k, v in r.items() if k != "generation" and v is not None)


def test_what_a_run_may_do_with_a_directory(tmp_path):
    assert check_run_dir(str(tmp_path / "missing")) == "new"
    assert check_run_dir(str(tmp_path)) == "new"
    (tmp_path / "notes.txt").write_text("not a run")
    assert check_run_dir(str(tmp_path)) == "new"
    (tmp_path / "config.json").write_text("{}")  # a run killed before its first checkpoint
    assert check_run_dir(str(tmp_path)) == "restart"
    with pytest.raises(checkpoint.CheckpointError,
                       match="no checkpoint found in .*; run without resume=True to start it afresh"):
        check_run_dir(str(tmp_path), resume=True)
    (tmp_path / "result.json").write_text("{}")
    with pytest.raises(ValueError, match="already holds a run; pass --resume to continue it, "
                                         "--overwrite to start again, or choose another directory"):
        check_run_dir(str(tmp_path), flag="--{}")
    assert check_run_dir(str(tmp_path), overwrite=True) == "replace"
    with pytest.raises(ValueError, match="resume=True and overwrite=True exclude each other"):
        check_run_dir(str(tmp_path), resume=True, overwrite=True)
    with pytest.raises(ValueError, match="'.*notes.txt' exists and is not a directory"):
        check_run_dir(str(tmp_path / "notes.txt"), overwrite=True)


def test_train_refuses_a_run_directory_before_compiling_anything(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("keep")
    with pytest.raises(ValueError, match="exists and is not a directory"):
        train(SMALL, str(afile), progress=False)
    assert afile.read_text() == "keep"
    run = tmp_path / "run"
    run.mkdir()
    (run / "result.json").write_text("{}")
    with pytest.raises(ValueError, match="already holds a run; pass resume=True to continue it, "
                                         "overwrite=True to start again"):
        train(SMALL, str(run), progress=False)
    assert os.listdir(run) == ["result.json"]


def test_overwrite_replaces_a_run_with_files_of_the_usual_modes(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints" / ".tmp-0123").mkdir(parents=True)  # leftovers of a killed save
    (run / "checkpoints" / ".old-4567").mkdir()
    (run / ".tmp-89ab.json").write_text("{")
    (run / "result.json").write_text('{"generations": 9}')
    (run / "metrics.jsonl").write_text('{"generation": 9, "mean_return": 1.0}\n')
    (run / "notes.txt").write_text("the user's own file")
    umask = os.umask(0o027)
    try:
        result = train(dataclasses.replace(SMALL, checkpoint_every=2), str(run), overwrite=True,
                       progress=False)
    finally:
        os.umask(umask)
    assert result["generations"] == 2
    assert sorted(os.listdir(run)) == ["checkpoints", "config.json", "learning_curve.png",
                                       "metrics.jsonl", "notes.txt", "result.json", "tb"]
    assert os.listdir(run / "checkpoints") == ["gen_00000002"]
    assert [r["generation"] for r in read_metrics(str(run / "metrics.jsonl"))] == [1, 2]
    assert tb_points(str(run)) == metrics_points(str(run))
    modes = {p: stat.S_IMODE(os.stat(run / p).st_mode) for p in (
        "config.json", "result.json", "metrics.jsonl", "learning_curve.png", "tb", "checkpoints",
        "checkpoints/gen_00000002", "checkpoints/gen_00000002/meta.json")}
    assert modes == {"config.json": 0o640, "result.json": 0o640, "metrics.jsonl": 0o640,
                     "learning_curve.png": 0o640, "tb": 0o750, "checkpoints": 0o750,
                     "checkpoints/gen_00000002": 0o750, "checkpoints/gen_00000002/meta.json": 0o640}


def test_tensorboard_is_on_disk_when_append_returns(tmp_path):
    from evojax_rl.runs.log import RunLog

    log = RunLog(str(tmp_path))
    log.append([{"generation": g, "mean_return": 0.5 * g, "nonfinite": 0} for g in (1, 2, 3)])
    # What a kill at this moment would leave: TensorBoard holds exactly metrics.jsonl.
    assert tb_points(str(tmp_path)) == metrics_points(str(tmp_path))
    assert len(tb_points(str(tmp_path))) == 6
    log.close()
