"""Priors of the hyperparameters PBT searches: where members start and where ``resample`` draws.

A prior is a value, ``Prior(kind, low, high)``:

- ``log_uniform(low, high)``: ``exp(U(log low, log high))`` (``0 < low < high``), for scales such
  as learning rates and noise levels, where 1e-3 and 1e-2 are as far apart as 1e-2 and 1e-1.
- ``uniform(low, high)``: ``U(low, high)`` (``low < high``).

Both are bounded, and PBT keeps every value inside ``[low, high]``: ``clip`` is applied after a
perturbation (``explore.perturb``), so that repeated x1.2 steps cannot walk a learning rate into
a region nobody asked for (Jaderberg et al. 2017 leave this open; we choose the prior's range as
the search space). The JSON form of a prior is ``[kind, low, high]``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp

KINDS = ("log_uniform", "uniform")


class Prior(NamedTuple):
    """``kind``: ``"log_uniform"`` or ``"uniform"``; ``low < high``: the range (floats)."""

    kind: str
    low: float
    high: float

    def to_json(self) -> list:
        return [self.kind, self.low, self.high]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def make(kind: str, low: float, high: float, name: str = "prior") -> Prior:
    """A validated prior; a bad kind or bound raises ``ValueError`` in one sentence naming
    ``name`` (the hyperparameter)."""
    if kind not in KINDS:
        raise ValueError(f"the prior of {name} must be one of {', '.join(map(repr, KINDS))}, "
                         f"got {kind!r}.")
    lo, hi = _number(low), _number(high)
    if lo is None or hi is None or not lo < hi:
        raise ValueError(f"the prior of {name} needs finite bounds low < high, got "
                         f"low={low!r}, high={high!r}.")
    if kind == "log_uniform" and lo <= 0:
        raise ValueError(f"the log_uniform prior of {name} needs 0 < low, got low={low!r}.")
    return Prior(kind, lo, hi)


def log_uniform(low: float, high: float) -> Prior:
    """``exp(U(log low, log high))``, ``0 < low < high``."""
    return make("log_uniform", low, high)


def uniform(low: float, high: float) -> Prior:
    """``U(low, high)``, ``low < high``."""
    return make("uniform", low, high)


def as_prior(spec: Any, name: str) -> Prior:
    """A ``Prior`` from a ``Prior`` or its JSON form ``[kind, low, high]`` (validated)."""
    if isinstance(spec, (list, tuple)) and len(spec) == 3:
        return make(spec[0], spec[1], spec[2], name)
    raise ValueError(f"the prior of {name} must be [kind, low, high] with kind one of "
                     f"{', '.join(map(repr, KINDS))}, got {spec!r}.")


def check_priors(priors: Mapping[str, Any], names: Sequence[str], who: str = "pbt") -> dict:
    """``{name: Prior}`` for exactly the hyperparameters ``names`` (sorted by name); a missing
    prior, a prior for an unknown hyperparameter, or a bad prior raises ``ValueError``."""
    if not isinstance(priors, Mapping):
        raise ValueError(f"{who}: priors must be a dict of hyperparameter name -> prior, got "
                         f"{priors!r}.")
    missing = sorted(set(names) - set(priors))
    if missing:
        raise ValueError(f"{who}: hyperparameter(s) {missing} have no prior; give a prior for "
                         f"each of {sorted(names)}.")
    unknown = sorted(set(priors) - set(names))
    if unknown:
        raise ValueError(f"{who}: prior(s) for unknown hyperparameter(s) {unknown}; the "
                         f"learner's hyperparameters are {sorted(names)}.")
    return {n: as_prior(priors[n], n) for n in sorted(names)}


def sample(prior: Prior, key: jax.Array, shape: tuple = ()) -> jax.Array:
    """``f32[*shape]`` draws from ``prior`` (inside ``[low, high]``)."""
    if prior.kind == "log_uniform":
        u = jax.random.uniform(key, shape, jnp.float32, math.log(prior.low), math.log(prior.high))
        x = jnp.exp(u)
    else:
        x = jax.random.uniform(key, shape, jnp.float32, prior.low, prior.high)
    return clip(prior, x)  # exp's rounding may step a hair outside the bounds


def clip(prior: Prior, x: jax.Array) -> jax.Array:
    """``x`` limited to ``[low, high]`` (the bounds as float32)."""
    return jnp.clip(x, jnp.float32(prior.low), jnp.float32(prior.high))
