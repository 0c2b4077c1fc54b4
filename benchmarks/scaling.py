"""Scaling out: ES generation time over devices and processes, and the bytes a generation moves.

Generation time: the ES trainer (``trainer.build``: CartPole-v1, 4-32-32-2 MLP, OpenAI-ES,
popsize 256, observation normalization, episodes cut at ``--max-steps`` 200) on these layouts,
processes x devices per process: 1x1, 1x2, 1x4, 2x1, 2x2. Each layout runs as fresh
subprocesses of this script (``--worker time``); several processes join one run on 127.0.0.1
(``distributed.initialize``), and on the CPU each gets its devices by
``XLA_FLAGS=--xla_force_host_platform_device_count=K``. After one untimed chunk (it compiles),
``--chunks`` chunks of ``--chunk`` generations are timed (each to ``jax.block_until_ready``);
the figure is the median seconds per generation. Every layout runs the same seed, so it does the
same episodes (the results are bit-identical across layouts: the mean policy's checksum is
shown) and the same environment steps, which are reported beside the time.

Forced host devices share the machine's cores, so on a small CPU machine more devices or
processes show the overhead of splitting (more, smaller programs, and gloo between processes),
not a speed-up. On a backend other than the CPU the devices are the real ones: a process uses
every local device, so only 1 x (all local devices) is measured there.

Bytes per generation: the compiled chunk of one generation (``Trainer.chunk_text(ts, 1)``) on
4 forced CPU devices (``--worker bytes``, whatever the machine), summed over
``distributed.collectives``, at popsize 256 for a policy of ~10^3 parameters (hidden (200,)) and
one of ~10^5 (hidden (300, 300)): the total, the fitness all-gather (4 P bytes) and the rest (a
constant). For contrast, a paper figure: an all-reduce of the update moves 4 x parameters bytes.

Last line: JSON with ``bytes_per_generation`` (per parameter count), ``generation_seconds`` and
``env_steps_per_generation`` (per layout ``"PxD"``), and the details.

    python benchmarks/scaling.py [--popsize 256] [--chunk 10] [--chunks 7] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import common

HERE = os.path.abspath(__file__)
LAYOUTS = ((1, 1), (1, 2), (1, 4), (2, 1), (2, 2))  # (processes, devices per process)
POLICIES = ((200,), (300, 300))  # ~10^3 and ~10^5 parameters on CartPole
BYTES_DEVICES = 4


# --- workers (fresh processes; jax is imported only here) -----------------------------------

def host(x):
    """A global array's value on this host (gathered when other processes hold parts)."""
    import numpy as np

    if x.is_fully_addressable:
        return np.asarray(x)
    if x.is_fully_replicated:
        return np.asarray(x.addressable_data(0))
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def config(args, hidden, popsize, chunk):
    from evojax_rl.trainer import TrainConfig

    return TrainConfig(env="CartPole-v1", hidden=hidden, popsize=popsize, chunk=chunk,
                       max_steps=args.max_steps, obs_norm=True)


def worker_time(args) -> dict | None:
    """Time the trainer's chunks on this process's share of the layout; process 0 reports."""
    from evojax_rl import distributed

    if args.processes > 1:
        distributed.initialize(f"127.0.0.1:{args.port}", args.processes, args.process_id)
    import hashlib

    import jax

    from evojax_rl import trainer

    t = trainer.build(config(args, (32, 32), args.popsize, args.chunk))
    ts = t.init(0)
    t0 = time.perf_counter()
    ts, _ = t.run_chunk(ts, args.chunk)  # not counted: compiles, and the first call's one-offs
    jax.block_until_ready(ts)
    first_s = time.perf_counter() - t0
    seconds, steps = [], 0
    for _ in range(args.chunks):
        t0 = time.perf_counter()
        ts, metrics = t.run_chunk(ts, args.chunk)
        jax.block_until_ready((ts, metrics))
        seconds.append((time.perf_counter() - t0) / args.chunk)
        steps += int(host(metrics["env_steps"]).sum())
    digest = hashlib.sha256()
    for leaf in jax.tree.leaves(t.mean_params(ts)):
        digest.update(host(leaf).tobytes())
    if jax.process_index() != 0:
        return None
    return {"processes": jax.process_count(), "devices": jax.device_count(),
            "sharded_over": t.devices, "backend": jax.default_backend(),
            "device_kind": jax.devices()[0].device_kind, "first_chunk_s": round(first_s, 2),
            "seconds_per_generation": [round(s, 5) for s in seconds],
            "env_steps_per_generation": round(steps / (args.chunks * args.chunk), 1),
            "params_sha256": digest.hexdigest()[:16]}


