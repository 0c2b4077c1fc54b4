"""Many devices and many processes: what crosses devices, bit-identical results across process
and device counts, resuming under another count, and a run that loses a process.

The multi-process tests start real processes on 127.0.0.1 (JAX's multi-controller runtime with
gloo collectives on the CPU), each with 2 forced host devices, against one plain process with 1
device.
"""

import atexit
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec
from xla_flags import flags

from evojax_rl import distributed, trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The processes started here share JAX's persistent compilation cache (not the test process).
JAX_CACHE = tempfile.mkdtemp(prefix="evojax-rl-test-distributed-cache-")
atexit.register(shutil.rmtree, JAX_CACHE, ignore_errors=True)
WORKER = os.path.join(ROOT, "tests", "distributed_worker.py")


# --- one process, 4 forced devices ----------------------------------------------------------

def _chunk_collectives(hidden):
    config = trainer.TrainConfig(env="CartPole-v1", hidden=hidden, popsize=64, chunk=1)
    t = trainer.build(config)
    ts = t.init(0)
    n_params = sum(x.size for x in jax.tree.leaves(t.mean_params(ts)))
    ops, _ = distributed.collectives(t.chunk_text(ts, 1))
    return n_params, [(op, size) for op, size, _ in ops]


def test_a_generation_moves_the_fitness_values_and_a_constant_only():
    assert jax.device_count() == 4
    small, ops_small = _chunk_collectives((200,))  # ~1.4e3 parameters
    large, ops_large = _chunk_collectives((300, 300))  # ~9.2e4 parameters
    assert small < 2_000 and large > 90_000
    gathers = [b for op, b in ops_small if op == "all-gather"]
    assert gathers == [4 * 64]  # the fitness values, float32 [P]
    total_small, total_large = sum(b for _, b in ops_small), sum(b for _, b in ops_large)
    assert total_small == total_large  # independent of the policy's size
    assert total_small - 4 * 64 < 256  # plus a constant: a step count and observation statistics


def test_evaluate_population_pads_a_population_that_does_not_split():
    mesh = distributed.population_mesh()
    pop = jax.random.normal(jax.random.key(1), (10, 8))
    f = lambda x: -jnp.sum(x**2)  # noqa: E731
    got = jax.jit(lambda p: distributed.evaluate_population(f, p, mesh))(pop)
    assert got.shape == (10,) and got.sharding.is_fully_replicated
    np.testing.assert_allclose(got, jax.vmap(f)(pop), rtol=1e-6)


def test_replicas_that_differ_stop_the_run_with_one_sentence():
    mesh = distributed.population_mesh()
    same = jax.device_put(jnp.arange(6.0), NamedSharding(mesh, PartitionSpec()))
    distributed.check_replicas({"w": same, "k": jax.random.key(0)})
    parts = [jax.device_put(jnp.arange(6.0) + (i == 2) * 1e-7, d)
             for i, d in enumerate(mesh.devices.flat)]
    drifted = jax.make_array_from_single_device_arrays((6,), same.sharding, parts)
    with pytest.raises(distributed.ReplicaMismatch, match=r"^the parameters differ between "
                       r"devices at step 7 \(replicas \[2\] differ from replica 0\)"):
        distributed.check_replicas({"w": drifted}, step=7)


def test_initialize_refuses_bad_arguments_in_one_sentence():
    with pytest.raises(ValueError, match="give all of coordinator, num_processes and process_id"):
        distributed.initialize("127.0.0.1:1234", 2)
    with pytest.raises(ValueError, match="coordinator must be HOST:PORT"):
        distributed.initialize("localhost", 2, 0)
    with pytest.raises(ValueError, match="process_id"):
        distributed.initialize("127.0.0.1:1234", 2, 2)


# --- many processes -------------------------------------------------------------------------

def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(devices: int) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               JAX_COMPILATION_CACHE_DIR=JAX_CACHE, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    env["XLA_FLAGS"] = flags(devices)
    return env


def _start(argv: list[str], processes: int, devices: int) -> list[subprocess.Popen]:
    """``processes`` processes of ``argv`` (``{port}``, ``{n}`` and ``{i}`` filled in)."""
    port = _port()
    return [subprocess.Popen([a.format(port=port, n=processes, i=i) for a in argv],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=_env(devices))
            for i in range(processes)]


def _finish(procs: list[subprocess.Popen], timeout: float = 240) -> list[tuple[int, str, str]]:
    out = []
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        out.append((p.returncode, stdout, stderr))
    for code, _, stderr in out:
        assert code == 0, stderr[-3000:]
    return out


def _train(out, generations: int, processes: int, devices: int, *extra) -> list[subprocess.Popen]:
    argv = [sys.executable, "-m", "evojax_rl.cli", "train", "cartpole-openes", "--popsize", "16",
            "--generations", str(generations), "--out", str(out), "--no-progress", *extra]
    if processes > 1:
        argv += ["--coordinator", "127.0.0.1:{port}", "--num-processes", "{n}",
                 "--process-id", "{i}"]
    return _start(argv, processes, devices)


