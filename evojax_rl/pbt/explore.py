"""Explore: new hyperparameters for a member that has just copied another (Jaderberg et al.
2017, Sec. 3.1 and 4.1.1: "perturb" and "resample").

For each hyperparameter independently: with probability ``resample_probability`` it is drawn
afresh from its prior; otherwise it is multiplied by one of ``factors`` (0.8 or 1.2 by default),
chosen with equal chance, and clipped to the prior's range (``priors.clip``; see ``priors`` for
why). Every value explore returns is therefore inside ``[low, high]`` of its prior.
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp

from evojax_rl.pbt import priors as priors_lib
from evojax_rl.pbt.priors import Prior
from evojax_rl.validation import check_number

FACTORS = (0.8, 1.2)


def check(resample_probability: float, factors, who: str = "pbt") -> tuple:
    """Validate the explore settings; returns ``factors`` as a tuple of two floats."""
    check_number("resample_probability", resample_probability, 0.0, 1.0, who=who)
    if not isinstance(factors, (list, tuple)) or len(factors) != 2:
        raise ValueError(f"{who}: perturb_factors must be two positive numbers such as "
                         f"(0.8, 1.2), got {factors!r}.")
    check_number("perturb_factors", list(factors), 0.0, low_open=True, who=who)
    return (float(factors[0]), float(factors[1]))


def explore(key: jax.Array, hyperparams: Mapping[str, jax.Array], priors: Mapping[str, Prior],
            resample_probability: float, factors: tuple = FACTORS) -> dict:
    """One member's new hyperparameters ``{name: f32[]}`` (``vmap`` it over members)."""
    out = {}
    for i, name in enumerate(sorted(hyperparams)):
        k_factor, k_coin, k_draw = jax.random.split(jax.random.fold_in(key, i), 3)
        prior = priors[name]
        factor = jnp.where(jax.random.bernoulli(k_factor), jnp.float32(factors[1]),
                           jnp.float32(factors[0]))
        perturbed = priors_lib.clip(prior, hyperparams[name] * factor)
        resampled = priors_lib.sample(prior, k_draw)
        coin = jax.random.bernoulli(k_coin, resample_probability)
        out[name] = jnp.where(coin, resampled, perturbed).astype(jnp.float32)
    return out
