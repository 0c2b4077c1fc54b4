"""Running observation normalization (Welford's algorithm, merged with Chan et al.'s formula).

The statistics are frozen within a generation: every policy in a generation sees observations
normalized by the statistics gathered before it, and the live observations of the generation (the
ones a policy acted on, never those after ``done``) are merged in afterwards.

``ObsStats``: ``count: f32[]``, ``mean: f32[*obs_shape]``, ``m2: f32[*obs_shape]`` (sum of squared
deviations). ``count == 0`` normalizes with mean 0 and std 1 (the identity).

Welford (1962), "Note on a method for calculating corrected sums of squares"; Chan, Golub and
LeVeque (1979), "Updating formulae and a pairwise algorithm for computing sample variances".
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

CLIP = 10.0  # normalized observations are clipped to [-CLIP, CLIP]
STD_MIN = 1e-6


class ObsStats(NamedTuple):
    """``count: f32[]``, ``mean: f32[*obs_shape]``, ``m2: f32[*obs_shape]``."""

    count: jax.Array
    mean: jax.Array
    m2: jax.Array


def init(obs_shape: tuple) -> ObsStats:
    """Empty statistics for observations of ``obs_shape``."""
    return ObsStats(
        jnp.zeros((), jnp.float32), jnp.zeros(obs_shape, jnp.float32), jnp.zeros(obs_shape, jnp.float32)
    )


def add(stats: ObsStats, obs: jax.Array) -> ObsStats:
    """Welford's update with one observation ``obs: [*obs_shape]``."""
    count = stats.count + 1.0
    delta = obs - stats.mean
    mean = stats.mean + delta / count
    return ObsStats(count, mean, stats.m2 + delta * (obs - mean))


def merge(a: ObsStats, b: ObsStats) -> ObsStats:
    """Chan et al.'s pairwise merge of two sets of statistics."""
    count = a.count + b.count
    safe = jnp.maximum(count, 1.0)
    delta = b.mean - a.mean
    mean = a.mean + delta * (b.count / safe)
    m2 = a.m2 + b.m2 + jnp.square(delta) * (a.count * b.count / safe)
    return ObsStats(count, mean, m2)


def merge_batch(stats: ObsStats) -> ObsStats:
    """Merge statistics with any leading batch axes (``count: [*B]``) into one ``ObsStats``."""
    batch = stats.count.ndim
    axes = tuple(range(batch))
    count = jnp.sum(stats.count)
    safe = jnp.maximum(count, 1.0)
    w = jnp.reshape(stats.count, stats.count.shape + (1,) * (stats.mean.ndim - batch))
    mean = jnp.sum(w * stats.mean, axis=axes) / safe
    m2 = jnp.sum(stats.m2 + w * jnp.square(stats.mean - mean), axis=axes)
    return ObsStats(count, mean, m2)


def scale(stats: ObsStats) -> tuple[jax.Array, jax.Array]:
    """``(mean, 1 / std)``, each ``[*obs_shape]``: ``(0, 1)`` while ``count < 2``.

    Compute once per generation (the statistics are frozen) and apply with ``apply_scale``.
    """
    var = stats.m2 / jnp.maximum(stats.count, 1.0)
    ready = stats.count >= 2.0
    std = jnp.where(ready, jnp.sqrt(jnp.maximum(var, 0.0)), 1.0)
    return jnp.where(ready, stats.mean, 0.0), 1.0 / jnp.maximum(std, STD_MIN)


def apply_scale(mean_inv_std: tuple[jax.Array, jax.Array], obs: jax.Array) -> jax.Array:
    """``(obs - mean) / std``, clipped to ``[-CLIP, CLIP]``."""
    mean, inv_std = mean_inv_std
    return jnp.clip((obs - mean) * inv_std, -CLIP, CLIP)


def normalize(stats: ObsStats, obs: jax.Array) -> jax.Array:
    """``(obs - mean) / std``, clipped to ``[-CLIP, CLIP]``; identity while ``count < 2``."""
    return apply_scale(scale(stats), obs)
