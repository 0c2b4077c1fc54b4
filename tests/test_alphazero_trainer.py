"""The AlphaZero trainer on the shared run machinery: resume after SIGKILL, the agent, `play`."""

import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from kill import kill_after_first_checkpoint

pytest.importorskip("pgx")
pytest.importorskip("flashbax")

from evojax_rl import cli  # noqa: E402
from evojax_rl.alphazero import load_agent, play, trainer  # noqa: E402
from evojax_rl.alphazero import game as games  # noqa: E402
from evojax_rl.alphazero.config import AlphaZeroConfig  # noqa: E402
from evojax_rl.runs import checkpoint, driver  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = AlphaZeroConfig(game="tic_tac_toe", hidden=(32,), num_simulations=4,
                        max_num_considered_actions=4, selfplay_batch=8, replay_window=2,
                        batch_size=32, updates=2, learning_rate_end=1e-4, iterations=6, chunk=1,
                        checkpoint_every=1, eval_games=4, eval_opponents=("random",))
SCRIPT = """
import json, sys
from evojax_rl.alphazero import trainer
from evojax_rl.alphazero.config import AlphaZeroConfig
trainer.train(AlphaZeroConfig.from_json(json.loads(sys.argv[2])), sys.argv[1], seed=3,
              progress=False, name="small")
"""


@pytest.fixture(scope="session")
def full_run(tmp_path_factory):
    """The uninterrupted run, and its program (compiled once for the whole module)."""
    program = trainer.program(SMALL)
    out = tmp_path_factory.mktemp("az") / "full"
    result = driver.run(program, str(out), seed=3, progress=False, name="small")
    return program, out, result


def test_sigkill_after_a_checkpoint_then_resume_matches_the_uninterrupted_run(full_run, tmp_path):
    program, full_out, want = full_run
    assert want["iterations"] == 6 and want["kind"] == "alphazero"
    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    saved = kill_after_first_checkpoint(
        [sys.executable, "-c", SCRIPT, str(out), json.dumps(SMALL.to_json())], out, env)
    assert saved < 6

    starts = []  # the iteration each chunk of the resumed leg starts from

    def run_chunk(state, length):
        starts.append(int(state.iteration))
        return program.run_chunk(state, length)

    got = driver.run(program._replace(run_chunk=run_chunk), str(out), seed=3, resume=True,
                     progress=False, name="small")
    # The resumed leg starts from the newest checkpoint: it runs only what followed it.
    assert starts == list(range(saved, 6))
    assert [(leg["start"], leg["end"]) for leg in got["legs"]] == [(0, saved), (saved, 6)]
    assert got["params_sha256"] == want["params_sha256"]
    assert got["evaluation"] == want["evaluation"]
    assert (out / "metrics.jsonl").read_text() == (full_out / "metrics.jsonl").read_text()


def test_the_run_logs_evaluations_and_its_checkpoint_restores_exactly(full_run):
    program, out, result = full_run
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [1, 2, 3, 4, 5, 6]
    for r in records:  # chunk = 1: every iteration ends a chunk and is evaluated
        assert r["vs_random/win"] + r["vs_random/draw"] + r["vs_random/loss"] == pytest.approx(1)
        assert np.isfinite(r["policy_loss"]) and np.isfinite(r["value_loss"])
    assert (out / "learning_curve.png").stat().st_size > 0
    state, _ = driver.restore_latest(program, str(out), 3)
    assert driver.params_sha256(state.params) == result["params_sha256"]


def test_load_agent_moves_legally_for_the_player_to_move_and_tolerates_finished_games(full_run):
    _, out, _ = full_run
    agent = load_agent(str(out))
    game = agent.game

    def played(moves):
        state = games.init(game, jax.random.key(0), 1)
        for m in moves:
            state = games.step(game, state, jnp.array([m], jnp.int32))
        return state

    # Game 1 is over (the first mover has the top row); the others are fresh or mid-game.
    lines = ([4], [0, 3, 1, 4, 2], [], [0, 1, 8])
    state = jax.tree.map(lambda *x: jnp.concatenate(x), *[played(m) for m in lines])
    assert bool(state.terminated[1]) and not bool(state.terminated[jnp.array([0, 2, 3])].any())
    action = np.asarray(agent.act(jax.random.key(1), state))
    assert action.dtype == np.int32 and action.shape == (4,)
    legal = np.asarray(state.legal_action_mask)
    for b in (0, 2, 3):
        assert legal[b, action[b]]
    assert load_agent(str(out), num_simulations=2).num_simulations == 2


