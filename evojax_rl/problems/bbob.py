"""COCO's 24 noiseless BBOB functions f1..f24, with COCO's instances, as pure JAX functions.

For every function id, instance and dimension, ``evaluate(instance(fid, dim, inst), x)`` equals
the value ``cocoex`` gives for the problem ``bbob_f{fid:03d}_i{inst:02d}_d{dim:02d}`` at ``x``
(tests/test_bbob.py checks this against cocoex to float64 rounding). The definitions are those
of Hansen, Finck, Ros and Auger, "Real-Parameter Black-Box Optimization Benchmarking 2009:
Noiseless Functions Definitions" (INRIA RR-6829), as COCO implements them; the instances come
from a re-implementation of COCO's legacy (2009) instance generator, written from its published
description and checked number for number against cocoex.

The values are to be **minimized**, as in COCO; every strategy in this package maximizes, so
pass ``-f``::

    from evojax_rl.problems import bbob
    f = bbob.function(fid=10, dim=5, instance=1)
    ejr.optimize(lambda x: -f(x), ...)

    # a sweep: many problems of different functions in one compiled, vmapped program
    batch = bbob.stack([bbob.instance(fid, 5, i) for fid in bbob.FUNCTION_IDS for i in (1, 2)])
    values = jax.vmap(bbob.evaluate)(batch, xs)              # xs: [48, 5]

Every function has its minimum ``f_opt`` (``Instance.f_opt``) at ``Instance.x_opt``, inside
``[-5, 5]^D`` (for f5, the linear slope, at a corner of that box). Several functions add a
penalty ``sum max(0, |x_i| - 5)^2`` outside the box, as COCO does.

Dimensions: any ``2 <= dim <= 44``. COCO's bbob suite uses 2, 3, 5, 10, 20, 40 (cocoex's
``BareProblem`` takes others); its legacy generator draws a rotation from ``dim * dim``
gaussians into a buffer that holds fewer than 2000, so 44 is the largest dimension it defines.
Instances: any ``instance >= 1`` (COCO's yearly sets are 1-5 plus e.g. 101-110 for 2023).

Dtype: ``evaluate`` computes in ``x``'s floating dtype (float64 under ``jax_enable_x64``,
float32 otherwise). ``instance`` generates in float64 numpy and casts at the end.

The generator (our own code, from the facts of the 2009 document and of COCO's published
legacy generator, each checked against cocoex):

- uniform numbers: a Park-Miller "minimal standard" generator ``s <- 16807 s mod (2^31 - 1)``
  seeded with ``seed``, warmed up 40 steps (the last 32 fill a shuffle table, Bays-Durham
  style), each output ``table[r // 67108865]`` divided by ``2.147483647e9``;
- gaussians: Box-Muller from ``2N`` uniforms ``u``: ``sqrt(-2 log u[i]) cos(2 pi u[N + i])``;
- ``x_opt = 8 floor(1e4 u) / 1e4 - 4`` (0 replaced by -1e-5), ``f_opt`` = ``100 g1 / g2``
  rounded to 2 decimals and clipped to ``[-1000, 1000]``, ``g1, g2`` one gaussian each from
  seeds ``s + 10000 instance`` and that plus one, with ``s`` the function id (3 for f4, 17 for
  f18);
- a rotation: ``D * D`` gaussians as a matrix (column-major), orthonormalized column by column
  (Gram-Schmidt);
- seeds: ``fid + 10000 instance`` (f4 uses f3's, f18 f17's: f18 is f17 with a higher
  conditioning and the same x_opt, rotations and f_opt), ``+ 1000000`` for a second rotation
  (and for f12's x_opt).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

FUNCTION_IDS: tuple[int, ...] = tuple(range(1, 25))

NAMES: dict[int, str] = {
    1: "sphere",
    2: "separable ellipsoid",
    3: "Rastrigin",
    4: "Büche-Rastrigin",
    5: "linear slope",
    6: "attractive sector",
    7: "step ellipsoid",
    8: "Rosenbrock",
    9: "rotated Rosenbrock",
    10: "ellipsoid",
    11: "discus",
    12: "bent cigar",
    13: "sharp ridge",
    14: "different powers",
    15: "rotated Rastrigin",
    16: "Weierstrass",
    17: "Schaffers F7",
    18: "Schaffers F7 ill-conditioned",
    19: "Griewank-Rosenbrock F8F2",
    20: "Schwefel x sin(x)",
    21: "Gallagher 101 peaks",
    22: "Gallagher 21 peaks",
    23: "Katsuura",
    24: "Lunacek bi-Rastrigin",
}

MAX_DIM = 44
_LUNACEK_MU0 = 2.5
_SCHWEFEL_C = 4.2096874637  # the centre of f20's transform, in x_hat = 2 sign(x_opt) x
PEAKS = 101  # Gallagher peaks, padded to f21's count for every instance


class Instance(NamedTuple):
    """One problem's data: a pytree of arrays whose shapes depend only on the dimension ``D``.

    Fields (a stacked batch, see ``stack``, adds a leading axis to each):
      fid: ``int32[]`` the function id 1..24 (an array, so instances of different functions
        stack and vmap together).
      x_opt: ``[D]`` the optimum: ``f(x_opt) = f_opt``.
      f_opt: ``[]`` the optimal value.
      R: ``[D, D]`` the first linear map of the search space: a rotation, or for some
        functions COCO's product of rotations and a diagonal scaling (identity if unused).
      Q: ``[D, D]`` the second linear map, applied after a nonlinear transform (f7, f12,
        f15-f18; identity if unused).
      peaks: ``[101, D]`` Gallagher's peaks relative to the global one, rotated:
        ``R (y_i - x_opt)`` (f21, f22; zero if unused; f22's 21 peaks are padded with
        zero-height peaks).
      peak_scales: ``[101, D]`` each peak's diagonal conditioning.
      peak_heights: ``[101]`` each peak's height (10 for the global one, 0 for padding).
    """

    fid: np.ndarray
    x_opt: np.ndarray
    f_opt: np.ndarray
    R: np.ndarray
    Q: np.ndarray
    peaks: np.ndarray
    peak_scales: np.ndarray
    peak_heights: np.ndarray


# --- COCO's legacy instance generator (host side, float64 numpy) ----------------------------

_MODULUS = 2147483647  # 2^31 - 1
_MULTIPLIER = 16807


def _uniform(n: int, seed: int) -> np.ndarray:
    """``n`` uniform numbers in (0, 1) of the legacy generator started from ``seed``."""
    state = max(abs(int(seed)), 1)
    table = [0] * 32
    for step in range(40):  # warm-up; the last 32 states fill the table, last first
        state = state * _MULTIPLIER % _MODULUS
        if step >= 8:
            table[39 - step] = state
    out = np.empty(n, dtype=np.float64)
    previous = table[0]
    for k in range(n):
        state = state * _MULTIPLIER % _MODULUS
        slot = previous // 67108865
        previous = table[slot]
        table[slot] = state
        out[k] = previous
    out /= 2.147483647e9
    out[out == 0.0] = 1e-99
    return out


def _gauss(n: int, seed: int) -> np.ndarray:
    """``n`` standard gaussians by Box-Muller from ``2n`` of the seed's uniforms."""
    u = _uniform(2 * n, seed)
    g = np.sqrt(-2.0 * np.log(u[:n])) * np.cos(2.0 * np.pi * u[n:])
    g[g == 0.0] = 1e-99
    return g


