"""Many devices and many processes: the population split over one global mesh.

One process or many, the population lives on a 1-D mesh named ``"pop"`` over every device of
every process (``jax.devices()``). A population function ``f(population [P, ...], keys [P, ...],
*replicated) -> outputs [P, ...]`` runs on ``P / n`` members per device under ``jax.shard_map``:
every device runs its own compiled loop, and the outputs come back as one ``[P, ...]`` array
sharded along the population axis. Members are independent, so the result equals the
single-device result.

Many processes (JAX's multi-controller runtime, ``initialize``): every process runs the same
program on the same replicated state. Each regenerates the whole population from the shared key
(so parameters and perturbations never travel), evaluates its own slice on its local devices,
and only the ``P`` fitness values (plus a few scalars) cross process boundaries; every process
then applies the same deterministic update. ``check_replicas`` compares a checksum of the
state's replicas across processes and devices, so a silent divergence stops the run.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any, Callable, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from evojax_rl.validation import check_int

AXIS = "pop"


def population_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh named ``"pop"`` over ``devices`` (default: every device of every process)."""
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("population_mesh needs at least one device, got none.")
    return Mesh(devices, (AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    """The sharding of a value held whole by every device of ``mesh``."""
    return NamedSharding(mesh, PartitionSpec())


def put_replicated(tree: Any, mesh: Mesh) -> Any:
    """``tree`` (the same value in every process) held whole by every device of ``mesh``, which
    may span several processes. Typed PRNG keys included."""
    sharding = replicated(mesh)

    def put(x):
        if hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            return jax.random.wrap_key_data(jax.device_put(jax.random.key_data(x), sharding),
                                            impl=jax.random.key_impl(x))
        return jax.device_put(x, sharding)

    return jax.tree.map(put, tree)


def check_divisible(popsize: int, mesh: Mesh) -> None:
    """Raise unless the population splits evenly over the mesh."""
    n = mesh.size
    if popsize % n:
        raise ValueError(
            f"popsize {popsize} does not split over {n} devices; use a multiple of {n} "
            "or pass devices=1."
        )


def shard_population(fn: Callable, mesh: Mesh, n_sharded: int, n_replicated: int,
                     out_specs: Any = None) -> Callable:
    """Wrap ``fn(*sharded, *replicated)`` so its first ``n_sharded`` arguments (pytrees with a
    leading ``[P]`` axis) are split along ``P`` over ``mesh`` and the last ``n_replicated`` are
    copied to every device. Outputs are split along their leading axis too (``out_specs``, a
    pytree prefix of ``PartitionSpec``s, overrides that)."""
    pop, rep = PartitionSpec(AXIS), PartitionSpec()
    return jax.shard_map(
        fn,
        mesh=mesh,
        in_specs=(pop,) * n_sharded + (rep,) * n_replicated,
        out_specs=pop if out_specs is None else out_specs,
        check_vma=False,
    )


def evaluate_population(fn: Callable, population: Any, mesh: Mesh | None) -> jax.Array:
    """``vmap(fn)(population)`` with the members split over ``mesh`` (``None``: unsplit).

    ``fn(member) -> f32[]``; ``population``: a pytree with a leading ``[P]`` axis, held whole by
    every device. ``P`` need not divide the mesh: the population is padded with copies of its
    first member, whose values are dropped. Returns ``[P]`` held whole by every device; the only
    bytes that cross devices are the ``P`` results.
    """
    if mesh is None or mesh.size == 1:
        return jax.vmap(fn)(population)
    p = jax.tree_util.tree_leaves(population)[0].shape[0]
    pad = -p % mesh.size
    if pad:
        population = jax.tree.map(
            lambda x: jax.numpy.concatenate([x, jax.numpy.repeat(x[:1], pad, axis=0)]), population)
    values = shard_population(jax.vmap(fn), mesh, 1, 0)(population)
    return jax.lax.with_sharding_constraint(values[:p], replicated(mesh))


# --- many processes -------------------------------------------------------------------------

_ADDRESS = re.compile(r"^\[?[A-Za-z0-9_.:-]+\]?:\d{1,5}$")


def check_address(name: str, address: Any) -> str:
    """Raise one sentence unless ``address`` is ``HOST:PORT``."""
    if not isinstance(address, str) or not _ADDRESS.match(address):
        raise ValueError(f"{name} must be HOST:PORT (e.g. 10.0.0.1:1234), got {address!r}.")
    return address


def cluster_detected() -> bool:
    """Whether the environment describes a multi-process job that ``jax.distributed`` can join
    without flags: ``JAX_COORDINATOR_ADDRESS`` set, a Slurm job step (``srun``) or an Open MPI
    job of more than one task, or a TPU pod slice of more than one host
    (``TPU_WORKER_HOSTNAMES``)."""
    env = os.environ
    if env.get("JAX_COORDINATOR_ADDRESS"):
        return True
    # A job step of several tasks (srun), not a bare shell inside a multi-task allocation.
    if "SLURM_JOB_ID" in env and int(env.get("SLURM_STEP_NUM_TASKS", "1") or 1) > 1:
        return True
    if "OMPI_MCA_orte_hnp_uri" in env and int(env.get("OMPI_COMM_WORLD_SIZE", "1") or 1) > 1:
        return True
    return "," in env.get("TPU_WORKER_HOSTNAMES", "")


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, heartbeat_timeout: int = 30,
               initialization_timeout: int = 300) -> None:
    """Join a multi-process run (``jax.distributed.initialize``); call before anything else
    uses JAX.

    Either all three of ``coordinator`` (``"HOST:PORT"`` of process 0), ``num_processes`` and
    ``process_id`` are given, or none, and JAX detects the cluster (Slurm, Open MPI, TPU pods,
    ``JAX_COORDINATOR_ADDRESS``). On CPUs the collectives go through gloo. A process that stops
    answering for ``heartbeat_timeout`` seconds makes every other process stop (JAX's
    coordination service terminates them), so a dead peer never leaves the run hanging.
    """
    given = [v is not None for v in (coordinator, num_processes, process_id)]
    if any(given) and not all(given):
        raise ValueError("give all of coordinator, num_processes and process_id, or none of "
                         "them (to let JAX detect the cluster).")
    if all(given):
        check_address("coordinator", coordinator)
        check_int("num_processes", num_processes, 1)
        check_int("process_id", process_id, 0, num_processes - 1)
    check_int("heartbeat_timeout", heartbeat_timeout, 1)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(coordinator, num_processes, process_id,
                                   heartbeat_timeout_seconds=heartbeat_timeout,
                                   initialization_timeout=initialization_timeout)
    except (ValueError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"could not join the multi-process run: {first.rstrip('.')}.") from None


def is_main() -> bool:
    """Whether this is process 0, the one that writes logs, plots and results."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process reaches the barrier ``name`` (nothing to do in one process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


class ReplicaMismatch(RuntimeError):
    """Replicas of a state that must be identical on every device differ."""


def _digest(arrays: list[np.ndarray]) -> np.ndarray:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return np.frombuffer(h.digest()[:8], np.uint32).copy()  # [2]


def check_replicas(tree: Any, what: str = "parameters", step: int | None = None) -> None:
    """Raise ``ReplicaMismatch`` (one sentence) unless every replica of ``tree`` (jax.Arrays held
    whole by several devices, of one process or of many) holds the same bits.

    Each process hashes its local copies (one per device) on the host; the hashes of all
    processes are then gathered (8 bytes per device) and compared.
    """
    leaves = [jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x
              for x in jax.tree_util.tree_leaves(tree)]
    if not leaves:
        return
    n_local = len(leaves[0].addressable_shards)
    local = np.stack([_digest([np.asarray(leaf.addressable_shards[d].data) for leaf in leaves])
                      for d in range(n_local)])  # [local devices, 2]
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        local = np.asarray(multihost_utils.process_allgather(local)).reshape(-1, 2)
    if not (local == local[0]).all():
        where = f" at step {step}" if step is not None else ""
        bad = sorted({int(i) for i in np.nonzero((local != local[0]).any(axis=1))[0]})
        raise ReplicaMismatch(
            f"the {what} differ between devices{where} (replicas {bad} differ from replica 0), "
            "so the processes no longer run the same update; stopping.")


_COLLECTIVES = ("all-gather", "all-reduce", "reduce-scatter", "collective-permute", "all-to-all")
_SHAPE = re.compile(r"\b(pred|[suf]\d+|bf16)\[([\d,]*)\]")
_BYTES = {"pred": 1, "s8": 1, "u8": 1, "s16": 2, "u16": 2, "f16": 2, "bf16": 2, "s64": 8,
          "u64": 8, "f64": 8}  # others (s32, u32, f32): 4
_HEAD = re.compile(r"^(ENTRY )?%(\S+) .*\{$")
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%\S+ = (.*?) ([a-z-]+)\((.*)$")


def _bytes(shapes: str) -> int:
    return sum(int(np.prod([int(d) for d in dims.split(",") if d])) * _BYTES.get(dtype, 4)
               for dtype, dims in _SHAPE.findall(shapes))


def collectives(hlo_text: str) -> tuple[list[tuple[str, int, tuple]], list[tuple]]:
    """What a compiled program (``compiled.as_text()``) moves between devices: ``(ops, loops)``.

    ``ops``: each all-gather, all-reduce, reduce-scatter, collective-permute and all-to-all as
    ``(op, result bytes, trips)``, in program order, where ``trips`` are the known trip counts of
    the while loops around it, outermost first (``None`` where unknown), so an op inside the
    generation loop of a chunk is listed once and runs ``trips`` times. ``loops``: the ``trips``
    of every while loop, itself included.
    """
    comps, entry, body = {}, None, None
    for line in hlo_text.splitlines():
        head = _HEAD.match(line)
        if head:
            body = comps.setdefault(head.group(2), [])
            entry = head.group(2) if head.group(1) else entry
        elif line.startswith("}"):
            body = None
        elif body is not None and (m := _INSTRUCTION.match(line)):
            shapes, op, rest = m.groups()
            if op.removesuffix("-start") in _COLLECTIVES:
                body.append(("op", (op.removesuffix("-start"), _bytes(shapes))))
            elif op == "while":
                trips = re.search(r'"known_trip_count":\{"n":"(\d+)"\}', rest)
                body.append(("loop", (int(trips.group(1)) if trips else None,
                                      re.findall(r"(?:condition|body)=%([^\s,]+)", rest))))
            else:
                called = re.findall(r"(?:calls|to_apply)=%([^\s,}]+)", rest)
                for branches in re.findall(r"branch_computations=\{([^}]*)\}", rest):
                    called += [b.strip().lstrip("%") for b in branches.split(",")]
                body.append(("call", called))
    ops, loops = [], []

    def walk(name, trips):
        for kind, what in comps.get(name, ()):
            if kind == "op":
                ops.append((*what, trips))
            elif kind == "loop":
                loops.append(trips + (what[0],))
                for called in what[1]:
                    walk(called, trips + (what[0],))
            else:
                for called in what:
                    walk(called, trips)

    if entry is not None:
        walk(entry, ())
    return ops, loops
