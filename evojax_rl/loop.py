"""``optimize``: a whole black-box run as one compiled ``lax.while_loop``.

Fitness is **maximized**: to minimize ``f`` pass ``lambda x: -f(x)``.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evojax_rl import distributed, validation
from evojax_rl.same_function import SameFunction
from evojax_rl.strategies import base, restarts, sampling


class OptimizeResult(NamedTuple):
    """What ``optimize`` returns (host values, except ``best_x`` and ``state``)."""

    best_x: Any  # x0-shaped pytree: the best member ever evaluated
    best_fitness: float  # its fitness (maximized)
    generations: int  # generations run (summed over restarts)
    evaluations: int  # fitness evaluations (summed over restarts)
    history: np.ndarray  # [generations] best fitness so far after each generation
    nonfinite: int  # fitness values that were NaN or infinite (each ranked worst)
    stop_reason: str  # a value of base.STOP_REASONS
    state: Any  # the final strategy state (of the last restart)
    restarts: int = 0  # restarts made (IPOP)
    popsizes: tuple = ()  # population size of each run
    # [generations] evaluations made when each ``history`` entry was recorded (int64): the
    # x-axis of a convergence plot against evaluations, restarts included.
    history_evaluations: np.ndarray | None = None


class BatchResult(NamedTuple):
    """What ``optimize_batch`` returns: ``R`` runs, each field with a leading ``[R]`` axis."""

    best_x: Any  # x0-shaped pytree, [R, ...]: each run's best member
    best_fitness: np.ndarray  # [R]
    generations: np.ndarray  # [R] int
    evaluations: np.ndarray  # [R] int
    history: np.ndarray  # [R, max_generations]: best fitness so far; NaN after a run ended
    nonfinite: np.ndarray  # [R] int
    stop_reason: tuple  # R values of base.STOP_REASONS


class _Carry(NamedTuple):
    generation: jax.Array  # [] int32
    state: Any
    best_flat: jax.Array  # [D]
    best_fitness: jax.Array  # []
    history: jax.Array  # [max_generations]
    nonfinite: jax.Array  # [] int32
    reason: jax.Array  # [] int32
    popsize: jax.Array  # [] int32 (static; carried so the host needs no extra trace)


@functools.partial(
    jax.jit, static_argnames=("fitness_fn", "ask", "tell", "stop", "max_generations", "mesh")
)
def _run(state, key, target, evaluations_left, args, *, fitness_fn, ask, tell, stop,
         max_generations, mesh):
    """Run generations until a stop code is set. ``target``: [] (``+inf`` for none).
    ``args``: None, or the pytree passed to ``fitness_fn`` as its second argument (traced, so
    new values reuse the program). ``mesh``: the devices the population is split over (None:
    not split)."""
    member_fitness = fitness_fn if args is None else (lambda x: fitness_fn(x, args))
    layout = state.layout
    dim = layout.size
    dtype = layout.dtype
    population = jax.eval_shape(ask, key, state)[0]  # trace-time only
    popsize = jax.tree_util.tree_leaves(population)[0].shape[0]

    def body(c: _Carry) -> _Carry:
        population, state = ask(sampling.fold_in(key, c.generation), c.state)
        if mesh is not None:  # every device draws the whole population, evaluates its slice
            population = jax.lax.with_sharding_constraint(population, distributed.replicated(mesh))
        fitness = distributed.evaluate_population(member_fitness, population, mesh)
        state = tell(population, fitness, state)
        clean = base.sanitize_fitness(fitness)
        i = jnp.argmax(clean)
        found = jnp.isfinite(fitness[i]) & (clean[i] > c.best_fitness)
        best_fitness = jnp.where(found, clean[i], c.best_fitness)
        best_flat = jax.lax.cond(
            found,
            lambda: layout.ravel(jax.tree_util.tree_map(lambda leaf: leaf[i], population)),
            lambda: c.best_flat,
        )
        generation = c.generation + 1
        evals = generation * fitness.shape[0]
        reason = stop(state)
        reason = jnp.where(evals >= evaluations_left, 3, reason)
        reason = jnp.where(best_fitness >= target, 2, reason)
        reason = jnp.where((reason == 0) & (generation >= max_generations), 1, reason)
        return _Carry(
            generation=generation,
            state=state,
            best_flat=best_flat,
            best_fitness=best_fitness,
            # In place: a scatter (.at[].set) becomes a select over the whole buffer on CPU,
            # costing O(max_generations) per generation.
            history=jax.lax.dynamic_update_index_in_dim(c.history, best_fitness, c.generation, 0),
            nonfinite=c.nonfinite + jnp.sum(~jnp.isfinite(fitness)).astype(jnp.int32),
            reason=reason.astype(jnp.int32),
            popsize=c.popsize,
        )

    carry = _Carry(
        generation=jnp.zeros((), jnp.int32),
        state=state,
        best_flat=jnp.zeros((dim,), dtype),
        best_fitness=jnp.asarray(-jnp.inf, dtype),
        history=jnp.full((max_generations,), jnp.nan, dtype),
        nonfinite=jnp.zeros((), jnp.int32),
        reason=jnp.zeros((), jnp.int32),
        popsize=jnp.asarray(popsize, jnp.int32),
    )
    return jax.lax.while_loop(lambda c: c.reason == 0, body, carry)


def _check_run_args(key, max_generations, target_fitness, max_evaluations):
    validation.check_key(key)
    validation.check_int("max_generations", max_generations, 1)
    if target_fitness is not None:
        validation.check_number("target_fitness", target_fitness)
    if max_evaluations is not None:
        validation.check_int("max_evaluations", max_evaluations, 1)


def check_fitness_fn(fitness_fn: Callable, x0: Any, args: Any = None) -> None:
    """Raise unless ``fitness_fn(x0)`` (``fitness_fn(x0, args)`` when ``args`` is given) gives
    a floating-point scalar (checked by shape only)."""
    try:
        signature = inspect.signature(fitness_fn)
    except (TypeError, ValueError):  # no signature to read (some builtins): eval_shape will say
        signature = None
    if signature is not None:
        try:
            signature.bind(x0) if args is None else signature.bind(x0, args)
        except TypeError:
            raise ValueError(
                "fitness_fn must take one argument, x, without args=, and two, (x, args), with "
                f"args=; got args={'None' if args is None else 'a pytree'} and a function of "
                f"signature {signature}."
            ) from None
    out = jax.eval_shape(fitness_fn, x0) if args is None else jax.eval_shape(fitness_fn, x0, args)
    shape, dtype = getattr(out, "shape", None), getattr(out, "dtype", None)
    if shape != () or dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        got = f"{dtype}{list(shape)}" if shape is not None else type(out).__name__
        raise ValueError(
            f"fitness_fn must return one floating-point number per member (shape ()), got "
            f"{got}; for an integer score return e.g. jnp.float32(score)."
        )


def optimize(
    fitness_fn: Callable[[Any], jax.Array],
    strategy: Any,
    x0: Any,
    *,
    key: jax.Array,
    max_generations: int,
    target_fitness: float | None = None,
    max_evaluations: int | None = None,
    devices: int = 1,
    args: Any = None,
) -> OptimizeResult:
    """Maximize ``fitness_fn`` with ``strategy``, starting from ``x0``, as one compiled loop.

    Args:
      fitness_fn: ``x -> []`` for one member (``x`` shaped like ``x0``); vmapped over the
        population. **Maximized**: pass ``-f`` to minimize ``f``.
      strategy: a ``Strategy`` (e.g. ``strategies.cma_es()``), or a restart scheme such as
        ``strategies.ipop_cma_es()`` (not a ``Strategy``: a sequence of them with growing
        population sizes, each run as its own compiled loop).
      x0: a float array or pytree of float arrays: the initial search centre.
      key: a PRNG key; the same key gives the same result.
      max_generations: cap on generations (per restart for restart schemes). It fixes the
        length of the compiled history buffer.
      target_fitness: stop once the best fitness reaches it.
      max_evaluations: stop once this many fitness evaluations have been made (in total).
      devices: how many devices to split each generation's population over: 1 evaluates it on
        the default device; ``jax.device_count()`` splits it over every device of every process
        (after ``distributed.initialize``, call ``optimize`` in every process alike). Any
        population size works (the last device's slice is padded). The strategy's update runs
        whole on every device, so only the fitness values travel, and the result equals
        ``devices=1``'s (bit for bit where XLA computes a member the same way at both batch
        widths, which it usually but not always does: see the README's "Scaling out").
      args: data for ``fitness_fn``, which is then called as ``fitness_fn(x, args)``: a pytree
        of arrays (e.g. a benchmark problem's instance), passed into the compiled loop as an
        argument rather than baked into it, so a new ``args`` of the same shapes reuses the
        compiled program. Data that ``fitness_fn`` closes over is a constant of the program
        instead: new values mean a new compile.

    The loop stops on the target, on the strategy's own criteria (``strategy.stop``), on
    ``max_evaluations`` or on ``max_generations``; ``stop_reason`` says which.

    The compiled loop is cached on ``fitness_fn``, the strategy's functions and
    ``max_generations``: call again with an equal strategy configuration and the same function,
    or a new one that computes the same thing (the same ``lambda`` evaluated again, reading the
    same values: see ``SameFunction``), and nothing is traced or compiled again. Compiled
    programs are also kept on disk for later processes (``evojax_rl.compile_cache``).
    """
    _check_run_args(key, max_generations, target_fitness, max_evaluations)
    validation.check_int("devices", devices, 1, jax.device_count())
    mesh = distributed.population_mesh(jax.devices()[:devices]) if devices > 1 else None
    base.Layout.of(x0)  # x0 first: a bad x0 would otherwise be reported as a bad fitness_fn
    check_fitness_fn(fitness_fn, x0, args)
    if isinstance(strategy, restarts.IPOP):
        return strategy.run_restarts(
            fitness_fn,
            x0,
            key=key,
            max_generations=int(max_generations),
            target_fitness=target_fitness,
            max_evaluations=max_evaluations,
            mesh=mesh,
            args=args,
        )
    if not isinstance(strategy, base.Strategy):
        raise ValueError(
            "strategy must be a Strategy (e.g. strategies.cma_es()) or a restart scheme "
            f"(strategies.ipop_cma_es()), got {type(strategy).__name__}."
        )
    k_init, k_run = _split(key)
    state = strategy.init(k_init, x0)
    return run_one(
        fitness_fn, strategy, state, k_run, int(max_generations), target_fitness, max_evaluations,
        mesh, args,
    )


@jax.jit
def _split(key):
    """``jax.random.split(key)`` unpacked, as one program (eagerly, the split and the unpacking
    are two, compiled on first use in every process)."""
    k_init, k_run = jax.random.split(key)
    return k_init, k_run


def run_one(fitness_fn, strategy, state, key, max_generations, target_fitness, max_evaluations,
            mesh=None, args=None):
    """Compiled run of one strategy from ``state``; returns an ``OptimizeResult``. ``mesh``: the
    devices to split the population over (None: not split); ``args``: ``fitness_fn``'s second
    argument (None: it takes one)."""
    dtype = state.layout.dtype
    if mesh is not None:
        state, key, args = distributed.put_replicated((state, key, args), mesh)
    # NumPy scalars: jnp conversions would each compile a small program.
    target = np.asarray(np.inf if target_fitness is None else target_fitness, dtype)
    budget = np.asarray(np.iinfo(np.int32).max if max_evaluations is None else max_evaluations,
                        np.int32)
    carry = _run(
        state,
        key,
        target,
        budget,
        args,
        fitness_fn=SameFunction(fitness_fn),
        ask=strategy.ask,
        tell=strategy.tell,
        stop=strategy.stop,
        max_generations=max_generations,
        mesh=mesh,
    )
    # One transfer, then host-side slicing: slicing the device array by a run-dependent length
    # would compile a new slice for every length.
    generations, popsize, best_fitness, nonfinite, reason, history = jax.device_get(
        (carry.generation, carry.popsize, carry.best_fitness, carry.nonfinite, carry.reason,
         carry.history)
    )
    generations, popsize = int(generations), int(popsize)
    return OptimizeResult(
        best_x=state.layout.unravel(carry.best_flat),
        best_fitness=float(best_fitness),
        generations=generations,
        evaluations=generations * popsize,
        history=np.asarray(history[:generations]),
        nonfinite=int(nonfinite),
        stop_reason=base.STOP_REASONS[int(reason)],
        state=carry.state,
        popsizes=(popsize,),
        history_evaluations=np.arange(1, generations + 1, dtype=np.int64) * popsize,
    )


def optimize_batch(
    fitness_fn: Callable[..., jax.Array],
    strategy: base.Strategy,
    x0: Any,
    *,
    keys: jax.Array,
    max_generations: int,
    target_fitness: Any = None,
    max_evaluations: int | None = None,
    args: Any = None,
) -> BatchResult:
    """``R`` independent runs of one strategy as one compiled, vmapped loop: a benchmark sweep
    (functions x instances x seeds, e.g. ``problems.bbob``) in a single program.

    Run ``r`` is what ``optimize(fitness_fn, strategy, x0[r], key=keys[r], args=args[r], ...)``
    computes (up to float rounding: XLA may order a batched computation's sums differently),
    and runs that stop early wait, unchanged, for the last one.

    Args:
      fitness_fn: ``x -> []`` (or ``(x, args) -> []`` when ``args`` is given), maximized.
      strategy: a ``Strategy`` (restart schemes change the population's shape between runs and
        cannot be batched: call ``optimize`` per run for those).
      x0: ``[R, ...]``: each run's initial search centre (a pytree whose leaves lead with R).
      keys: ``[R]`` PRNG keys, one per run.
      max_generations, max_evaluations: as in ``optimize``, the same for every run.
      target_fitness: None, a number, or ``[R]`` numbers: each run stops at its own.
      args: None, or a pytree whose leaves lead with ``R``: run ``r`` gets ``args[r]``.
    """
    dtype = getattr(keys, "dtype", None)
    if not (dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
            and keys.ndim == 1 and keys.shape[0] >= 1):
        raise ValueError("keys must be a [R] array of typed PRNG keys, e.g. "
                         f"jax.random.split(jax.random.key(0), R), got {keys!r}.")
    _check_run_args(keys[0], max_generations, None, max_evaluations)
    if not isinstance(strategy, base.Strategy):
        raise ValueError(
            "optimize_batch runs one Strategy (e.g. strategies.cma_es()) per run; restart "
            "schemes change population sizes between runs and need optimize, got "
            f"{type(strategy).__name__}."
        )
    runs = keys.shape[0]
    for leaf in jax.tree_util.tree_leaves((x0, args)):
        if getattr(leaf, "ndim", 0) < 1 or leaf.shape[0] != runs:
            raise ValueError(
                f"x0 and args must lead with one entry per key ({runs} keys), got a leaf of "
                f"shape {tuple(getattr(leaf, 'shape', ()))}."
            )
    x0_first, args_first = jax.tree.map(lambda leaf: leaf[0], (x0, args))
    layout = base.Layout.of(x0_first)
    check_fitness_fn(fitness_fn, x0_first, args_first)
    targets = np.asarray(np.inf if target_fitness is None else target_fitness, np.float64)
    if targets.shape not in ((), (runs,)) or (target_fitness is not None
                                              and not np.all(np.isfinite(targets))):
        raise ValueError(f"target_fitness must be None, a finite number or {runs} finite "
                         f"numbers (one per run), got {target_fitness!r}.")
    targets = np.broadcast_to(targets.astype(layout.dtype), (runs,))
    budget = np.asarray(np.iinfo(np.int32).max if max_evaluations is None else max_evaluations,
                        np.int32)
    carry = _run_batch(
        # init is keyed by content too: an equal strategy built again is a new closure.
        keys, x0, targets, budget, args, fitness_fn=SameFunction(fitness_fn),
        init=SameFunction(strategy.init),
        ask=strategy.ask, tell=strategy.tell, stop=strategy.stop,
        max_generations=int(max_generations))
    generations, popsize, best_fitness, nonfinite, reason, history, best_flat = jax.device_get(
        (carry.generation, carry.popsize, carry.best_fitness, carry.nonfinite, carry.reason,
         carry.history, carry.best_flat))
    return BatchResult(
        best_x=jax.vmap(layout.unravel)(best_flat),
        best_fitness=np.asarray(best_fitness),
        generations=np.asarray(generations),
        evaluations=np.asarray(generations).astype(np.int64) * np.asarray(popsize),
        history=np.asarray(history),
        nonfinite=np.asarray(nonfinite),
        stop_reason=tuple(base.STOP_REASONS[int(r)] for r in reason),
    )


@functools.partial(
    jax.jit, static_argnames=("fitness_fn", "init", "ask", "tell", "stop", "max_generations"))
def _run_batch(keys, x0, targets, budget, args, *, fitness_fn, init, ask, tell, stop,
               max_generations):
    """``optimize``'s key split, ``init`` and ``_run``, vmapped over runs."""

    def one(key, x, target, a):
        k_init, k_run = jax.random.split(key)
        state = init(k_init, x)
        return _run(state, k_run, target, budget, a, fitness_fn=fitness_fn, ask=ask, tell=tell,
                    stop=stop, max_generations=max_generations, mesh=None)

    return jax.vmap(one)(keys, x0, targets, args)