def _rotation(seed: int, dim: int) -> np.ndarray:
    """``[dim, dim]`` orthogonal matrix: the seed's gaussians (column-major), orthonormalized
    column by column."""
    b = _gauss(dim * dim, seed).reshape(dim, dim).T.copy()
    for i in range(dim):
        col = b[:, i]
        for j in range(i):
            col -= (col @ b[:, j]) * b[:, j]
        col /= math.sqrt(col @ col)
    return b


def _x_opt(seed: int, dim: int) -> np.ndarray:
    x = 8.0 * np.floor(1e4 * _uniform(dim, seed)) / 1e4 - 4.0
    x[x == 0.0] = -1e-5
    return x


def _f_opt(fid: int, inst: int) -> float:
    base = {4: 3, 18: 17}.get(fid, fid) + 10000 * inst
    ratio = _gauss(1, base)[0] / _gauss(1, base + 1)[0]
    return float(min(1000.0, max(-1000.0, math.floor(100.0 * 100.0 * ratio + 0.5) / 100.0)))


def _exponents(dim: int) -> np.ndarray:
    """``i / (D - 1)`` for ``i = 0..D-1``."""
    return np.arange(dim, dtype=np.float64) / (dim - 1)


def _scaling(alpha: float, dim: int) -> np.ndarray:
    """The diagonal of the BBOB conditioning matrix ``Lambda^alpha``: ``alpha^(i / (2(D-1)))``."""
    return np.sqrt(alpha) ** _exponents(dim)