def worker_bytes(args) -> dict:
    """Cross-device bytes of one compiled generation on 4 forced CPU devices, per policy size."""
    import jax

    from evojax_rl import distributed, trainer

    assert jax.device_count() == BYTES_DEVICES, jax.devices()
    out = {}
    for hidden in POLICIES:
        t = trainer.build(config(args, hidden, args.bytes_popsize, 1))
        ts = t.init(0)
        n_params = sum(x.size for x in jax.tree.leaves(t.mean_params(ts)))
        ops = [(op, size) for op, size, _ in distributed.collectives(t.chunk_text(ts, 1))[0]]
        total = sum(b for _, b in ops)
        gather = sum(b for op, b in ops if op == "all-gather")
        out[str(n_params)] = {"hidden": list(hidden), "total": total, "fitness_all_gather": gather,
                              "rest": total - gather, "ops": ops,
                              "all_reduce_of_update_paper": 4 * n_params}
    return out


# --- the parent: starts the workers, prints the table ---------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, kind: str, processes: int, devices: int, cpu_only: bool = False) -> dict | None:
    """Run ``processes`` workers of ``kind`` and return process 0's JSON line (None: failed)."""
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    if cpu_only:
        env["JAX_PLATFORMS"] = "cpu"
    port = free_port()
    shared = ["--max-steps", str(args.max_steps), "--popsize", str(args.popsize),
              "--bytes-popsize", str(args.bytes_popsize), "--chunk", str(args.chunk),
              "--chunks", str(args.chunks)]
    # Only process 0 prints; stderr goes to files, so that no full pipe can stall a worker.
    errs = [tempfile.TemporaryFile("w+") for _ in range(processes)]
    procs = [subprocess.Popen([sys.executable, HERE, "--worker", kind, "--port", str(port),
                               "--processes", str(processes), "--process-id", str(i), *shared],
                              stdout=subprocess.PIPE if i == 0 else subprocess.DEVNULL,
                              stderr=errs[i], text=True, env=env)
             for i in range(processes)]
    try:
        out = procs[0].communicate(timeout=args.timeout)[0]
        for p in procs[1:]:
            p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
            p.wait()
        print(f"  {kind} {processes}x{devices}: timed out after {args.timeout} s", flush=True)
        return None
    for p, err in zip(procs, errs):
        if p.returncode != 0:
            err.seek(0)
            print(f"  {kind} {processes}x{devices}: exit status {p.returncode}\n"
                  f"{err.read()[-2000:]}", flush=True)
            return None
    lines = [ln for ln in out.splitlines() if ln.strip()]
    return json.loads(lines[-1]) if lines else None


