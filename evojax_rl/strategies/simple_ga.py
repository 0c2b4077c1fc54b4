"""Simple genetic algorithm: truncation selection, uniform crossover, Gaussian mutation, elitism.

The GA of Such, Madhavan, Conti, Lehman, Stanley & Clune (2017), "Deep neuroevolution: genetic
algorithms are a competitive alternative for training deep neural networks for reinforcement
learning", Algorithm 1 (truncation selection of the top ``T`` parents, Gaussian mutation
``theta' = theta + sigma eps``, the elite carried over unmutated), with the uniform crossover of
the "simple GA" in the lecture notes (each gene from either parent). Each generation:

    sort the population by fitness (maximized), n_e = ceil(elite_ratio P)
    rows 0 .. n_e-1 of the next population: the n_e elites, unchanged (elitism)
    every other row: parents a, b drawn uniformly from the elites (truncation selection);
        child_j = b_j with probability crossover_rate, else a_j   (uniform crossover)
        child  += sigma * N(0, I)                                  (mutation)

The elites are evaluated again with the children (the fitness of noisy episodes is not trusted
across generations). ``mean(state)`` is the best member evaluated so far, kept as the ``mean``
field. At generation 0 the population is ``x0`` (elites) and mutants of ``x0``.

Fitness ``[P]`` is **maximized**.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from evojax_rl import validation
from evojax_rl.strategies import base, sampling
from evojax_rl.strategies.cem import elite_count


class SimpleGAState(NamedTuple):
    """State of ``simple_ga``; ``D`` is the flattened parameter count, ``P`` the popsize."""

    mean: jax.Array  # [D] best member evaluated so far (x0 before any evaluation)
    best_fitness: jax.Array  # [] its fitness (dtype's lowest before any evaluation)
    population: jax.Array  # [P, D] last evaluated population
    fitness: jax.Array  # [P] its fitness (sanitized: NaN ranked worst)
    sigma: jax.Array  # [] mutation scale
    elite_ratio: jax.Array  # [] fraction of the population kept as elites and parents
    crossover_rate: jax.Array  # [] probability that a gene comes from the second parent
    generation: jax.Array  # [] int32
    layout: base.Layout  # static: how [D] maps to the user's pytree


@base.memoize
def _build(popsize):
    def resolve(dim):
        return base.resolve_popsize(popsize, dim)

    def ask_flat(key, state):
        p, d = state.population.shape
        dt = state.population.dtype
        k_parent, k_cross, k_mut = jax.random.split(key, 3)
        order = jnp.argsort(-state.fitness)
        ranked = state.population[order]
        n_elite = elite_count(state.elite_ratio, p)
        parents = jnp.floor(jax.random.uniform(k_parent, (2, p)) * n_elite).astype(jnp.int32)
        parents = jnp.minimum(parents, n_elite.astype(jnp.int32) - 1)
        a, b = ranked[parents[0]], ranked[parents[1]]
        cross = jax.random.uniform(k_cross, (p, d)) < state.crossover_rate
        child = jnp.where(cross, b, a) + state.sigma * sampling.normal(k_mut, (p, d), dt)
        is_elite = (jnp.arange(p) < n_elite)[:, None]
        return jnp.where(is_elite, ranked, child).astype(dt), state

    def tell_flat(flat, fitness, finite, state):
        dt = flat.dtype
        fitness = fitness.astype(dt)
        i = jnp.argmax(fitness)  # a finite member whenever there is one
        better = finite[i] & (fitness[i] > state.best_fitness)
        return state._replace(
            mean=jnp.where(better, flat[i], state.mean),
            best_fitness=jnp.where(better, fitness[i], state.best_fitness),
            population=flat,
            fitness=fitness,
            generation=state.generation + 1,
        )

    ask, tell = base.wrap_flat(ask_flat, tell_flat, pass_finite=True)
    return resolve, ask, tell

# The sweepable numbers and what each may be (checked in the factory and in ``init``).
_RULES = {
    "sigma": validation.positive,
    "elite_ratio": validation.interval(0.0, 1.0, low_open=True),
    "crossover_rate": validation.interval(0.0, 1.0),
}


def simple_ga(
    popsize: int | None = None,
    *,
    sigma: float = 0.1,
    elite_ratio: float = 0.1,
    crossover_rate: float = 0.5,
) -> base.Strategy:
    """Simple GA with elitism. Fitness ``[P]`` is **maximized**.

    Args:
      popsize: population size ``P`` (>= 2); None: ``4 + floor(3 ln D)``.
      sigma: mutation scale (> 0). Sweepable.
      elite_ratio: in ``(0, 1]``; the top ``ceil(elite_ratio P)`` members are kept unchanged and
        are the parents. Sweepable.
      crossover_rate: in ``[0, 1]``, probability that each gene comes from the second parent
        (0.5: uniform crossover; 0: mutation only). Sweepable.
    """
    if popsize is not None:
        popsize = base.check_popsize(popsize, who="simple_ga")
    defaults = dict(sigma=sigma, elite_ratio=elite_ratio, crossover_rate=crossover_rate)
    validation.check_all(_RULES, defaults, "simple_ga")
    resolve, ask, tell = _build(popsize)

    def init(key, x0, **hyperparams):
        del key  # deterministic start
        h = base.apply_overrides(defaults, hyperparams, "simple_ga", _RULES)
        layout = base.Layout.of(x0)
        mean = layout.ravel(x0)
        dt = mean.dtype
        p = resolve(layout.size)
        lowest = jnp.finfo(dt).min
        return SimpleGAState(
            mean=mean,
            best_fitness=jnp.asarray(lowest, dt),
            population=jnp.broadcast_to(mean, (p, mean.shape[0])),
            fitness=jnp.full((p,), lowest, dt),
            sigma=jnp.asarray(h["sigma"], dt),
            elite_ratio=jnp.asarray(h["elite_ratio"], dt),
            crossover_rate=jnp.asarray(h["crossover_rate"], dt),
            generation=jnp.zeros((), jnp.int32),
            layout=layout,
        )

    return base.Strategy(init, ask, tell)