def _rosenbrock_factor(dim: int) -> float:
    return max(1.0, math.sqrt(dim) / 8.0)


def _gallagher(seed: int, dim: int, n: int, rotation: np.ndarray):
    """Gallagher's peaks (padded to ``PEAKS``): offsets from the global one (rotated), diagonal
    scales, heights; and x_opt, the global peak."""
    top_condition, spread, centre = (math.sqrt(1000.0), 10.0, 5.0) if n == 101 else (
        1000.0, 9.8, 4.9)
    order = np.argsort(_uniform(n - 1, seed), kind="stable")
    conditions = np.concatenate([[top_condition], 1000.0 ** (order / (n - 2))])
    heights = np.concatenate([[10.0], 1.1 + 8.0 * np.arange(n - 1) / (n - 2)])
    scales = np.empty((n, dim))
    for i in range(n):  # peak i's scales: its condition number spread over a permutation
        permutation = np.argsort(_uniform(dim, seed + 1000 * i), kind="stable")
        scales[i] = conditions[i] ** (permutation / (dim - 1) - 0.5)
    y = spread * _uniform(dim * n, seed).reshape(n, dim) - centre
    y[0] *= 0.8
    pad = PEAKS - n
    offsets = (y - y[0]) @ rotation.T
    return (np.pad(offsets, ((0, pad), (0, 0))), np.pad(scales, ((0, pad), (0, 0))),
            np.pad(heights, (0, pad)), y[0].copy())


