"""Checkpoints: bit-exact round trips placed like the template, atomic saves, one-sentence
refusals, and checkpoints that move between 2 processes x 2 devices and 1 process."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec, SingleDeviceSharding

from checkpoint_worker import STEP, values
from xla_flags import flags
from evojax_rl.runs import checkpoint

WORKER = Path(__file__).with_name("checkpoint_worker.py")
MESH = Mesh(jax.devices(), ("pop",))
REPLICATED, BY_ROW = NamedSharding(MESH, PartitionSpec()), NamedSharding(MESH, PartitionSpec("pop"))


def bits(tree) -> list:
    """(dtype, shape, bytes) of every leaf, typed keys as their impl and key_data."""
    out = []
    for leaf in jax.tree_util.tree_leaves(tree):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            out.append(str(jax.random.key_impl(leaf)))
            leaf = jax.random.key_data(leaf)
        a = np.asarray(leaf)
        out.append((a.dtype.str, a.shape, a.tobytes()))
    return out


def state(scale=1.0):
    """A small state: a typed key of each of two impls, an int32 scalar, float arrays."""
    return {
        "key": jax.random.key(int(7 * scale)),
        "rbg": jax.random.key(int(5 * scale), impl="rbg"),
        "gen": jnp.int32(11 * scale),
        "theta": jnp.linspace(-3, 3, 24, dtype=jnp.float32).reshape(4, 6) * scale,
        "pop": jnp.arange(16, dtype=jnp.float32).reshape(8, 2) / 3 * scale,
    }


def message(excinfo) -> str:
    """The CheckpointError's sentence, checking that it carries no library traceback."""
    e = excinfo.value
    assert e.__cause__ is None and (e.__context__ is None or e.__suppress_context__)
    return str(e)


def test_a_round_trip_is_bit_exact_and_placed_like_the_template(tmp_path):
    saved = state()
    path = checkpoint.save(str(tmp_path), 5, saved, {"note": "x"})
    assert path == str(tmp_path / "gen_00000005")
    assert sorted(os.listdir(path)) == ["meta.json", "state"]
    template = jax.device_put(state(0.0), {"key": REPLICATED, "rbg": SingleDeviceSharding(
        jax.devices()[2]), "gen": REPLICATED, "theta": REPLICATED, "pop": BY_ROW})
    back, info = checkpoint.restore(str(tmp_path), template)
    assert info["generation"] == 5 and info["meta"] == {"note": "x"}
    assert info["format"] == "evojax_rl.checkpoint/2"
    assert bits(back) == bits(saved) != bits(template)
    assert jax.tree.map(lambda a: a.sharding, back) == jax.tree.map(lambda a: a.sharding, template)
    assert checkpoint.read_meta(str(tmp_path)) == info == checkpoint.read_meta(str(tmp_path), 5)
    # Saved from sharded arrays, restored onto one device: the same bits.
    checkpoint.save(str(tmp_path), 6, back)
    again, _ = checkpoint.restore(str(tmp_path), state(0.0))
    assert bits(again) == bits(saved)
    assert all(a.sharding == SingleDeviceSharding(jax.devices()[0])
               for a in jax.tree_util.tree_leaves(again))


def test_a_save_that_fails_half_way_leaves_no_checkpoint(tmp_path, monkeypatch):
    root = str(tmp_path)
    checkpoint.save(root, 1, state())
    real = ocp.Checkpointer.save

    def half(self, *a, **k):  # the arrays are written, then the disk fills up
        real(self, *a, **k)
        raise OSError("disk full")

    monkeypatch.setattr(ocp.Checkpointer, "save", half)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(root, 2, state())
    assert os.listdir(root) == ["gen_00000001"]
    # Killed at that moment (no clean-up): the half-written save is invisible...
    with monkeypatch.context() as m:
        m.setattr(shutil, "rmtree", lambda *a, **k: None)
        with pytest.raises(OSError, match="disk full"):
            checkpoint.save(root, 2, state())
    assert sorted(os.listdir(root)) == [".tmp-gen_00000002", "gen_00000001"]
    assert checkpoint.steps(root) == [1] and checkpoint.latest(root) == 1
    assert bits(checkpoint.restore(root, state(0.0))[0]) == bits(state())
    # ...and remove_partial deletes it.
    checkpoint.remove_partial(root)
    assert os.listdir(root) == ["gen_00000001"]


