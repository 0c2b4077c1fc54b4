"""Policy gradients with parameter-based exploration (PGPE), with the ClipUp optimizer.

Sehnke, Osendorfer, Rueckstiess, Graves, Peters & Schmidhuber (2010), "Parameter-exploring policy
gradients", Neural Networks 23(4), Sec. 2.3 "Symmetric sampling". Search distribution
``N(mean, diag(sigma^2))``; ``P = 2N`` evaluations per generation:

    eps_n ~ N(0, diag(sigma^2)),   x_n^+ = mean + eps_n,   x_n^- = mean - eps_n,   n = 1..N
    u = centered ranks of all 2N fitnesses (Salimans et al. 2017; Toklu et al. 2020), so the
        baseline b of Sehnke et al. is the mean utility, 0
    grad_mean  = 1/N sum_n (u_n^+ - u_n^-) / 2 * eps_n
    grad_sigma = 1/N sum_n ((u_n^+ + u_n^-) / 2 - b) * (eps_n^2 - sigma^2) / sigma

The centre follows ``grad_mean`` through an optimizer (ClipUp by default, Adam or plain SGD) with
``center_learning_rate``; ``sigma <- sigma + stdev_learning_rate * grad_sigma``, with each
coordinate's relative change clipped to ``stdev_max_change`` (Toklu et al. 2020, Sec. 4).

ClipUp (Toklu, Liskowski & Srivastava 2020, "ClipUp: a simple and powerful optimizer for
distribution-based policy evolution", PPSN, Algorithm 1): the gradient is normalized to unit
length, ``v <- momentum v + step_size g / |g|``, and ``v`` is clipped to norm ``max_speed``.
Their recommendation ``max_speed = 2 step_size`` is the default here. ``clipup`` is a small
optax ``GradientTransformation``.

Fitness ``[P]`` is **maximized**.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from evojax_rl import shaping, validation
from evojax_rl.strategies import base, sampling

OPTIMIZERS = ("clipup", "adam", "sgd")


class ClipUpState(NamedTuple):
    velocity: Any  # params-shaped pytree


def clipup(learning_rate, max_speed, momentum=0.9) -> optax.GradientTransformation:
    """ClipUp (Toklu et al. 2020, Algorithm 1) as an optax transform (optax minimizes, so the
    velocity moves against the gradient it is given).

    ``learning_rate`` is ClipUp's step size: the length of the normalized gradient step added to
    the velocity; ``max_speed`` bounds the velocity's norm; ``momentum`` in ``[0, 1)``.
    A zero gradient adds nothing (no division by 0).
    """

    def init_fn(params):
        return ClipUpState(velocity=jax.tree_util.tree_map(jnp.zeros_like, params))

    def update_fn(updates, state, params=None):
        del params
        norm = optax.global_norm(updates)
        scale = jnp.where(norm > 0, learning_rate / jnp.where(norm > 0, norm, 1.0), 0.0)
        velocity = jax.tree_util.tree_map(
            lambda v, g: (momentum * v - scale * g).astype(v.dtype), state.velocity, updates
        )
        speed = optax.global_norm(velocity)
        shrink = jnp.where(speed > max_speed, max_speed / jnp.where(speed > 0, speed, 1.0), 1.0)
        velocity = jax.tree_util.tree_map(lambda v: (v * shrink).astype(v.dtype), velocity)
        return velocity, ClipUpState(velocity=velocity)

    return optax.GradientTransformation(init_fn, update_fn)


class PGPEState(NamedTuple):
    """State of ``pgpe``; ``D`` is the flattened parameter count."""

    mean: jax.Array  # [D] centre of the search distribution
    sigma: jax.Array  # [D] per-dimension standard deviation
    opt_state: Any  # optax state of the centre's optimizer; its hyperparams dict holds
    #                 learning_rate: [] (and for ClipUp max_speed: [], momentum: [])
    stdev_learning_rate: jax.Array  # [] step on sigma
    stdev_max_change: jax.Array  # [] bound on |sigma' / sigma - 1| per generation
    generation: jax.Array  # [] int32
    layout: base.Layout  # static: how [D] maps to the user's pytree


def _transform(optimizer):
    if optimizer == "clipup":
        return optax.inject_hyperparams(clipup)
    return optax.inject_hyperparams(optax.adam if optimizer == "adam" else optax.sgd)


@base.memoize
def _build(popsize, optimizer):
    tx = _transform(optimizer)

    def resolve(dim):
        return base.resolve_popsize(popsize, dim, even=True)

    def ask_flat(key, state):
        d = state.mean.shape[0]
        eps = state.sigma * sampling.normal(key, (resolve(d) // 2, d), state.mean.dtype)
        return jnp.concatenate([state.mean + eps, state.mean - eps]), state

    def tell_flat(flat, fitness, state):
        n = flat.shape[0] // 2
        dt = flat.dtype
        eps = flat[:n] - state.mean  # [N, D]
        u = shaping.centered_ranks(fitness).astype(dt)  # [2N], mean 0 = the baseline
        u_plus, u_minus = u[:n], u[n:]
        sigma = state.sigma
        grad_mean = ((u_plus - u_minus) / 2) @ eps / n
        safe_sigma = jnp.where(sigma > 0, sigma, 1.0)
        grad_sigma = ((u_plus + u_minus) / 2) @ ((jnp.square(eps) - jnp.square(sigma)) / safe_sigma)
        grad_sigma = grad_sigma / n
        # optax minimizes: hand it the negative ascent direction.
        updates, opt_state = tx(**state.opt_state.hyperparams).update(
            -grad_mean, state.opt_state, state.mean
        )
        c = state.stdev_max_change
        new_sigma = jnp.clip(sigma + state.stdev_learning_rate * grad_sigma, sigma * (1 - c),
                             sigma * (1 + c))
        finfo = jnp.finfo(dt)
        new_sigma = jnp.clip(new_sigma, finfo.tiny, finfo.max)
        return state._replace(
            mean=optax.apply_updates(state.mean, updates).astype(dt),
            sigma=new_sigma.astype(dt),
            opt_state=opt_state,
            generation=state.generation + 1,
        )

    ask, tell = base.wrap_flat(ask_flat, tell_flat)
    return tx, ask, tell

# The sweepable numbers and what each may be (checked in the factory and in ``init``).
_RULES = {
    "sigma": validation.positive,
    "center_learning_rate": validation.positive,
    "stdev_learning_rate": validation.positive,
    "stdev_max_change": validation.interval(0.0, 1.0, low_open=True, high_open=True),
    "clipup_max_speed": validation.positive,
    "clipup_momentum": validation.interval(0.0, 1.0, high_open=True),
}


def pgpe(
    popsize: int | None = None,
    *,
    sigma: float = 0.1,
    center_learning_rate: float = 0.15,
    stdev_learning_rate: float = 0.1,
    stdev_max_change: float = 0.2,
    optimizer: str = "clipup",
    clipup_max_speed: float | None = None,
    clipup_momentum: float = 0.9,
) -> base.Strategy:
    """PGPE with symmetric sampling. Fitness ``[P]`` is **maximized**.

    Args:
      popsize: evaluations per generation ``P = 2N`` (even, >= 2); None: ``4 + 3 ln D`` rounded
        up to even.
      sigma: initial standard deviation (> 0), broadcast to ``[D]``. Sweepable.
      center_learning_rate: the centre optimizer's step size (ClipUp's step size) (> 0).
        Sweepable.
      stdev_learning_rate: step on ``sigma`` (> 0). Sweepable.
      stdev_max_change: in ``(0, 1)``, bound on each coordinate's relative change of ``sigma``
        per generation. Sweepable.
      optimizer: ``"clipup"``, ``"adam"`` or ``"sgd"`` for the centre.
      clipup_max_speed: ClipUp's bound on the velocity norm (> 0); None:
        ``2 * center_learning_rate``. Sweepable (ClipUp only).
      clipup_momentum: ClipUp's momentum in ``[0, 1)``. Sweepable (ClipUp only).
    """
    if popsize is not None:
        popsize = base.check_popsize(popsize, even=True, who="pgpe")
    validation.check_choice("optimizer", optimizer, OPTIMIZERS, who="pgpe")
    validation.check_positive("center_learning_rate", center_learning_rate, who="pgpe")
    if clipup_max_speed is None:
        clipup_max_speed = 2.0 * center_learning_rate
    defaults = dict(
        sigma=sigma,
        center_learning_rate=center_learning_rate,
        stdev_learning_rate=stdev_learning_rate,
        stdev_max_change=stdev_max_change,
    )
    if optimizer == "clipup":
        defaults.update(clipup_max_speed=clipup_max_speed, clipup_momentum=clipup_momentum)
    validation.check_all(_RULES, defaults, "pgpe")
    tx, ask, tell = _build(popsize, optimizer)

    def init(key, x0, **hyperparams):
        del key  # deterministic start
        h = base.apply_overrides(defaults, hyperparams, "pgpe", _RULES)
        layout = base.Layout.of(x0)
        mean = layout.ravel(x0)
        dt = mean.dtype
        opt_hyper = dict(learning_rate=jnp.asarray(h["center_learning_rate"], dt))
        if optimizer == "clipup":
            opt_hyper.update(
                max_speed=jnp.asarray(h["clipup_max_speed"], dt),
                momentum=jnp.asarray(h["clipup_momentum"], dt),
            )
        return PGPEState(
            mean=mean,
            sigma=jnp.broadcast_to(jnp.asarray(h["sigma"], dt), mean.shape),
            opt_state=tx(**opt_hyper).init(mean),
            stdev_learning_rate=jnp.asarray(h["stdev_learning_rate"], dt),
            stdev_max_change=jnp.asarray(h["stdev_max_change"], dt),
            generation=jnp.zeros((), jnp.int32),
            layout=layout,
        )

    return base.Strategy(init, ask, tell)
