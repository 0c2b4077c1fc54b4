"""OpenAI evolution strategy (Salimans, Ho, Chen, Sidor & Sutskever 2017).

Search distribution ``N(mean, sigma^2 I)``. With mirrored ("antithetic") sampling, each noise
vector ``eps_i`` is evaluated at ``mean + sigma eps_i`` and ``mean - sigma eps_i`` (Sec. 2.2).
The gradient of expected fitness (Algorithm 1, line 5) is estimated as

    g = 1 / (P sigma) * sum_i u_i eps_i,

with ``u`` the centered ranks of the fitness (Sec. 2.2, App. A) and an L2 weight decay
``- weight_decay * mean``. ``g`` is handed to an optax optimizer (Adam by default, as in the
paper's experiments) as the ascent direction. ``sigma`` follows the schedule
``sigma_t = max(sigma_0 * sigma_decay^t, sigma_limit)``.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from evojax_rl import shaping, validation
from evojax_rl.strategies import base, sampling


class OpenESState(NamedTuple):
    """State of ``open_es``; ``D`` is the flattened parameter count."""

    mean: jax.Array  # [D] search centre
    sigma: jax.Array  # [] current noise scale
    opt_state: Any  # optax state; holds hyperparams["learning_rate"]: []
    sigma_decay: jax.Array  # [] multiplicative decay of sigma per generation
    sigma_limit: jax.Array  # [] floor of sigma
    weight_decay: jax.Array  # [] L2 coefficient on the mean
    generation: jax.Array  # [] int32
    layout: base.Layout  # static: how [D] maps to the user's pytree


@base.memoize
def _build(popsize, mirrored, optimizer, shaping_fn):
    def resolve(dim):
        return base.resolve_popsize(popsize, dim, even=mirrored)

    def tx(learning_rate):
        return optax.inject_hyperparams(optimizer)(learning_rate=learning_rate)

    def ask_flat(key, state):
        d = state.mean.shape[0]
        p = resolve(d)
        if mirrored:
            half = sampling.normal(key, (p // 2, d), state.mean.dtype)
            eps = jnp.concatenate([half, -half])
        else:
            eps = sampling.normal(key, (p, d), state.mean.dtype)
        return state.mean + state.sigma * eps, state

    def tell_flat(flat, fitness, state):
        p = flat.shape[0]
        eps = (flat - state.mean) / state.sigma
        utility = shaping_fn(fitness).astype(flat.dtype)
        grad = utility @ eps / (p * state.sigma) - state.weight_decay * state.mean
        # optax minimizes: hand it the negative ascent direction.
        lr = state.opt_state.hyperparams["learning_rate"]
        updates, opt_state = tx(lr).update(-grad, state.opt_state, state.mean)
        sigma = jnp.maximum(state.sigma * state.sigma_decay, state.sigma_limit)
        return state._replace(
            mean=optax.apply_updates(state.mean, updates),
            sigma=sigma.astype(state.sigma.dtype),
            opt_state=opt_state,
            generation=state.generation + 1,
        )

    ask, tell = base.wrap_flat(ask_flat, tell_flat)
    return tx, ask, tell

# The sweepable numbers and what each may be (checked in the factory and in ``init``).
_RULES = {
    "sigma": validation.positive,
    "learning_rate": validation.positive,
    "sigma_decay": validation.positive,
    "sigma_limit": validation.nonnegative,
    "weight_decay": validation.nonnegative,
}


def open_es(
    popsize: int | None = None,
    *,
    sigma: float = 0.1,
    learning_rate: float = 0.01,
    optimizer: Callable[..., optax.GradientTransformation] = optax.adam,
    mirrored: bool = True,
    sigma_decay: float = 1.0,
    sigma_limit: float = 0.0,
    weight_decay: float = 0.0,
    fitness_shaping: Callable[[jax.Array], jax.Array] = shaping.centered_ranks,
) -> base.Strategy:
    """OpenAI-ES. Fitness ``[P]`` is **maximized**.

    Args:
      popsize: population size ``P`` (even when ``mirrored``); None: ``4 + 3 ln D`` rounded up
        to even.
      sigma: initial noise scale (> 0). Sweepable via ``init(..., sigma=...)``.
      learning_rate: step size handed to ``optimizer`` (> 0). Sweepable.
      optimizer: an optax optimizer factory taking ``learning_rate`` (``optax.adam``,
        ``optax.sgd``, ...).
      mirrored: antithetic sampling.
      sigma_decay, sigma_limit: schedule ``sigma_t = max(sigma_0 sigma_decay^t, sigma_limit)``.
      weight_decay: L2 coefficient subtracted from the gradient estimate (>= 0).
      fitness_shaping: ``[P] -> [P]`` utility transform (centered ranks by default).
    """
    if popsize is not None:
        popsize = base.check_popsize(
            popsize, even=mirrored, who="open_es", odd_hint=" or pass mirrored=False"
        )
    defaults = dict(
        sigma=sigma,
        learning_rate=learning_rate,
        sigma_decay=sigma_decay,
        sigma_limit=sigma_limit,
        weight_decay=weight_decay,
    )
    validation.check_all(_RULES, defaults, "open_es")
    tx, ask, tell = _build(popsize, bool(mirrored), optimizer, fitness_shaping)

    def init(key, x0, **hyperparams):
        del key  # deterministic start
        h = base.apply_overrides(defaults, hyperparams, "open_es", _RULES)
        layout = base.Layout.of(x0)
        mean = layout.ravel(x0)
        dt = mean.dtype
        return OpenESState(
            mean=mean,
            sigma=jnp.asarray(h["sigma"], dt),
            opt_state=tx(jnp.asarray(h["learning_rate"], dt)).init(mean),
            sigma_decay=jnp.asarray(h["sigma_decay"], dt),
            sigma_limit=jnp.asarray(h["sigma_limit"], dt),
            weight_decay=jnp.asarray(h["weight_decay"], dt),
            generation=jnp.zeros((), jnp.int32),
            layout=layout,
        )

    return base.Strategy(init, ask, tell)