def _generate(fid: int, dim: int, inst: int) -> Instance:
    """The float64 instance (a few ms: rotations and Gallagher's peaks take O(D^2) Python
    steps)."""
    seed = {4: 3, 18: 17}.get(fid, fid) + 10000 * inst
    second = seed + 1000000
    eye = np.eye(dim)
    x_opt = _x_opt(seed, dim)
    r = q = eye
    peaks = np.zeros((PEAKS, dim))
    peak_scales = np.zeros((PEAKS, dim))
    peak_heights = np.zeros(PEAKS)
    if fid == 4:  # the odd-numbered coordinates (1-based) of the optimum are positive
        x_opt[::2] = np.abs(x_opt[::2])
    elif fid == 5:  # the corner of the box in the direction of the drawn point
        x_opt = np.where(x_opt < 0.0, -5.0, 5.0)
    elif fid in (6, 13):
        r = _rotation(second, dim) @ np.diag(_scaling(10.0, dim)) @ _rotation(seed, dim)
    elif fid == 7:
        r = np.diag(_scaling(10.0, dim)) @ _rotation(seed, dim)
        q = _rotation(second, dim)
    elif fid == 8:
        x_opt = 0.75 * x_opt
    elif fid in (9, 19):  # z = factor R x + 1/2: the optimum z = 1 (f9) is at R^T 1 / (2 factor)
        r = _rosenbrock_factor(dim) * _rotation(seed, dim)
        x_opt = np.linalg.solve(r, np.full(dim, 0.5))
    elif fid in (10, 11, 14):
        r = _rotation(second, dim)
    elif fid == 12:
        x_opt = _x_opt(second, dim)
        r = q = _rotation(second, dim)
    elif fid in (15, 16):
        r = _rotation(second, dim)
        alpha = 10.0 if fid == 15 else 0.01
        q = r @ np.diag(_scaling(alpha, dim)) @ _rotation(seed, dim)
    elif fid in (17, 18):
        r = _rotation(second, dim)
        q = np.diag(_scaling(10.0 if fid == 17 else 1000.0, dim)) @ _rotation(seed, dim)
    elif fid == 20:
        # COCO's reported optimum, the 2009 document's 4.2096874633 / 2 (its transform is
        # centred on 4.2096874637 / 2: f differs from f_opt by ~1e-15 at either point)
        x_opt = np.where(_uniform(dim, seed) < 0.5, -1.0, 1.0) * (4.2096874633 / 2.0)
    elif fid in (21, 22):
        r = _rotation(seed, dim)
        peaks, peak_scales, peak_heights, x_opt = _gallagher(seed, dim, 101 if fid == 21 else 21,
                                                             r)
    elif fid == 23:
        r = _rotation(second, dim) @ np.diag(_scaling(100.0, dim)) @ _rotation(seed, dim)
    elif fid == 24:
        x_opt = np.where(_gauss(dim, seed) < 0.0, -1.0, 1.0) * (0.5 * _LUNACEK_MU0)
        r = _rotation(second, dim) @ np.diag(_scaling(100.0, dim)) @ _rotation(seed, dim)
    return Instance(np.int32(fid), x_opt, np.float64(_f_opt(fid, inst)), r, q, peaks,
                    peak_scales, peak_heights)


# --- the functions (pure JAX; minimized) -----------------------------------------------------

_WEIERSTRASS_K = 12
_KATSUURA_TERMS = 32


def _const(values, x: jax.Array) -> jax.Array:
    """A host constant (float64 numpy, computed from the static dimension) in ``x``'s dtype."""
    return jnp.asarray(np.asarray(values, dtype=np.float64), dtype=x.dtype)


def _dim_exponents(x: jax.Array) -> jax.Array:
    return _const(_exponents(x.shape[-1]), x)


def _penalty(x: jax.Array, bound: float = 5.0) -> jax.Array:
    """``sum max(0, |x_i| - bound)^2``: zero inside the box."""
    return jnp.sum(jnp.square(jnp.maximum(jnp.abs(x) - bound, 0.0)))


def _oscillate(x: jax.Array) -> jax.Array:
    """T_osz: smooth, symmetric-breaking oscillations, elementwise; T_osz(0) = 0."""
    positive = x > 0
    log_abs = jnp.log(jnp.where(x == 0, 1.0, jnp.abs(x)))
    c1 = jnp.where(positive, 10.0, 5.5)
    c2 = jnp.where(positive, 7.9, 3.1)
    return jnp.sign(x) * jnp.exp(log_abs + 0.049 * (jnp.sin(c1 * log_abs)
                                                     + jnp.sin(c2 * log_abs)))


def _asymmetric(x: jax.Array, beta: float) -> jax.Array:
    """T_asy^beta: ``x_i^(1 + beta i/(D-1) sqrt(x_i))`` for positive ``x_i``, else ``x_i``."""
    positive = x > 0
    safe = jnp.where(positive, x, 1.0)
    return jnp.where(positive, safe ** (1.0 + beta * _dim_exponents(x) * jnp.sqrt(safe)), x)