def test_load_agent_refuses_what_is_not_an_alphazero_run(full_run, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_agent(str(tmp_path / "nothing"))
    es = tmp_path / "es"
    es.mkdir()
    (es / "config.json").write_text(json.dumps({"name": "x", "seed": 0, "config": {}}))
    with pytest.raises(ValueError, match="holds a run of kind 'es', not an AlphaZero run"):
        load_agent(str(es))
    _, out, _ = full_run
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "config.json").write_text((out / "config.json").read_text())
    checkpoint.save(str(foreign / "checkpoints"), 1, {"a": jnp.ones(2)}, {"kind": "es"})
    with pytest.raises(checkpoint.CheckpointError,
                       match="written by a run of kind 'es', not 'alphazero'"):
        load_agent(str(foreign))


def test_play_refuses_bad_moves_with_a_sentence_and_shows_the_visits(full_run, capsys):
    _, out, _ = full_run
    typed = iter(["abc", "42", "0", "0", "1", "2", "3", "4", "5", "6", "7", "8"])
    lines = []

    class Out:
        def write(self, s):
            lines.append(s)

    assert play.main(str(out), read=lambda prompt: next(typed), out=Out()) == 0
    text = "".join(lines)
    assert "'abc' is not a move; type one of 0, 1, 2, 3, 4, 5, 6, 7, 8." in text
    assert "42 is not a legal move here; legal moves: 0, 1, 2, 3, 4, 5, 6, 7, 8." in text
    assert "0 is not a legal move here" in text  # the second "0": that cell is taken
    assert "agent plays" in text and "(visits " in text
    assert text.rstrip().endswith(("you win.", "the agent wins.", "draw."))


def test_play_on_a_run_of_another_kind_is_one_sentence(tmp_path, capsys):
    es = tmp_path / "es"
    es.mkdir()
    (es / "config.json").write_text(json.dumps({"name": "x", "seed": 0, "config": {}}))
    assert cli.main(["play", str(es)]) == 2
    err = capsys.readouterr().err
    assert err == (f"evojax-rl: error: {str(es)!r} holds a run of kind 'es', not an AlphaZero "
                   "run.\n")
    assert cli.main(["play", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert sorted(os.listdir(es)) == ["config.json"]  # nothing written


def test_bad_configuration_is_one_sentence_before_anything_is_written(tmp_path, capsys):
    import dataclasses

    with pytest.raises(ValueError, match=r"game must be one of 'tic_tac_toe', 'connect_four'.*"
                                         r"got 'chesss'"):
        trainer.program(dataclasses.replace(SMALL, game="chesss"))
    with pytest.raises(ValueError, match="eval_games must be even"):
        trainer.program(dataclasses.replace(SMALL, eval_games=5))
    with pytest.raises(ValueError,
                       match="learning_rate_end must be a positive finite number, got -0.1"):
        trainer.program(dataclasses.replace(SMALL, learning_rate_end=-0.1))
    with pytest.raises(ValueError, match="unknown AlphaZero config field"):
        AlphaZeroConfig.from_json({"gmae": "tic_tac_toe"})
    out = tmp_path / "run"
    assert cli.main(["train", "tictactoe-alphazero", "--popsize", "8", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == ("evojax-rl: error: --popsize does not apply to 'tictactoe-alphazero', a preset "
                   "of kind 'alphazero'; its options are --iterations, --checkpoint-every.\n")
    assert cli.main(["train", "cartpole-openes", "--iterations", "3", "--out", str(out)]) == 2
    assert "--iterations does not apply to 'cartpole-openes'" in capsys.readouterr().err
    assert not out.exists()
