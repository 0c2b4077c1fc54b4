"""The evojax-rl command: bad input fails cleanly; a SIGKILLed run resumes to the same end."""

import atexit
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
from kill import kill_after_first_checkpoint
from test_run_dir import metrics_points, tb_points
from xla_flags import flags

from evojax_rl import cli
from evojax_rl.presets import PRESETS
from evojax_rl.runs.log import read_metrics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The command-line processes of this file share JAX's persistent compilation cache, so the same
# run started in several processes (a full one, a killed one, its resumption) compiles once;
# the test processes themselves do not use it (their compile-counting tests stay exact).
JAX_CACHE = tempfile.mkdtemp(prefix="evojax-rl-test-jax-cache-")
atexit.register(shutil.rmtree, JAX_CACHE, ignore_errors=True)


def cli_env() -> dict:
    """The command's environment: the checkout importable, the shared compilation cache, and one
    device, as a user's machine has (not the tests' 4 forced host devices, which would split
    every run over 4 devices sharing 2 cores)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               JAX_COMPILATION_CACHE_DIR=JAX_CACHE, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    env["XLA_FLAGS"] = flags()
    return env


def run_cli(*args, timeout=300):
    env = cli_env()
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
        (["--generations", "0"], "--generations must be an int >= 1, got 0."),
        (["--generations", "-5"], "--generations must be an int >= 1, got -5."),
        (["--seed", "-1"], "--seed must be an int from 0 to 4294967295, got -1."),
        (["--checkpoint-every", "-1"], "--checkpoint-every must be an int >= 0, got -1."),
        (["--resume"], "--resume: run directory"),
        (["--resume", "--overwrite"], "--resume and --overwrite exclude each other"),
        (["--coordinator", "127.0.0.1:1234"], "--coordinator, --num-processes and --process-id "
                                              "go together; give all three"),
        (["--coordinator", "127.0.0.1:1234", "--num-processes", "2", "--process-id", "2"],
         "--process-id must be an int from 0 to 1, got 2."),
        (["--coordinator", "127.0.0.1:1234", "--num-processes", "0", "--process-id", "0"],
         "--num-processes must be an int >= 1, got 0."),
        (["--coordinator", "localhost", "--num-processes", "2", "--process-id", "0"],
         "--coordinator must be HOST:PORT (e.g. 10.0.0.1:1234), got 'localhost'."),
        (["--heartbeat-timeout", "0"], "--heartbeat-timeout must be an int >= 1, got 0."),
        (["--steps", "0"], "--steps must be an int >= 1, got 0."),
        (["--steps", "5"], "--steps does not apply to 'cartpole-openes', a preset of kind 'es'; "
                           "its options are --generations, --popsize, --checkpoint-every."),
    ],
)
def test_bad_train_input_writes_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    err = bad(capsys, "train", "cartpole-openes", "--out", str(out), *argv)
    assert message in err
    assert not out.exists()


@pytest.mark.parametrize("option", ["--generation", "--pop", "--check", "--no-prog"])
def test_abbreviated_options_are_refused(tmp_path, monkeypatch, capsys, option):
    monkeypatch.chdir(tmp_path)  # were one taken for the full name, the run would land here
    with pytest.raises(SystemExit) as e:
        cli.main(["train", "cartpole-openes", option, "5"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("evojax-rl: error: ")  # one line, no usage dump
    assert f"unrecognized arguments: {option}" in err


def test_a_file_where_a_directory_belongs(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("keep")
    assert f"run directory {str(afile)!r} exists and is not a directory." in bad(
        capsys, "train", "cartpole-openes", "--out", str(afile))
    assert f"run directory {str(afile)!r} is not a directory." in bad(
        capsys, "eval", str(afile))
    assert afile.read_text() == "keep"


def test_resume_without_a_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"name": "cartpole-openes", "seed": 0, "config": {}}))
    before = sorted(os.listdir(out))
    err = bad(capsys, "train", "cartpole-openes", "--out", str(out), "--resume")
    assert "no checkpoint found" in err and "run without --resume to start it afresh" in err
    assert sorted(os.listdir(out)) == before


def test_a_run_killed_before_its_first_checkpoint_starts_afresh_and_overwrite_replaces_a_run(
        tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"name": "acrobot-openes", "seed": 0, "config": {}}))
    (out / "metrics.jsonl").write_text('{"generation": 1, "mean_return": -500.0}\n')
    args = ["train", "acrobot-openes", "--out", str(out), "--generations", "1", "--popsize", "8",
            "--no-progress"]
    assert cli.main(args) == 0
    err = capsys.readouterr().err
    assert "holds a run that stopped before its first checkpoint; starting it afresh." in err
    first = json.loads((out / "result.json").read_text())
    assert [r["generation"] for r in read_metrics(str(out / "metrics.jsonl"))] == [1]
    # Now it holds a run: a plain rerun is refused, --overwrite starts again.
    err = bad(capsys, *args)
    assert (f"{str(out)!r} already holds a run; pass --resume to continue it, --overwrite to "
            "start again, or choose another directory.") in err
    assert cli.main([*args, "--overwrite", "--seed", "1"]) == 0
    assert "--overwrite: deleting the run in" in capsys.readouterr().err
    second = json.loads((out / "result.json").read_text())
    assert second["seed"] == 1 and second["params_sha256"] != first["params_sha256"]


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
    saved = kill_after_first_checkpoint(
        [sys.executable, "-m", "evojax_rl.cli", *args, "--out", str(out)], out, cli_env())

    resumed = run_cli(*args, "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    got = json.loads(resumed.stdout.strip().splitlines()[-1])
    # The resumed process starts from the newest checkpoint: it runs only what followed it.
    assert [(leg["start"], leg["end"]) for leg in got["legs"]] == [(0, saved), (saved, 60)]
    assert got["wall_seconds"] == round(sum(leg["seconds"] for leg in got["legs"]), 3)
    assert got["generations"] == want["generations"] == 60
    assert got["params_sha256"] == want["params_sha256"]
    assert got["final_mean_return"] == want["final_mean_return"]
    # Its logs equal the uninterrupted run's: every generation once, in TensorBoard too.
    assert (out / "metrics.jsonl").read_text() == (tmp_path / "full" / "metrics.jsonl").read_text()
    assert tb_points(str(out)) == metrics_points(str(out))

    ev = run_cli("eval", str(out), "--episodes", "4")
    assert ev.returncode == 0, ev.stderr
    assert json.loads(ev.stdout)["params_sha256"] == want["params_sha256"]


def test_a_second_run_without_out_gets_a_new_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    # The three runs differ only in their length: build (and compile) their program once.
    from evojax_rl import trainers

    built = {}

    def program(config):
        key = json.dumps(dataclasses.replace(config, generations=1).to_json(), sort_keys=True)
        if key not in built:
            built[key] = trainers.module(config.kind).program(dataclasses.replace(config, generations=1))
        return built[key]._replace(total=config.generations, config=config)

    monkeypatch.setattr(trainers, "program", program)
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