def test_keep_prunes_and_saving_a_generation_again_replaces_it(tmp_path):
    root = str(tmp_path)
    for g in (1, 2, 3):
        checkpoint.save(root, g, {"a": jnp.full(2, g)})
    assert checkpoint.steps(root) == [2, 3]
    checkpoint.save(root, 4, {"a": jnp.full(2, 4)}, keep=3)
    assert checkpoint.steps(root) == [2, 3, 4]
    checkpoint.save(root, 5, {"a": jnp.full(2, 5)}, keep=0)  # 0 keeps them all
    assert checkpoint.steps(root) == [2, 3, 4, 5]
    (tmp_path / ".tmp-gen_00000003").mkdir()  # left by a save of 3 that was killed
    (tmp_path / ".tmp-gen_00000003" / "junk").write_text("x")
    checkpoint.save(root, 3, {"a": jnp.full(2, 33)}, {"again": True}, keep=4)
    assert sorted(os.listdir(root)) == [f"gen_0000000{g}" for g in (2, 3, 4, 5)]
    assert sorted(os.listdir(tmp_path / "gen_00000003")) == ["meta.json", "state"]
    back, info = checkpoint.restore(root, {"a": jnp.zeros(2, jnp.int32)}, generation=3)
    assert info["meta"] == {"again": True} and back["a"].tolist() == [33, 33]


def test_mismatches_are_refused_with_one_sentence(tmp_path):
    root = str(tmp_path)
    path = os.path.join(root, "gen_00000004")
    checkpoint.save(root, 4, {"a": jnp.ones((2, 3)), "k": jax.random.key(0)})
    cases = [
        ({"a": jnp.ones((3, 2)), "k": jax.random.key(0)},
         "array 0 is float32[2, 3], expected float32[3, 2]."),
        ({"a": jnp.ones((2, 3), jnp.int32), "k": jax.random.key(0)},
         "array 0 is float32[2, 3], expected int32[2, 3]."),
        ({"a": jnp.ones((2, 3)), "k": jax.random.key(0, impl="rbg")},
         "array 1 is uint32[2], expected uint32[4]."),
        ({"a": jnp.ones((2, 3)), "k": jnp.zeros(2, jnp.uint32)},
         "array 1 is a PRNG key, expected a plain array."),
    ]
    for template, detail in cases:
        with pytest.raises(checkpoint.CheckpointError) as e:
            checkpoint.restore(root, template)
        assert message(e) == f"checkpoint {path!r} does not fit this configuration: {detail}"
    with pytest.raises(checkpoint.CheckpointError) as e:
        checkpoint.restore(root, {"a": jnp.ones((2, 3))})
    assert message(e) == (f"checkpoint {path!r} holds 2 arrays but this configuration has 1; "
                          "it was written by a different configuration.")