def _rastrigin(z: jax.Array) -> jax.Array:
    return 10.0 * (z.shape[-1] - jnp.sum(jnp.cos(2.0 * jnp.pi * z))) + jnp.sum(jnp.square(z))


def _rosenbrock(z: jax.Array) -> jax.Array:
    return jnp.sum(100.0 * jnp.square(jnp.square(z[:-1]) - z[1:]) + jnp.square(z[:-1] - 1.0))


def _ellipsoid(z: jax.Array) -> jax.Array:
    return jnp.sum(_const(1e6 ** _exponents(z.shape[-1]), z) * jnp.square(z))


def _f1(p: Instance, x):  # sphere
    return jnp.sum(jnp.square(x - p.x_opt)) + p.f_opt


def _f2(p: Instance, x):  # separable ellipsoid
    return _ellipsoid(_oscillate(x - p.x_opt)) + p.f_opt


def _f3(p: Instance, x):  # Rastrigin
    z = _const(_scaling(10.0, x.shape[-1]), x) * _asymmetric(_oscillate(x - p.x_opt), 0.2)
    return _rastrigin(z) + p.f_opt


def _f4(p: Instance, x):  # Büche-Rastrigin
    d = x.shape[-1]
    z = _oscillate(x - p.x_opt)
    odd = _const(np.arange(d) % 2 == 0, x) > 0  # coordinates 1, 3, 5... (1-based)
    s = _const(_scaling(10.0, d), x) * jnp.where(odd & (z > 0), 10.0, 1.0)
    return _rastrigin(s * z) + 100.0 * _penalty(x) + p.f_opt


def _f5(p: Instance, x):  # linear slope
    s = jnp.sign(p.x_opt) * _const(10.0 ** _exponents(x.shape[-1]), x)
    z = jnp.where(x * p.x_opt < 25.0, x, p.x_opt)
    return jnp.sum(5.0 * jnp.abs(s) - s * z) + p.f_opt


def _f6(p: Instance, x):  # attractive sector
    z = p.R @ (x - p.x_opt)
    s = jnp.where(z * p.x_opt > 0, 100.0, 1.0)
    return _oscillate(jnp.sum(jnp.square(s * z))) ** 0.9 + p.f_opt


def _f7(p: Instance, x):  # step ellipsoid
    z_hat = p.R @ (x - p.x_opt)
    z_tilde = jnp.where(jnp.abs(z_hat) > 0.5, jnp.floor(z_hat + 0.5),
                        jnp.floor(10.0 * z_hat + 0.5) / 10.0)
    z = p.Q @ z_tilde
    core = jnp.sum(_const(100.0 ** _exponents(x.shape[-1]), x) * jnp.square(z))
    return 0.1 * jnp.maximum(jnp.abs(z_hat[0]) / 1e4, core) + _penalty(x) + p.f_opt


def _f8(p: Instance, x):  # Rosenbrock
    return _rosenbrock(_rosenbrock_factor(x.shape[-1]) * (x - p.x_opt) + 1.0) + p.f_opt


def _f9(p: Instance, x):  # rotated Rosenbrock
    return _rosenbrock(p.R @ x + 0.5) + p.f_opt


def _f10(p: Instance, x):  # ellipsoid
    return _ellipsoid(_oscillate(p.R @ (x - p.x_opt))) + p.f_opt


def _f11(p: Instance, x):  # discus
    z = _oscillate(p.R @ (x - p.x_opt))
    return 1e6 * jnp.square(z[0]) + jnp.sum(jnp.square(z[1:])) + p.f_opt


def _f12(p: Instance, x):  # bent cigar
    z = p.Q @ _asymmetric(p.R @ (x - p.x_opt), 0.5)
    return jnp.square(z[0]) + 1e6 * jnp.sum(jnp.square(z[1:])) + p.f_opt


