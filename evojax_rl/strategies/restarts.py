"""IPOP restarts (Auger & Hansen, "A Restart CMA Evolution Strategy With Increasing Population
Size", CEC 2005): when a run stops on its own criteria, start again with the population size
multiplied by ``popsize_factor`` (2 in the paper), until the target or the budget is reached.

Each population size compiles once per process: the factory is memoized on popsize, so a
second run (or a second call of ``optimize``) with the same sizes reuses the compiled loop.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import numpy as np

from evojax_rl import validation
from evojax_rl.strategies import base


class IPOP(NamedTuple):
    """A restart scheme: pass it to ``optimize`` in place of a strategy.

    It is not a ``Strategy``: it has no ``init``/``ask``/``tell`` of its own, because each
    restart is a new strategy with a larger population (a new array shape). ``optimize`` runs
    one compiled loop per restart, each population size compiled once per process. To drive a
    restart scheme yourself, call ``make(popsize)`` for each run's ``Strategy``.
    """

    make: Callable[[int], base.Strategy]  # popsize -> Strategy
    popsize: int | None  # first population size (None: the default for D)
    max_restarts: int
    popsize_factor: float
    init_range: float | None  # restart means drawn uniformly in x0 +- init_range

    def run_restarts(self, fitness_fn, x0, *, key, max_generations, target_fitness,
                     max_evaluations, mesh=None, args=None):
        from evojax_rl import loop  # local: loop imports strategies

        layout = base.Layout.of(x0)
        first = self.popsize or base.default_popsize(layout.size)
        results, evaluations = [], 0
        for restart in range(self.max_restarts + 1):
            popsize = int(round(first * self.popsize_factor**restart))
            strategy = self.make(popsize)
            k_start, k_init, k_run = jax.random.split(jax.random.fold_in(key, restart), 3)
            start = x0
            if self.init_range is not None:
                flat = layout.ravel(x0)
                noise = jax.random.uniform(k_start, flat.shape, flat.dtype, -1.0, 1.0)
                start = layout.unravel(flat + self.init_range * noise)
            state = strategy.init(k_init, start)
            left = None if max_evaluations is None else max_evaluations - evaluations
            res = loop.run_one(fitness_fn, strategy, state, k_run, max_generations,
                               target_fitness, left, mesh, args)
            results.append(res)
            evaluations += res.evaluations
            if res.stop_reason in ("target_fitness", "max_evaluations"):
                break
        best = max(results, key=lambda r: r.best_fitness)
        history = np.maximum.accumulate(np.concatenate([r.history for r in results]))
        return loop.OptimizeResult(
            best_x=best.best_x,
            best_fitness=best.best_fitness,
            generations=sum(r.generations for r in results),
            evaluations=evaluations,
            history=history,
            nonfinite=sum(r.nonfinite for r in results),
            stop_reason=results[-1].stop_reason,
            state=results[-1].state,
            restarts=len(results) - 1,
            popsizes=tuple(r.popsizes[0] for r in results),
        )


def ipop(
    factory: Callable[..., base.Strategy],
    *,
    popsize: int | None = None,
    max_restarts: int = 9,
    popsize_factor: float = 2.0,
    init_range: float | None = None,
    **settings: Any,
) -> IPOP:
    """Wrap a strategy factory (e.g. ``cma_es``) in IPOP restarts.

    Args:
      factory: called as ``factory(popsize=P, **settings)``.
      popsize: first population size; None: the default for the dimension.
      max_restarts: restarts after the first run (pycma's ``restarts``; 9 by default).
      popsize_factor: population growth per restart (> 1; pycma's ``incpopsize``, 2).
      init_range: if set, every run starts from ``x0 + U(-init_range, init_range)``.
    """
    validation.check_int("max_restarts", max_restarts, 0, who="ipop")
    validation.check_number("popsize_factor", popsize_factor, 1.0, low_open=True, who="ipop")
    if init_range is not None:
        validation.check_positive("init_range", init_range, who="ipop")
    if popsize is not None:
        base.check_popsize(popsize, who="ipop")
    factory(popsize=popsize, **settings)  # validate the settings now, not at the first restart

    def make(p):
        return factory(popsize=p, **settings)

    return IPOP(make, popsize, max_restarts, float(popsize_factor), init_range)


def ipop_cma_es(**kwargs: Any) -> IPOP:
    """IPOP-CMA-ES: ``ipop(cma_es, **kwargs)``; e.g. ``ipop_cma_es(sigma=2.0, init_range=4.0)``."""
    from evojax_rl.strategies.cma_es import cma_es

    return ipop(cma_es, **kwargs)
