"""The evojax-rl command: bad input fails cleanly; a SIGKILLed run resumes to the same end."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from evojax_rl import cli
from evojax_rl.presets import PRESETS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "evojax_rl.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def bad(capsys, *argv):
    """Run the CLI in-process; it must fail with status 2 and exactly one line on stderr."""
    assert cli.main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("evojax-rl: error: ")
    assert "Traceback" not in err
    return err


def test_presets_lists_every_preset_with_its_expected_result(capsys):
    assert cli.main(["presets"]) == 0
    out = capsys.readouterr().out
    for name in ("cartpole-openes", "pendulum-openes", "acrobot-openes", "mountaincarcontinuous-ga",
                 "breakout-minatar-openes", "ant-openes"):
        assert name in PRESETS and name in out
    assert out.count("expected:") == len(PRESETS)


def test_unknown_preset_lists_the_valid_names(tmp_path):
    r = run_cli("train", "cartpole-nope", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "unknown preset 'cartpole-nope'; valid presets: cartpole-openes" in r.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--popsize", "7"], "popsize must be even with mirrored sampling, got 7"),
        (["--popsize", "1"], "popsize must be an int >= 2, got 1"),
        (["--generations", "0"], "--generations must be a positive integer, got 0"),
        (["--generations", "-5"], "--generations must be a positive integer, got -5"),
        (["--resume"], "run directory"),
    ],
)
def test_bad_train_input_writes_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    err = bad(capsys, "train", "cartpole-openes", "--out", str(out), *argv)
    assert message in err
    assert not out.exists()


def test_resume_without_a_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"name": "cartpole-openes", "seed": 0, "config": {}}))
    before = sorted(os.listdir(out))
    err = bad(capsys, "train", "cartpole-openes", "--out", str(out), "--resume")
    assert "no checkpoint found" in err
    assert sorted(os.listdir(out)) == before


def test_unreadable_or_foreign_run_directories(tmp_path, capsys):
    assert "is not an evojax-rl run directory" in bad(capsys, "eval", str(tmp_path))
    (tmp_path / "config.json").write_text("{not json")
    assert "cannot read" in bad(capsys, "eval", str(tmp_path))
    assert "does not exist" in bad(capsys, "eval", str(tmp_path / "missing"))
    foreign = tmp_path / "foreign"
    (foreign / "checkpoints" / "gen_00000003").mkdir(parents=True)
    (foreign / "checkpoints" / "gen_00000003" / "meta.json").write_text('{"format": "other"}')
    cfg = {"name": "cartpole-openes", "seed": 0, "config": PRESETS["cartpole-openes"].config.to_json()}
    (foreign / "config.json").write_text(json.dumps(cfg))
    assert "is not an evojax_rl checkpoint" in bad(capsys, "eval", str(foreign))
    assert "is not an evojax_rl checkpoint" in bad(
        capsys, "train", "cartpole-openes", "--out", str(foreign), "--resume"
    )
    # A fresh run never lands on top of an existing one.
    assert "already holds a run" in bad(capsys, "train", "cartpole-openes", "--out", str(foreign))


@pytest.mark.slow
def test_sigkill_after_a_checkpoint_then_resume_matches_the_uninterrupted_run(tmp_path):
    args = ["train", "acrobot-openes", "--popsize", "16", "--generations", "60",
            "--checkpoint-every", "10", "--no-progress"]
    full = run_cli(*args, "--out", str(tmp_path / "full"))
    assert full.returncode == 0, full.stderr
    want = json.loads(full.stdout.strip().splitlines()[-1])

    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "evojax_rl.cli", *args, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    ckpts = out / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if ckpts.exists() and any(n.startswith("gen_") for n in os.listdir(ckpts)):
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "result.json").exists()  # killed before the end

    resumed = run_cli(*args, "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    got = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert got["generations"] == want["generations"] == 60
    assert got["params_sha256"] == want["params_sha256"]
    assert got["final_mean_return"] == want["final_mean_return"]

    ev = run_cli("eval", str(out), "--episodes", "4")
    assert ev.returncode == 0, ev.stderr
    assert json.loads(ev.stdout)["params_sha256"] == want["params_sha256"]


def test_a_second_run_without_out_gets_a_new_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["train", "acrobot-openes", "--generations", "1", "--popsize", "8", "--no-progress"]
    assert cli.main(args) == 0 and cli.main(args) == 0
    assert sorted(os.listdir(tmp_path / "runs")) == ["acrobot-openes-s0", "acrobot-openes-s0-2"]
    # --resume without --out continues the newest of them.
    assert cli.main(["train", "acrobot-openes", "--resume", "--generations", "2",
                     "--no-progress"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["generations"] == 2
    done = json.loads((tmp_path / "runs" / "acrobot-openes-s0-2" / "result.json").read_text())
    assert done["generations"] == 2
