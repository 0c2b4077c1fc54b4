"""Augmented random search (ARS), versions V1 and V1-t.

Mania, Guy & Recht (2018), "Simple random search of static linear policies is competitive for
reinforcement learning", NeurIPS, Algorithm 1 (V1, V1-t). ``P = 2N`` evaluations per
generation, ``N`` directions:

    delta_k ~ N(0, I),  r_k^+ = F(theta + nu delta_k),  r_k^- = F(theta - nu delta_k)
    keep the b = top_k directions with the largest max(r_k^+, r_k^-)           (V1-t, step 6)
    theta <- theta + alpha / (b sigma_R) sum_{k <= b} (r_(k)^+ - r_(k)^-) delta_(k)   (step 7)

with ``sigma_R`` the standard deviation of the ``2b`` returns used; ``top_k = N`` is V1.
``nu`` is ``sigma`` here and ``alpha`` is ``learning_rate``. The state normalization of V2 is
for policies on observations and lives with the rollout, not here.

Raw returns enter the step (scaled by ``sigma_R``, so the step is invariant to the fitness
scale). When all ``2b`` returns are equal, ``sigma_R = 0`` and so is every difference: the step
is 0, never NaN.

Fitness ``[P]`` is **maximized**.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from evojax_rl import validation
from evojax_rl.strategies import base, sampling


class ARSState(NamedTuple):
    """State of ``ars``; ``D`` is the flattened parameter count."""

    mean: jax.Array  # [D] theta, the current policy parameters
    sigma: jax.Array  # [] nu, the exploration noise
    learning_rate: jax.Array  # [] alpha, the step size
    generation: jax.Array  # [] int32
    layout: base.Layout  # static: how [D] maps to the user's pytree


# The sweepable numbers and what each may be (checked in the factory and in ``init``).
_RULES = {"sigma": validation.positive, "learning_rate": validation.positive}


def _check_top_k(top_k, popsize):
    """``top_k`` in ``[1, popsize // 2]`` (``popsize`` None: only ``>= 1`` can be checked yet)."""
    validation.check_int("top_k", top_k, 1, None if popsize is None else popsize // 2, who="ars")


@base.memoize
def _build(popsize, top_k):
    def resolve(dim):
        return base.resolve_popsize(popsize, dim, even=True)

    def ask_flat(key, state):
        d = state.mean.shape[0]
        delta = sampling.normal(key, (resolve(d) // 2, d), state.mean.dtype)
        step = state.sigma * delta
        return jnp.concatenate([state.mean + step, state.mean - step]), state

    def tell_flat(flat, fitness, state):
        n = flat.shape[0] // 2
        b = n if top_k is None else top_k
        dt = flat.dtype
        delta = (flat[:n] - state.mean) / state.sigma  # [N, D]
        r_plus, r_minus = fitness[:n], fitness[n:]
        top = jnp.argsort(-jnp.maximum(r_plus, r_minus))[:b]  # [b], best first
        used = jnp.concatenate([r_plus[top], r_minus[top]])  # [2b]
        # Scale first so that neither the differences nor the variance can overflow.
        scale = jnp.max(jnp.abs(used))
        scale = jnp.where(scale > 0, scale, 1.0)
        diff = (r_plus[top] - r_minus[top]) / scale  # [b]
        std = jnp.std(used / scale)
        coef = jnp.where(std > 0, diff / jnp.where(std > 0, std, 1.0), 0.0)
        step = state.learning_rate / b * (coef.astype(dt) @ delta[top])
        return state._replace(mean=(state.mean + step).astype(dt), generation=state.generation + 1)

    return base.wrap_flat(ask_flat, tell_flat)


def ars(
    popsize: int | None = None,
    *,
    sigma: float = 0.02,
    learning_rate: float = 0.02,
    top_k: int | None = None,
) -> base.Strategy:
    """ARS V1-t. Fitness ``[P]`` is **maximized**.

    Args:
      popsize: evaluations per generation ``P = 2N`` (even, >= 2); None: ``4 + 3 ln D`` rounded
        up to even.
      sigma: ``nu``, the perturbation scale (> 0). Sweepable.
      learning_rate: ``alpha`` (> 0). Sweepable.
      top_k: ``b``, directions kept, in ``[1, P // 2]``; None: all ``N`` (V1).
    """
    if popsize is not None:
        popsize = base.check_popsize(popsize, even=True, who="ars")
    if top_k is not None:
        _check_top_k(top_k, popsize)
    defaults = dict(sigma=sigma, learning_rate=learning_rate)
    validation.check_all(_RULES, defaults, "ars")
    ask, tell = _build(popsize, top_k)

    def init(key, x0, **hyperparams):
        del key  # deterministic start
        h = base.apply_overrides(defaults, hyperparams, "ars", _RULES)
        layout = base.Layout.of(x0)
        if top_k is not None and popsize is None:
            _check_top_k(top_k, base.resolve_popsize(None, layout.size, even=True))
        mean = layout.ravel(x0)
        dt = mean.dtype
        return ARSState(
            mean=mean,
            sigma=jnp.asarray(h["sigma"], dt),
            learning_rate=jnp.asarray(h["learning_rate"], dt),
            generation=jnp.zeros((), jnp.int32),
            layout=layout,
        )

    return base.Strategy(init, ask, tell)
