"""IPOP restarts (Auger & Hansen, "A Restart CMA Evolution Strategy With Increasing Population
Size", CEC 2005): when a run stops on its own criteria, start again with a larger population,
until the target or the budget is reached. The restarts follow pycma's ``fmin2(..., restarts=k,
incpopsize=2)``:

- Run ``k`` has ``int(P0 * popsize_factor**k)`` members, where ``P0`` is pycma's ``popsize``
  option: the *unrounded* default ``4 + 3 ln D`` (5-D: 8, 17, 35, 70, 141, ...; not 8, 16, 32)
  or the user's popsize (10: 10, 20, 40, ...). ``popsizes`` computes the sequence.
- Every run has the same settings (``sigma`` included), except what ``restart_settings`` of the
  factory says the restarts keep from the first run: for CMA-ES, ``maxiter`` and
  ``tolstagnation``, which pycma evaluates once, for the first run's popsize.
- One evaluation budget (``max_evaluations``) spans all runs.
- Where a run starts: ``x0``, or ``x0 + U(-init_range, init_range)`` for every run, or, with
  ``restart_x0``, the first run at ``x0`` and each later one at a fresh draw, e.g.
  ``triangular_in(-5, 5)``: COCO's ``initial_solution_proposal`` on the bbob suite, what COCO's
  example experiment hands pycma as a callable ``x0`` (pycma calls it anew for every run).

Each population size compiles once per process: the factory is memoized on popsize, so a
second run (or a second call of ``optimize``) with the same sizes reuses the compiled loop.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import numpy as np

from evojax_rl import validation
from evojax_rl.strategies import base


def popsizes(dim: int, popsize: float | None = None, popsize_factor: float = 2.0,
             runs: int = 10) -> tuple[int, ...]:
    """Population sizes of IPOP's first ``runs`` runs in dimension ``dim``, by pycma's rule:
    ``int(P0 * popsize_factor**k)`` for run ``k``, with ``P0 = 4 + 3 ln D`` unrounded (for
    ``popsize=None``) or the given first popsize."""
    p0 = base.option_popsize(dim, popsize)
    # pycma: popsize0 * incpopsize**irun, then int(popsize + N**0.0 - 1).
    return tuple(int(p0 * popsize_factor**k + 1.0 - 1) for k in range(runs))


def uniform_in(lower: Any, upper: Any) -> Callable[[jax.Array, Any], Any]:
    """A ``restart_x0``: every coordinate uniform in ``[lower, upper]`` (scalars, or arrays
    shaped like the flattened ``x0``)."""

    def draw(key, x0):
        layout = base.Layout.of(x0)
        u = jax.random.uniform(key, (layout.size,), layout.dtype)
        return layout.unravel(_lerp(lower, upper, u, layout.dtype))

    return draw


def triangular_in(lower: Any, upper: Any) -> Callable[[jax.Array, Any], Any]:
    """A ``restart_x0``: every coordinate ``lower + (u1 + u2) (upper - lower) / 2`` with ``u1,
    u2 ~ U(0, 1)``: triangular on ``[lower, upper]``, densest at the centre. This is COCO's
    ``Problem.initial_solution_proposal()`` after its first call (on bbob, density ``0.2 (1 -
    |x| / 5)`` on [-5, 5]), which its example experiment passes to pycma as ``x0``."""

    def draw(key, x0):
        layout = base.Layout.of(x0)
        u = jax.random.uniform(key, (2, layout.size), layout.dtype)
        return layout.unravel(_lerp(lower, upper, (u[0] + u[1]) / 2, layout.dtype))

    return draw


def _lerp(lower, upper, u, dtype):
    lower, upper = np.asarray(lower, dtype), np.asarray(upper, dtype)
    return lower + u * (upper - lower)


class IPOP(NamedTuple):
    """A restart scheme: pass it to ``optimize`` in place of a strategy.

    It is not a ``Strategy``: it has no ``init``/``ask``/``tell`` of its own, because each
    restart is a new strategy with a larger population (a new array shape). ``optimize`` runs
    one compiled loop per restart, each population size compiled once per process. To drive a
    restart scheme yourself, take the sizes from ``popsizes(D)``, call ``make(popsize, D)`` for
    each run's ``Strategy`` and ``start(key, restart, x0)`` for its starting point.
    """

    make: Callable[..., base.Strategy]  # (popsize, dim=None) -> Strategy
    popsize: int | None  # first population size (None: the default for D)
    max_restarts: int
    popsize_factor: float
    init_range: float | None  # every run's mean drawn uniformly in x0 +- init_range
    restart_x0: Callable[[jax.Array, Any], Any] | None = None  # (key, x0) -> later runs' start

    def popsizes(self, dim: int) -> tuple[int, ...]:
        """Each run's population size in dimension ``dim`` (pycma's rule; see ``popsizes``)."""
        return popsizes(dim, self.popsize, self.popsize_factor, self.max_restarts + 1)

    def start(self, key: jax.Array, restart: int, x0: Any) -> Any:
        """Where run ``restart`` (0: the first) starts: ``restart_x0(key, x0)`` for a restart
        when set; else ``x0``, moved by ``U(-init_range, init_range)`` per coordinate when set."""
        layout = base.Layout.of(x0)
        if restart > 0 and self.restart_x0 is not None:
            start = self.restart_x0(key, x0)
            got = base.Layout.of(start)
            if got.treedef != layout.treedef or got.shapes != layout.shapes:
                raise ValueError(f"ipop: restart_x0 must return a point shaped like x0 "
                                 f"({layout}), got {got}.")
            return layout.unravel(layout.ravel(start))  # x0's dtypes
        if self.init_range is None:
            return x0
        flat = layout.ravel(x0)
        noise = jax.random.uniform(key, flat.shape, flat.dtype, -1.0, 1.0)
        return layout.unravel(flat + self.init_range * noise)

    def run_restarts(self, fitness_fn, x0, *, key, max_generations, target_fitness,
                     max_evaluations, mesh=None, args=None):
        from evojax_rl import loop  # local: loop imports strategies

        dim = base.Layout.of(x0).size
        results, evaluations, offsets = [], 0, []
        for restart, popsize in enumerate(self.popsizes(dim)):
            strategy = self.make(popsize, dim)
            k_start, k_init, k_run = jax.random.split(jax.random.fold_in(key, restart), 3)
            state = strategy.init(k_init, self.start(k_start, restart, x0))
            left = None if max_evaluations is None else max_evaluations - evaluations
            res = loop.run_one(fitness_fn, strategy, state, k_run, max_generations,
                               target_fitness, left, mesh, args)
            results.append(res)
            offsets.append(evaluations)
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
            history_evaluations=np.concatenate(
                [off + r.history_evaluations for off, r in zip(offsets, results)]),
        )


def ipop(
    factory: Callable[..., base.Strategy],
    *,
    popsize: int | None = None,
    max_restarts: int = 9,
    popsize_factor: float = 2.0,
    init_range: float | None = None,
    restart_x0: Callable[[jax.Array, Any], Any] | None = None,
    **settings: Any,
) -> IPOP:
    """Wrap a strategy factory (e.g. ``cma_es``) in IPOP restarts, as pycma's
    ``fmin2(..., restarts=max_restarts, incpopsize=popsize_factor)`` does them.

    Args:
      factory: called as ``factory(popsize=P, **settings)``, plus, if the factory has a
        ``restart_settings(dim, popsize)`` attribute (``cma_es`` and ``sep_cma_es`` do), the
        settings it returns for the first run's popsize, in every run (user settings win).
      popsize: first population size; None: the default for the dimension. Run ``k`` has
        ``int(P0 * popsize_factor**k)`` members, ``P0`` this popsize or, for None, the unrounded
        ``4 + 3 ln D`` (5-D: 8, 17, 35, 70, ...), as in pycma (``IPOP.popsizes(D)``).
      max_restarts: restarts after the first run (pycma's ``restarts``; 9 by default).
      popsize_factor: population growth per restart (> 1; pycma's ``incpopsize``, 2).
      init_range: if set, every run, the first included, starts from
        ``x0 + U(-init_range, init_range)`` (per coordinate); with ``restart_x0`` also set,
        only the first run does.
      restart_x0: if set, ``(key, x0) -> x``: where each restart (run 1, 2, ...) starts, drawn
        anew per restart; the first run starts at ``x0``. ``triangular_in(lower, upper)`` gives
        COCO's bbob setup (pycma with ``x0=problem.initial_solution_proposal``: the domain's
        centre first, then triangular draws in the box); ``uniform_in(lower, upper)`` uniform
        draws. None: every run starts at ``x0`` (or per ``init_range``).

    All runs share ``optimize``'s ``max_evaluations``; ``max_generations`` is per run.
    """
    validation.check_int("max_restarts", max_restarts, 0, who="ipop")
    validation.check_number("popsize_factor", popsize_factor, 1.0, low_open=True, who="ipop")
    if init_range is not None:
        validation.check_positive("init_range", init_range, who="ipop")
    if restart_x0 is not None and not callable(restart_x0):
        raise ValueError("ipop: restart_x0 must be a function (key, x0) -> x, e.g. "
                         f"strategies.triangular_in(-5, 5), got {type(restart_x0).__name__}.")
    if popsize is not None:
        base.check_popsize(popsize, who="ipop")
    factory(popsize=popsize, **settings)  # validate the settings now, not at the first restart
    first_run = getattr(factory, "restart_settings", None)

    def make(p, dim=None):
        """The ``Strategy`` of a run with ``p`` members; with ``dim``, it also gets what the
        factory's ``restart_settings`` keeps from the first run (pycma's restarts do)."""
        kept = {} if dim is None or first_run is None else first_run(dim, popsize)
        return factory(popsize=p, **{**kept, **settings})

    return IPOP(make, popsize, max_restarts, float(popsize_factor), init_range, restart_x0)


def ipop_cma_es(**kwargs: Any) -> IPOP:
    """IPOP-CMA-ES: ``ipop(cma_es, **kwargs)``; e.g. ``ipop_cma_es(sigma=2.0)``, or COCO's bbob
    setup ``ipop_cma_es(sigma=2.0, restart_x0=triangular_in(-5, 5))`` from ``x0 = 0``."""
    from evojax_rl.strategies.cma_es import cma_es

    return ipop(cma_es, **kwargs)