def _f13(p: Instance, x):  # sharp ridge
    z = p.R @ (x - p.x_opt)
    return jnp.square(z[0]) + 100.0 * jnp.sqrt(jnp.sum(jnp.square(z[1:]))) + p.f_opt


def _f14(p: Instance, x):  # different powers
    z = p.R @ (x - p.x_opt)
    return jnp.sqrt(jnp.sum(jnp.abs(z) ** (2.0 + 4.0 * _dim_exponents(x)))) + p.f_opt


def _f15(p: Instance, x):  # rotated Rastrigin
    return _rastrigin(p.Q @ _asymmetric(_oscillate(p.R @ (x - p.x_opt)), 0.2)) + p.f_opt


def _f16(p: Instance, x):  # Weierstrass
    d = x.shape[-1]
    k = np.arange(_WEIERSTRASS_K, dtype=np.float64)
    a, b = _const(0.5 ** k, x), _const(3.0 ** k, x)
    f0 = float(np.sum(0.5 ** k * np.cos(np.pi * 3.0 ** k)))
    z = p.Q @ _oscillate(p.R @ (x - p.x_opt))
    s = jnp.sum(a * jnp.cos(2.0 * jnp.pi * b * (z[:, None] + 0.5)))
    return 10.0 * (s / d - f0) ** 3 + (10.0 / d) * _penalty(x) + p.f_opt


def _f17(p: Instance, x):  # Schaffers F7 (f17: conditioning 10, f18: 1000, folded into Q)
    z = p.Q @ _asymmetric(p.R @ (x - p.x_opt), 0.5)
    s2 = jnp.square(z[:-1]) + jnp.square(z[1:])
    terms = s2**0.25 * (1.0 + jnp.square(jnp.sin(50.0 * s2**0.1)))
    return jnp.square(jnp.mean(terms)) + 10.0 * _penalty(x) + p.f_opt


def _f19(p: Instance, x):  # Griewank-Rosenbrock F8F2
    z = p.R @ x + 0.5
    s = 100.0 * jnp.square(jnp.square(z[:-1]) - z[1:]) + jnp.square(z[:-1] - 1.0)
    return 10.0 * jnp.mean(s / 4000.0 - jnp.cos(s)) + 10.0 + p.f_opt


def _f20(p: Instance, x):  # Schwefel x sin(x)
    d = x.shape[-1]
    x_hat = 2.0 * jnp.sign(p.x_opt) * x
    z_hat = x_hat.at[1:].add(0.25 * (x_hat[:-1] - _SCHWEFEL_C))
    z = 100.0 * (_const(_scaling(10.0, d), x) * (z_hat - _SCHWEFEL_C) + _SCHWEFEL_C)
    core = -jnp.sum(z * jnp.sin(jnp.sqrt(jnp.abs(z)))) / d + 418.9828872724339
    return 0.01 * (_penalty(z, 500.0) + core) + p.f_opt


def _f21(p: Instance, x):  # Gallagher 101 and 21 peaks (zero-height padding)
    d = x.shape[-1]
    # q_i = sum_j scale_ij (u_j - offset_ij)^2, u = R (x - x_opt), expanded into matrix
    # products: a reduction over D per peak compiles to a slow loop on CPU (~50x). Exact for
    # the global peak (offset 0), where precision matters most.
    u = p.R @ (x - p.x_opt)
    q = (p.peak_scales @ jnp.square(u) - 2.0 * (p.peak_scales * p.peaks) @ u
         + jnp.sum(p.peak_scales * jnp.square(p.peaks), axis=-1))
    top = jnp.max(p.peak_heights * jnp.exp(-0.5 / d * q))
    return jnp.square(_oscillate(10.0 - top)) + _penalty(x) + p.f_opt


