"""``normal`` and ``fold_in`` with jax.random's values, each as one fused kernel.

On CPU, JAX lowers the Threefry-2x32 hash as a *rolled* loop of five iterations (to keep
compile times short). Inside a compiled loop each iteration is a handful of separate thunks,
so one ``jax.random.normal`` call costs several microseconds of dispatch for a few hundred
numbers. Worse, those thunks are independent enough that XLA's executor hands half of them to a
second thread, whose wake-up costs tens of microseconds on a small machine. For a strategy
whose whole generation takes tens of microseconds (CMA-ES in 10-40 dimensions) that was most
of the difference between its runs pinned to one core and unpinned. Here the hash is written
out unrolled, so XLA fuses it into the kernel that uses the numbers.

The hash is Threefry-2x32 with 20 rounds (J. Salmon et al., "Parallel random numbers: as easy
as 1, 2, 3", SC 2011), applied to the counters that JAX's partitionable Threefry uses (the flat
index of each element, split into high and low 32-bit words). The bits become floats as in
``jax.random.normal``: uniform on ``(-1, 1)`` from the mantissa bits, then ``sqrt(2) erfinv``.
Computed on their own, the values equal jax.random's bit for bit (``tests/test_sampling.py``).
Fused into a larger kernel, XLA may round the last bit differently, as it may for
``jax.random.normal`` itself. Keys of another PRNG implementation, dtypes other than
float32/float64, and ``jax_threefry_partitionable=False`` fall back to ``jax.random``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)


def _rotl(x, r):
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def threefry2x32(k0, k1, x0, x1):
    """Threefry-2x32 (20 rounds) of the counter pairs ``(x0, x1)`` under key ``(k0, k1)``.

    All arguments are uint32; ``k0, k1``: ``[]``; ``x0, x1``: any equal shape. Returns the two
    output words, shaped like ``x0``.
    """
    ks = (k0, k1, k0 ^ k1 ^ _PARITY)
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for block in range(5):  # 5 blocks of 4 rounds, a key injection after each block
        for r in _ROTATIONS[block % 2]:
            x0 = x0 + x1
            x1 = _rotl(x1, r) ^ x0
        x0 = x0 + ks[(block + 1) % 3]
        x1 = x1 + ks[(block + 2) % 3] + np.uint32(block + 1)
    return x0, x1


def _is_threefry(key):
    return str(jax.random.key_impl(key)) == "threefry2x32"


def _fast_path(key, dtype):
    if not jax.config.jax_threefry_partitionable:
        return False
    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
        return False
    return _is_threefry(key)


def _typed(key):
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    return jax.random.wrap_key_data(key)


def fold_in(key: jax.Array, data) -> jax.Array:
    """``jax.random.fold_in(key, data)`` for a 32-bit integer ``data``; returns a typed key."""
    key = _typed(key)
    if not _is_threefry(key):
        return jax.random.fold_in(key, data)
    k0, k1 = jax.random.key_data(key)
    x0, x1 = threefry2x32(k0, k1, jnp.zeros((), jnp.uint32), jnp.asarray(data).astype(jnp.uint32))
    return jax.random.wrap_key_data(jnp.stack([x0, x1]), impl="threefry2x32")


def normal(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
    """Standard normal samples of ``shape``: equal to ``jax.random.normal(key, shape, dtype)``.

    ``key``: a typed key or a raw uint32 key of the default implementation.
    """
    shape = tuple(int(s) for s in shape)
    size = math.prod(shape)
    dtype = jnp.dtype(dtype)
    key = _typed(key)
    if not _fast_path(key, dtype) or size >= 2**32:
        return jax.random.normal(key, shape, dtype)
    k0, k1 = jax.random.key_data(key)
    index = jnp.arange(size, dtype=jnp.uint32)  # the flat index; its high word is 0
    hi, lo = threefry2x32(k0, k1, jnp.zeros_like(index), index)
    finfo = jnp.finfo(dtype)
    if finfo.bits == 64:
        u64 = jnp.uint64
        bits = (hi.astype(u64) << u64(32)) | lo.astype(u64)
        one = np.array(1.0, np.float64).view(np.uint64)
        mantissa = (bits >> u64(64 - finfo.nmant)) | u64(one)
    else:
        bits = hi ^ lo
        one = np.array(1.0, np.float32).view(np.uint32)
        mantissa = (bits >> np.uint32(32 - finfo.nmant)) | np.uint32(one)
    unit = jax.lax.bitcast_convert_type(mantissa, dtype) - jnp.asarray(1.0, dtype)  # [0, 1)
    low = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype), dtype=dtype)
    span = np.array(1.0, dtype) - low
    uniform = jnp.maximum(low, unit * span + low)  # (-1, 1)
    return (np.array(np.sqrt(2), dtype) * jax.lax.erf_inv(uniform)).reshape(shape)
