"""Sharding the population over devices with ``jax.sharding``.

A population function ``f(population [P, ...], keys [P, ...], *replicated) -> outputs [P, ...]``
runs on ``P / n`` members per device under ``jax.shard_map``: every device runs its own compiled
loop (and stops its own while-loops as soon as its own episodes are done), and the outputs come
back as one ``[P, ...]`` array sharded along the population axis. Members are independent, so the
result equals the single-device result.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
from jax.sharding import Mesh, PartitionSpec

AXIS = "pop"


def population_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh named ``"pop"`` over ``devices`` (default: every device of the default backend)."""
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("population_mesh needs at least one device, got none.")
    return Mesh(devices, (AXIS,))


def check_divisible(popsize: int, mesh: Mesh) -> None:
    """Raise unless the population splits evenly over the mesh."""
    n = mesh.size
    if popsize % n:
        raise ValueError(
            f"popsize {popsize} does not split over {n} devices; use a multiple of {n} "
            "or pass devices=1."
        )


def shard_population(fn: Callable, mesh: Mesh, n_sharded: int, n_replicated: int) -> Callable:
    """Wrap ``fn(*sharded, *replicated)`` so its first ``n_sharded`` arguments (pytrees with a
    leading ``[P]`` axis) and all its outputs are split along ``P`` over ``mesh``; the last
    ``n_replicated`` arguments are copied to every device."""
    pop, rep = PartitionSpec(AXIS), PartitionSpec()
    return jax.shard_map(
        fn,
        mesh=mesh,
        in_specs=(pop,) * n_sharded + (rep,) * n_replicated,
        out_specs=pop,
        check_vma=False,
    )