def _f23(p: Instance, x):  # Katsuura
    d = x.shape[-1]
    z = p.R @ (x - p.x_opt)
    two_j = _const(2.0 ** np.arange(1, _KATSUURA_TERMS + 1), x)
    t = two_j * z[:, None]
    frac = jnp.abs(t - jnp.floor(t + 0.5)) @ (1.0 / two_j)  # a matrix product: see _f21
    i = _const(np.arange(1, d + 1), x)
    prod = jnp.prod((1.0 + i * frac) ** (10.0 / d**1.2))
    return 10.0 / d**2 * (prod - 1.0) + _penalty(x) + p.f_opt


def _f24(p: Instance, x):  # Lunacek bi-Rastrigin
    d = x.shape[-1]
    s = 1.0 - 1.0 / (2.0 * math.sqrt(d + 20.0) - 8.2)
    mu1 = -math.sqrt((_LUNACEK_MU0**2 - 1.0) / s)
    x_hat = 2.0 * jnp.sign(p.x_opt) * x
    z = p.R @ (x_hat - _LUNACEK_MU0)
    sphere0 = jnp.sum(jnp.square(x_hat - _LUNACEK_MU0))
    sphere1 = d + s * jnp.sum(jnp.square(x_hat - mu1))
    return (jnp.minimum(sphere0, sphere1) + 10.0 * (d - jnp.sum(jnp.cos(2.0 * jnp.pi * z)))
            + 1e4 * _penalty(x) + p.f_opt)


# Each function id's formula; f18 shares f17's and f22 f21's (their data differ). lax.switch
# gets each distinct formula once.
_FORMULAS = {1: _f1, 2: _f2, 3: _f3, 4: _f4, 5: _f5, 6: _f6, 7: _f7, 8: _f8, 9: _f9, 10: _f10,
             11: _f11, 12: _f12, 13: _f13, 14: _f14, 15: _f15, 16: _f16, 17: _f17, 18: _f17,
             19: _f19, 20: _f20, 21: _f21, 22: _f21, 23: _f23, 24: _f24}
_BRANCHES = tuple(dict.fromkeys(_FORMULAS.values()))
_BRANCH_OF = {fid: _BRANCHES.index(formula) for fid, formula in _FORMULAS.items()}
_BRANCH_TABLE = np.array([_BRANCH_OF[fid] for fid in FUNCTION_IDS], dtype=np.int32)


# --- public API ---------------------------------------------------------------------------


def _check_fid(fid, who: str) -> int:
    if isinstance(fid, bool) or not isinstance(fid, (int, np.integer)) or not 1 <= fid <= 24:
        raise ValueError(f"{who}: fid must be a BBOB function id, an int from 1 to 24, "
                         f"got {fid!r}.")
    return int(fid)


def _check_dim(dim, who: str) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not (
            2 <= dim <= MAX_DIM):
        raise ValueError(f"{who}: dim must be an int from 2 to {MAX_DIM} (the dimensions COCO's "
                         f"instance generator defines), got {dim!r}.")
    return int(dim)


def _check_instance(inst, who: str) -> int:
    if isinstance(inst, bool) or not isinstance(inst, (int, np.integer)) or inst < 1:
        raise ValueError(f"{who}: instance must be an int >= 1, got {inst!r}.")
    return int(inst)


def _check_dtype(dtype, who: str) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f":
        raise ValueError(f"{who}: dtype must be a floating dtype such as np.float64 or "
                         f"np.float32, got {dtype!r}.")
    return dt


def instance(fid: int, dim: int, instance: int, dtype=np.float64) -> Instance:
    """COCO's problem ``bbob_f{fid:03d}_i{instance:02d}_d{dim:02d}`` as host numpy arrays.

    ``fid`` 1..24, ``2 <= dim <= 44``, ``instance >= 1``; the float fields are cast to
    ``dtype`` (generated in float64).
    """
    who = "bbob.instance"
    fid = _check_fid(fid, who)
    dim = _check_dim(dim, who)
    inst = _check_instance(instance, who)
    dt = _check_dtype(dtype, who)
    data = _generate(fid, dim, inst)
    return Instance(np.asarray(fid, np.int32),
                    *(np.array(field, dtype=dt) for field in data[1:]))


