"""Classic black-box test functions, each ``f: [D] -> []`` with minimum 0.

These are the textbook forms, not BBOB's: no instances, rotations or ``f_opt`` (the optimum is
at 0, or at all ones for Rosenbrock, with value 0). See ``problems.bbob`` for COCO's 24 noiseless
BBOB functions with their instances.

These are to be **minimized**; every strategy in this package maximizes, so pass ``-f``::

    ejr.optimize(lambda x: -ejr.problems.rosenbrock(x), ...)

``shifted`` and ``rotated`` wrap any of them to move the optimum or rotate the search space.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp


def sphere(x: jax.Array) -> jax.Array:
    """``sum x_i^2``; minimum 0 at 0."""
    return jnp.sum(jnp.square(x))


def ellipsoid(x: jax.Array, condition: float = 1e6) -> jax.Array:
    """``sum condition^(i/(D-1)) x_i^2``; condition number 1e6 by default; minimum 0 at 0."""
    d = x.shape[-1]
    exponents = jnp.arange(d, dtype=x.dtype) / max(d - 1, 1)
    return jnp.sum(condition**exponents * jnp.square(x))


def rosenbrock(x: jax.Array) -> jax.Array:
    """``sum 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2``; minimum 0 at all ones."""
    return jnp.sum(100.0 * jnp.square(x[1:] - jnp.square(x[:-1])) + jnp.square(1.0 - x[:-1]))


def rastrigin(x: jax.Array) -> jax.Array:
    """``10 D + sum x_i^2 - 10 cos(2 pi x_i)``; minimum 0 at 0, with ~10^D local minima."""
    return 10.0 * x.shape[-1] + jnp.sum(jnp.square(x) - 10.0 * jnp.cos(2.0 * jnp.pi * x))


def ackley(x: jax.Array) -> jax.Array:
    """Ackley's function; minimum 0 at 0."""
    d = x.shape[-1]
    a = -20.0 * jnp.exp(-0.2 * jnp.sqrt(jnp.sum(jnp.square(x)) / d))
    b = -jnp.exp(jnp.sum(jnp.cos(2.0 * jnp.pi * x)) / d)
    return a + b + 20.0 + jnp.e


def shifted(f: Callable[[jax.Array], jax.Array], shift: jax.Array) -> Callable:
    """``x -> f(x - shift)``: moves the optimum of a zero-centred ``f`` to ``shift``."""
    shift = jnp.asarray(shift)
    return lambda x: f(x - shift)


def rotated(f: Callable[[jax.Array], jax.Array], key: jax.Array, dim: int) -> Callable:
    """``x -> f(R x)`` with ``R`` a random ``[dim, dim]`` orthogonal matrix drawn from ``key``."""
    q, r = jnp.linalg.qr(jax.random.normal(key, (dim, dim)))
    rot = q * jnp.sign(jnp.diag(r))
    return lambda x: f(rot @ x)
