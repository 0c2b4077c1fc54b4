"""The XLA flags the test processes compile with: pytest and its xdist workers (set in
conftest.py unless the caller set ``XLA_FLAGS``), and the subprocesses the tests start (CLI runs,
multi-process runs, notebook kernels).

``--xla_backend_optimization_level=0`` sets the CPU backend's LLVM optimization to its lowest
level. XLA's own graph optimizations are unchanged, so the programs compute the same things; the
machine code is only less tuned. The suite is dominated by compiling, and this cut its CPU time
by about 30% on a 2-core machine (tests/test_mcts_reuse.py: 90 s -> 59 s of CPU). Users and the
benchmarks compile at XLA's default level.
"""

from __future__ import annotations

BACKEND = "--xla_backend_optimization_level=0"


def flags(devices: int = 1) -> str:
    """``XLA_FLAGS`` for a test process with ``devices`` host devices (1: as a user's machine)."""
    forced = [f"--xla_force_host_platform_device_count={devices}"] if devices > 1 else []
    return " ".join([BACKEND, *forced])