_make_instance = instance  # for ``function``, whose argument ``instance`` hides it


def _prepare(params: Instance, x, who: str):
    """``(params in x's dtype, x)``, after checking that ``x`` is one point of ``params``'s
    dimension."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    x_opt_shape = tuple(np.shape(params.x_opt))
    if len(x_opt_shape) != 1:
        raise ValueError(f"{who}: params must be one instance (x_opt of shape [D]), got x_opt "
                         f"of shape {x_opt_shape}; vmap evaluate over a stacked batch.")
    if x.shape != x_opt_shape:
        raise ValueError(f"{who}: x must have shape {x_opt_shape} (the instance's dimension), "
                         f"got shape {x.shape}.")
    fields = {name: jnp.asarray(value, dtype=x.dtype)
              for name, value in params._asdict().items() if name != "fid"}
    return Instance(fid=jnp.asarray(params.fid, jnp.int32), **fields), x


def evaluate(params: Instance, x: jax.Array, fid: int | None = None) -> jax.Array:
    """``f(x)``, ``[D] -> []``, for the instance ``params`` (to minimize).

    Pure JAX: jit- and vmap-able. It dispatches on ``params.fid`` with ``lax.switch``, so
    ``jax.vmap(evaluate)`` over a ``stack`` of instances of different functions is one
    program (which then computes every function's branch for every point and selects).

    ``fid``: the function id as a Python int, when ``params`` is known to be that function's
    (e.g. a batch of one function's instances): only its formula is traced, with no switch.
    """
    p, x = _prepare(params, x, "bbob.evaluate")
    if fid is not None:
        return _FORMULAS[_check_fid(fid, "bbob.evaluate")](p, x)
    index = jnp.asarray(_BRANCH_TABLE)[jnp.clip(p.fid, 1, 24) - 1]
    return lax.switch(index, _BRANCHES, p, x)


def function(fid: int, dim: int, instance: int, dtype=np.float64) -> Callable[[jax.Array],
                                                                              jax.Array]:
    """``x -> f(x)`` (``[dim] -> []``, to minimize) for one problem, computing only that
    function's branch; ``dtype`` is the precision the instance data is kept in (the value
    is computed in ``x``'s dtype)."""
    params = _make_instance(fid, dim, instance, dtype)
    branch = _BRANCHES[_BRANCH_OF[params.fid.item()]]

    def f(x: jax.Array) -> jax.Array:
        p, x = _prepare(params, x, f"bbob.function({fid}, {dim}, {instance})")
        return branch(p, x)

    f.__name__ = f"bbob_f{fid:03d}_i{instance:02d}_d{dim:02d}"
    f.__doc__ = f"BBOB f{fid} ({NAMES[fid]}), instance {instance}, dimension {dim}."
    return f


def stack(instances: Sequence[Instance]) -> Instance:
    """The instances with a leading batch axis (``fid: [B]``, ``x_opt: [B, D]``, ...); all
    must have the same dimension."""
    instances = list(instances)
    if not instances or not all(isinstance(i, Instance) for i in instances):
        raise ValueError("bbob.stack: instances must be a non-empty sequence of bbob.Instance, "
                         f"got {instances!r:.200}.")
    dims = sorted({np.shape(i.x_opt)[-1] if np.ndim(i.x_opt) else 0 for i in instances})
    if len(dims) > 1 or any(np.ndim(i.x_opt) != 1 for i in instances):
        raise ValueError(f"bbob.stack: instances must be single instances of one dimension, "
                         f"got dimensions {dims}.")
    use_np = all(isinstance(leaf, np.ndarray | np.generic)
                 for leaf in jax.tree_util.tree_leaves(instances))
    return jax.tree.map(lambda *leaves: np.stack(leaves) if use_np else jnp.stack(leaves),
                        *instances)
