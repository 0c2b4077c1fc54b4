"""Fitness shaping: plain functions ``[P] -> [P]`` that a user composes (fitness is maximized).

Salimans et al. (2017, Sec. 2.2 and App. A) rank-transform returns so that updates do not depend
on their scale and outliers; Wierstra et al. (2014) motivate rank-based utilities in NES.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def ranks(fitness: jax.Array) -> jax.Array:
    """Rank of each entry, 0 for the lowest and P-1 for the highest. ``[P] -> [P]`` int32."""
    return jnp.argsort(jnp.argsort(fitness)).astype(jnp.int32)


def centered_ranks(fitness: jax.Array) -> jax.Array:
    """Ranks scaled to ``[-0.5, 0.5]`` (Salimans et al. 2017). ``[P] -> [P]``."""
    p = fitness.shape[0]
    dtype = fitness.dtype if jnp.issubdtype(fitness.dtype, jnp.floating) else jnp.float32
    return ranks(fitness).astype(dtype) / max(p - 1, 1) - 0.5


def z_score(fitness: jax.Array, eps: float = 1e-8) -> jax.Array:
    """``(f - mean) / (std + eps)``. ``[P] -> [P]``."""
    return (fitness - fitness.mean()) / (fitness.std() + eps)


def weight_decay(fitness: jax.Array, flat_population: jax.Array, coef: float) -> jax.Array:
    """Subtract ``coef * ||x_i||^2`` from each fitness (an L2 penalty on the parameters).

    ``fitness: [P]``, ``flat_population: [P, D]`` -> ``[P]``.
    """
    return fitness - coef * jnp.sum(jnp.square(flat_population), axis=-1)