@functools.lru_cache(maxsize=None)
def _template(config_json: str, seed: int):
    from evojax_rl import trainers

    program = trainers.program(trainers.config_from_json("es", json.loads(config_json)))
    return program.init(seed)


def _state(out):
    """The run's newest checkpoint restored: its whole ``TrainState``."""
    from evojax_rl.runs import checkpoint, driver

    run = driver.read_run(str(out))
    template = _template(json.dumps(run["config"], sort_keys=True), run["seed"])
    return checkpoint.restore(str(out / "checkpoints"), template)[0]


def _assert_same_state(a, b):
    """The strategy state (parameters, optimizer), key and generation bit for bit; the
    observation statistics to float32 rounding (see rollout.py: the split program's per-step
    update rounds differently, by a unit in the last place)."""
    bits = lambda ts: [np.asarray(x).tobytes() for x in jax.tree.leaves(  # noqa: E731
        (ts.strategy_state, jax.random.key_data(ts.key), ts.generation))]
    assert bits(a) == bits(b)
    for x, y in zip(a.obs_stats, b.obs_stats):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)


def test_es_runs_and_resumes_bit_identically_across_process_and_device_counts(tmp_path):
    """A run of 5 generations on 2 processes x 2 devices ends in the state of one on 1 process x
    1 device (parameters and strategy bit for bit); each, resumed to 10 by the other kind, ends
    in the same state: a
    checkpoint does not depend on the process or device count that wrote it. (5-generation
    chunks, as the preset's, so the killed run of the next test reuses the compiled programs.)"""
    one, two = tmp_path / "one", tmp_path / "two"
    for procs in (_train(one, 5, 1, 1), _train(two, 5, 2, 2)):
        _finish(procs)
    _assert_same_state(_state(one), _state(two))
    for procs in (_train(one, 10, 2, 2, "--resume"), _train(two, 10, 1, 1, "--resume")):
        _finish(procs)
    _assert_same_state(_state(one), _state(two))
    legs = json.load(open(two / "result.json"))["legs"]
    assert [(leg["start"], leg["end"]) for leg in legs] == [(0, 5), (5, 10)]  # resumed, not redone
    records = [json.loads(line) for line in open(one / "metrics.jsonl")]
    assert [r["generation"] for r in records] == list(range(1, 11))  # written once, by process 0


def test_optimize_with_cma_es_is_bit_identical_on_two_processes(tmp_path):
    procs = {n: _start([sys.executable, WORKER, "{port}", "{n}", "{i}", str(tmp_path / f"{n}.json")],
                       n, n)
             for n in (1, 2)}
    for p in procs.values():
        _finish(p)
    one, two = (json.load(open(tmp_path / f"{n}.json")) for n in (1, 2))
    assert (one["devices"], two["devices"], two["processes"]) == (1, 4, 2)
    assert one["best_fitness"] > -4.0  # it optimized (f(x0) = -9)
    for field in ("best_x", "history", "mean", "generations"):
        assert one[field] == two[field], field


def test_a_killed_process_stops_the_other_with_one_sentence(tmp_path):
    out = tmp_path / "run"
    # A peer that dies while the other compiles is noticed by the heartbeat (mid-collective, gloo
    # notices at once): 10 s instead of the default 30 keeps the test short.
    procs = _train(out, 100_000, 2, 2, "--heartbeat-timeout", "10")
    deadline = time.time() + 180
    # config.json is written once both processes have joined the run (a barrier precedes it).
    while time.time() < deadline and not (out / "config.json").exists():
        assert all(p.poll() is None for p in procs), procs[0].communicate()[1][-2000:]
        time.sleep(0.2)
    os.kill(procs[1].pid, signal.SIGKILL)
    killed = time.time()
    _, stderr = procs[0].communicate(timeout=90)
    took = time.time() - killed
    procs[1].wait()
    assert procs[0].returncode == 3
    lines = stderr.strip().splitlines()
    assert lines[-1] == ("evojax-rl: error: process 0 of 2 stopped because another process of the "
                         "run died or stopped answering; start them all again with --resume to "
                         "continue from the last checkpoint.")
    assert not any("Check failure" in line or line.startswith("    @") for line in lines)
    assert took < 60, took


@pytest.mark.parametrize("env,expected", [
    ({}, False),
    ({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "8"}, False),  # a shell inside the allocation
    ({"SLURM_JOB_ID": "7", "SLURM_STEP_NUM_TASKS": "8", "SLURM_PROCID": "3"}, True),  # srun
    ({"SLURM_JOB_ID": "7", "SLURM_STEP_NUM_TASKS": "1"}, False),
    ({"OMPI_MCA_orte_hnp_uri": "1.0;tcp://10.0.0.1:1", "OMPI_COMM_WORLD_SIZE": "4"}, True),
    ({"TPU_WORKER_HOSTNAMES": "t0"}, False),
    ({"TPU_WORKER_HOSTNAMES": "t0,t1"}, True),
    ({"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234"}, True),
])
def test_a_cluster_is_detected_from_its_environment(monkeypatch, env, expected):
    for name in list(os.environ):
        if name.startswith(("SLURM_", "OMPI_", "TPU_", "JAX_COORDINATOR")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert distributed.cluster_detected() is expected
