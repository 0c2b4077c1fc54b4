"""``jit`` for programs that search: ``jax.jit`` with the XLA options under which a search runs
fastest on a CPU.

A search is many small operations on ``[B, A]`` and ``[B, N, A]`` arrays per simulation
(selections, softmaxes, gathers, scatters) around a few matrix products (the network). XLA's
CPU backend (jax 0.10) hands elementwise and reduction fusions, as well as dots, to the
YNNPACK library by default; for these small operations a library call costs more than XLA's
own loop code. ``COMPILER_OPTIONS`` keeps YNNPACK for dots only. Measured on a 2-core AMD EPYC
(``benchmarks/alphazero_tictactoe.py``): one tic-tac-toe AlphaZero iteration (self-play with
512 games of 32-simulation Gumbel searches, then 128 updates) took 0.68 s by default and 0.46 s
with it; connect four's 1.64 s and 1.51 s. ES rollouts (one MLP per member, few small ops) do
not gain, so the library's other loops keep XLA's defaults.

The options are XLA ``DebugOptions`` that other backends ignore: the same program runs
unchanged on a GPU or TPU. Results can differ from a default compilation in the last bits of
float32 (elementwise functions are emitted by other code), as between two CPUs.
"""

from __future__ import annotations

from typing import Any, Callable

import jax

# XLA's CPU library fusions: dots only (its default also fuses elementwise and reduction ops).
COMPILER_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_DOT"}


def jit(fun: Callable, **kwargs: Any):
    """``jax.jit(fun, **kwargs)`` compiled with ``COMPILER_OPTIONS`` (a ``compiler_options``
    argument of the caller's is merged over them)."""
    extra = kwargs.pop("compiler_options", None) or {}
    if not isinstance(extra, dict):
        raise TypeError("compiler_options must be a dict of XLA option names to values, got "
                        f"{extra!r}.")
    return jax.jit(fun, compiler_options={**COMPILER_OPTIONS, **extra}, **kwargs)