def test_missing_foreign_older_and_unreadable_checkpoints_are_refused(tmp_path):
    root = str(tmp_path)
    with pytest.raises(checkpoint.CheckpointError) as e:
        checkpoint.restore(root, {"a": jnp.ones(2)})
    assert message(e) == f"no checkpoint found in {root!r}."
    old = tmp_path / "gen_00000001"  # what evojax_rl wrote before orbax
    old.mkdir()
    np.savez(old / "state.npz", leaf_00000=np.ones(2, np.float32))
    (old / "meta.json").write_text(json.dumps({"format": "evojax_rl.checkpoint/1", "generation": 1,
                                               "leaves": [[[2], "<f4"]], "keys": {}, "meta": {}}))
    meta = str(old / "meta.json")
    with pytest.raises(checkpoint.CheckpointError) as e:
        checkpoint.restore(root, {"a": jnp.ones(2)})
    assert message(e) == (f"{meta!r} was written by an older evojax_rl (format "
                          "'evojax_rl.checkpoint/1') and cannot be restored by this one (format "
                          "'evojax_rl.checkpoint/2').")
    for text in ('{"format": "other"}', "[1, 2]"):
        (old / "meta.json").write_text(text)
        with pytest.raises(checkpoint.CheckpointError) as e:
            checkpoint.read_meta(root)
        assert message(e) == (f"{meta!r} is not an evojax_rl checkpoint "
                              "(format 'evojax_rl.checkpoint/2').")
    (old / "meta.json").write_text("{")
    with pytest.raises(checkpoint.CheckpointError, match=r"^cannot read checkpoint .*meta\.json"):
        checkpoint.read_meta(root)
    # A checkpoint whose arrays were damaged after it was written.
    checkpoint.save(root, 2, {"a": jnp.ones(2)})
    state_dir = tmp_path / "gen_00000002" / "state"
    for p in state_dir.rglob("*"):
        if p.is_file() and p.name != "_CHECKPOINT_METADATA":
            p.write_bytes(b"")
    with pytest.raises(checkpoint.CheckpointError) as e:
        checkpoint.restore(root, {"a": jnp.ones(2)})
    assert re.fullmatch(rf"cannot read checkpoint {re.escape(repr(str(state_dir.parent)))} "
                        r"\(\w+: [^\n]*\)\.", message(e)), message(e)
    shutil.rmtree(state_dir)
    with pytest.raises(checkpoint.CheckpointError) as e:
        checkpoint.restore(root, {"a": jnp.ones(2)})
    assert message(e).startswith(f"cannot read checkpoint {str(state_dir.parent)!r} (")


# --- 2 processes x 2 devices <-> 1 process --------------------------------------------------


def run_two_processes(mode: str, root: Path, tmp_path: Path) -> list:
    """Run ``checkpoint_worker.py`` as 2 processes (2 CPU devices each); their ``.npz`` outputs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, XLA_FLAGS=flags())  # not our 4 devices
    env["JAX_PLATFORMS"] = "cpu"
    outs = [tmp_path / f"{mode}{pid}.npz" for pid in (0, 1)]
    procs = [subprocess.Popen([sys.executable, str(WORKER), str(port), str(pid), mode, str(root),
                               str(outs[pid])], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for pid in (0, 1)]
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=90)[0])
    finally:
        for p in procs:
            if p.poll() is None:  # the other one hangs (waiting for its peer): end it
                p.kill()
                p.wait()
    for p, log in zip(procs, logs):
        assert p.returncode == 0 and log.rstrip().endswith("ok"), log[-3000:]
    return [dict(np.load(o)) for o in outs]


def assert_values(got: dict) -> None:
    want = values()
    assert sorted(got) == sorted(want)
    for name, a in want.items():
        assert (got[name].dtype, got[name].shape, got[name].tobytes()) == (
            a.dtype, a.shape, a.tobytes()), name


def template() -> dict:
    """This process's template of the worker's tree, on one device."""
    v = values()
    return {"w": jnp.zeros_like(v["w"]), "pop": jnp.zeros_like(v["pop"]), "step": jnp.int32(0),
            "key": jax.random.key(0), "host": jnp.zeros_like(v["host"])}


def test_a_checkpoint_of_2_processes_restores_in_1(tmp_path):
    root = tmp_path / "ckpt"
    for got in run_two_processes("save", root, tmp_path):
        assert_values(got)  # what each process saved
    assert os.listdir(root) == [f"gen_{STEP:08d}"]
    back, info = checkpoint.restore(str(root), template())
    assert info["meta"] == {"processes": 2}
    assert back["key"].dtype == jax.random.key(0).dtype
    assert all(a.sharding == SingleDeviceSharding(jax.devices()[0])
               for a in jax.tree_util.tree_leaves(back))
    assert_values({k: np.asarray(jax.random.key_data(a) if k == "key" else a)
                   for k, a in back.items()})


def test_a_checkpoint_of_1_process_restores_in_2(tmp_path):
    root = tmp_path / "ckpt"
    v = values()
    checkpoint.save(str(root), STEP, {"w": jnp.asarray(v["w"]), "pop": jnp.asarray(v["pop"]),
                                      "step": jnp.asarray(v["step"]),
                                      "key": jax.random.wrap_key_data(jnp.asarray(v["key"])),
                                      "host": jnp.asarray(v["host"])})
    for got in run_two_processes("restore", root, tmp_path):
        assert_values(got)  # each process sees every value, on the worker's shardings
