"""Separable natural evolution strategy (SNES) with per-dimension step sizes.

Schaul, Glasmachers & Schmidhuber (2011), "High dimensions and heavy tails for natural evolution
strategies", GECCO, Algorithm 1 (SNES); the same algorithm is the "separable NES" of Wierstra,
Schaul, Glasmachers, Sun, Peters & Schmidhuber (2014), "Natural evolution strategies", JMLR 15.

Search distribution ``N(mean, diag(sigma^2))``. Each generation:

    s_k ~ N(0, I),  z_k = mean + sigma * s_k,                     k = 1..P
    u_k = utility of z_k's rank (best first), rank-based fitness shaping
          (Wierstra et al. 2014, Sec. 3.1):
          u_k = max(0, ln(P/2 + 1) - ln k) / sum_j max(0, ln(P/2 + 1) - ln j) - 1/P
    grad_mean  = sum_k u_k s_k
    grad_sigma = sum_k u_k (s_k^2 - 1)
    mean  <- mean + eta_mean * sigma * grad_mean
    sigma <- sigma * exp(eta_sigma / 2 * grad_sigma)

Default learning rates (Wierstra et al. 2014, Table 1): ``eta_mean = 1`` and
``eta_sigma = (3 + ln D) / (5 sqrt D)``; default population ``4 + floor(3 ln D)``.

Fitness ``[P]`` is **maximized**.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evojax_rl import validation
from evojax_rl.strategies import base, sampling


class SNESState(NamedTuple):
    """State of ``snes``; ``D`` is the flattened parameter count."""

    mean: jax.Array  # [D] search centre
    sigma: jax.Array  # [D] per-dimension standard deviation
    learning_rate_mean: jax.Array  # [] eta_mean
    learning_rate_sigma: jax.Array  # [] eta_sigma
    generation: jax.Array  # [] int32
    layout: base.Layout  # static: how [D] maps to the user's pytree


def utilities(popsize: int) -> np.ndarray:
    """Rank-based utilities ``[P]`` for ranks 1 (best) .. P (Wierstra et al. 2014, Sec. 3.1).

    They sum to 0 and are non-increasing in the rank."""
    k = np.arange(1, popsize + 1)
    raw = np.maximum(0.0, np.log(popsize / 2 + 1) - np.log(k))
    return raw / raw.sum() - 1.0 / popsize


def default_learning_rate_sigma(dim: int) -> float:
    """``(3 + ln D) / (5 sqrt D)`` (Wierstra et al. 2014, Table 1, SNES)."""
    return (3.0 + math.log(dim)) / (5.0 * math.sqrt(dim))


@base.memoize
def _build(popsize):
    def resolve(dim):
        return base.resolve_popsize(popsize, dim)

    def ask_flat(key, state):
        d = state.mean.shape[0]
        s = sampling.normal(key, (resolve(d), d), state.mean.dtype)
        return state.mean + state.sigma * s, state

    def tell_flat(flat, fitness, state):
        p = flat.shape[0]
        dt = flat.dtype
        # Recover s_k from the population; sigma never reaches 0 (floored below).
        s = (flat - state.mean) / state.sigma
        rank = jnp.argsort(jnp.argsort(-fitness))  # 0 for the best
        u = jnp.asarray(utilities(p), dt)[rank]  # [P]
        grad_mean = u @ s
        grad_sigma = u @ (jnp.square(s) - 1.0)
        mean = state.mean + state.learning_rate_mean * state.sigma * grad_mean
        sigma = state.sigma * jnp.exp(0.5 * state.learning_rate_sigma * grad_sigma)
        finfo = jnp.finfo(dt)
        sigma = jnp.clip(sigma, finfo.tiny, finfo.max)
        return state._replace(
            mean=mean.astype(dt), sigma=sigma.astype(dt), generation=state.generation + 1
        )

    return base.wrap_flat(ask_flat, tell_flat)

# The sweepable numbers and what each may be (checked in the factory and in ``init``).
_RULES = {name: validation.positive
          for name in ("sigma", "learning_rate_mean", "learning_rate_sigma")}


def snes(
    popsize: int | None = None,
    *,
    sigma: float = 1.0,
    learning_rate_mean: float = 1.0,
    learning_rate_sigma: float | None = None,
) -> base.Strategy:
    """Separable NES. Fitness ``[P]`` is **maximized**.

    Args:
      popsize: population size ``P`` (>= 2); None: ``4 + floor(3 ln D)``.
      sigma: initial standard deviation (> 0), a scalar (broadcast to ``[D]``) or a ``[D]``
        array. Sweepable via ``init(..., sigma=...)``.
      learning_rate_mean: ``eta_mean`` (> 0). Sweepable.
      learning_rate_sigma: ``eta_sigma`` (> 0); None: ``(3 + ln D) / (5 sqrt D)``. Sweepable.
    """
    if popsize is not None:
        popsize = base.check_popsize(popsize, who="snes")
    defaults = dict(
        sigma=sigma,
        learning_rate_mean=learning_rate_mean,
        learning_rate_sigma=learning_rate_sigma,
    )
    validation.check_all(_RULES, defaults, "snes")
    ask, tell = _build(popsize)

    def init(key, x0, **hyperparams):
        del key  # deterministic start
        h = base.apply_overrides(defaults, hyperparams, "snes", _RULES)
        layout = base.Layout.of(x0)
        mean = layout.ravel(x0)
        dt = mean.dtype
        lr_sigma = h["learning_rate_sigma"]
        if lr_sigma is None:
            lr_sigma = default_learning_rate_sigma(layout.size)
        return SNESState(
            mean=mean,
            sigma=jnp.broadcast_to(jnp.asarray(h["sigma"], dt), mean.shape),
            learning_rate_mean=jnp.asarray(h["learning_rate_mean"], dt),
            learning_rate_sigma=jnp.asarray(lr_sigma, dt),
            generation=jnp.zeros((), jnp.int32),
            layout=layout,
        )

    return base.Strategy(init, ask, tell)