def parent(args) -> None:
    load_before = os.getloadavg()
    t_start = time.perf_counter()
    layouts, note = {}, ""
    for processes, devices in LAYOUTS:
        r = start(args, "time", processes, devices)
        if r is None:
            layouts[f"{processes}x{devices}"] = None
            continue
        if r["backend"] != "cpu":  # real devices: a process uses all of them
            layouts[f"1x{r['devices']}"] = r
            note = (f"on the {r['backend']} backend ({r['devices']} x {r['device_kind']}) a "
                    f"process uses every local device, so only 1 x {r['devices']} was measured")
            break
        assert (r["processes"], r["devices"]) == (processes, processes * devices), r
        layouts[f"{processes}x{devices}"] = r
        print(f"  {processes}x{devices}: {statistics.median(r['seconds_per_generation']) * 1e3:.1f}"
              f" ms/generation (first chunk, compiling, {r['first_chunk_s']} s)", flush=True)
    policy_bytes = start(args, "bytes", 1, BYTES_DEVICES, cpu_only=True) or {}

    done = {k: r for k, r in layouts.items() if r is not None}
    seconds = {k: round(statistics.median(r["seconds_per_generation"]), 5) for k, r in done.items()}
    steps = {k: r["env_steps_per_generation"] for k, r in done.items()}
    first = next(iter(done.values()), {})
    base = seconds.get(next(iter(seconds), None))
    same = len({r["params_sha256"] for r in done.values()}) == 1
    kind = f"{first.get('backend')} ({first.get('device_kind')})"

    print(f"\nES generation, CartPole-v1, 4-32-32-2 MLP, popsize {args.popsize}, episodes cut at "
          f"{args.max_steps} steps, {args.chunks} chunks of {args.chunk} (median), on {kind}:")
    print(f"{'processes x devices':>20} {'ms / generation':>16} {'vs 1x1':>7} "
          f"{'env steps / gen':>16} {'first chunk (s)':>16} {'mean policy sha256':>19}")
    for k, r in layouts.items():
        if r is None:
            print(f"{k:>20} {'failed':>16}")
            continue
        print(f"{k:>20} {seconds[k] * 1e3:16.1f} {seconds[k] / base:7.2f} {steps[k]:16,.0f} "
              f"{r['first_chunk_s']:16.1f} {r['params_sha256']:>19}")
    if first.get("backend") == "cpu":
        print(f"On this {os.cpu_count()}-core CPU machine the forced host devices and the "
              "processes share the same cores: more of them show the overhead of splitting the "
              "population, not a speed-up.")
    if note:
        print(note[0].upper() + note[1:] + ".")
    print("Same episodes and the same final mean policy on every layout: "
          + ("yes" if same else "NO"))

    print(f"\nBytes across devices per generation, {BYTES_DEVICES} devices, popsize "
          f"{args.bytes_popsize} (compiled chunk of 1 generation):")
    print(f"{'parameters':>11} {'hidden':>11} {'total':>7} {'fitness all-gather':>19} "
          f"{'rest':>5} {'all-reduce of the update (paper figure)':>40}")
    for n, b in policy_bytes.items():
        print(f"{int(n):11,} {str(tuple(b['hidden'])):>11} {b['total']:7,} "
              f"{b['fitness_all_gather']:19,} {b['rest']:5,} {b['all_reduce_of_update_paper']:40,}")

    common.emit({
        "bytes_per_generation": {n: b["total"] for n, b in policy_bytes.items()},
        "generation_seconds": seconds,
        "env_steps_per_generation": steps,
        "bytes": policy_bytes,
        "bytes_devices": BYTES_DEVICES,
        "bytes_popsize": args.bytes_popsize,
        "layouts": layouts,
        "same_results_on_every_layout": same,
        "popsize": args.popsize, "hidden": [32, 32], "max_steps": args.max_steps,
        "chunk": args.chunk, "chunks": args.chunks,
        "backend": first.get("backend"), "device_kind": first.get("device_kind"), "note": note,
        "load_average": {"before": [round(x, 2) for x in load_before],
                         "after": [round(x, 2) for x in os.getloadavg()]},
        "wall_s": round(time.perf_counter() - t_start, 1),
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--popsize", type=int, default=256)
    ap.add_argument("--bytes-popsize", type=int, default=256)
    ap.add_argument("--max-steps", type=int, default=200)
    ap.add_argument("--chunk", type=int, default=10, help="generations per timed chunk")
    ap.add_argument("--chunks", type=int, default=7, help="timed chunks per layout")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per layout")
    ap.add_argument("--quick", action="store_true", help="popsize 64, 3 chunks of 2")
    ap.add_argument("--worker", choices=("time", "bytes"), help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--processes", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--process-id", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick and not args.worker:
        args.popsize, args.chunk, args.chunks = 64, 2, 3
    if args.worker:
        r = worker_time(args) if args.worker == "time" else worker_bytes(args)
        if r is not None:
            print(json.dumps(r), flush=True)
    else:
        parent(args)


if __name__ == "__main__":
    main()
