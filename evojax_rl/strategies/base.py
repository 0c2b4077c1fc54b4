"""The strategy type and the pieces every strategy shares.

A strategy is a value, not a class: a factory validates its settings and returns
``Strategy(init, ask, tell)``, a NamedTuple of pure functions (like optax's
``GradientTransformation``).

- ``init(key, x0, **hyperparams) -> state``: ``x0`` is any pytree of float arrays (a flat vector
  or flax params). Keyword overrides replace the factory's sweepable numbers (``sigma``,
  ``learning_rate``, ...) and may be traced, so ``jax.vmap(lambda s: init(key, x0, sigma=s))``
  builds a batch of states for a sweep.
- ``ask(key, state) -> (population, state)``: ``population`` is ``x0``'s pytree with a leading
  ``[P]`` axis.
- ``tell(population, fitness, state) -> state``: ``fitness: [P]`` is **maximized**. NaN and
  infinite values are ranked worst and never enter the state.

Two more fields have defaults, so every strategy can be driven the same way:

- ``mean(state) -> x``: the search centre as an ``x0``-shaped pytree (for the GA, the best member).
- ``stop(state) -> int32[]``: 0 while the strategy wants to go on, else a code from ``STOP_REASONS``.

Factories are memoized on their shape-fixing settings (population size, dimension-free
constants), so two equal configurations return the same ``ask``/``tell`` functions and a jitted
loop over them compiles once.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from evojax_rl import validation

# Codes returned by ``Strategy.stop``. 0 means "go on". Codes 1-3 are set by ``optimize``.
STOP_REASONS = {
    0: "running",
    1: "max_generations",
    2: "target_fitness",
    3: "max_evaluations",
    10: "tolfun",
    11: "tolfunhist",
    12: "tolx",
    13: "tolstagnation",
    14: "tolconditioncov",
    15: "noeffectaxis",
    16: "noeffectcoord",
    17: "tolupsigma",
    18: "tolflatfitness",
    19: "maxiter",
}


def _never_stop(state: Any) -> jax.Array:
    del state
    return jnp.zeros((), jnp.int32)


def _state_mean(state: Any) -> Any:
    return state.layout.unravel(state.mean)


class Strategy(NamedTuple):
    """A search strategy as pure functions; see the module docstring for the contract."""

    init: Callable[..., Any]
    ask: Callable[[jax.Array, Any], tuple[Any, Any]]
    tell: Callable[[Any, jax.Array, Any], Any]
    mean: Callable[[Any], Any] = _state_mean
    stop: Callable[[Any], jax.Array] = _never_stop


class Layout:
    """Static description of a pytree of float arrays: ravels it to ``[D]`` and back.

    A leafless pytree node, so it rides inside a strategy state through ``jit``, ``scan`` and
    ``vmap`` as metadata and costs no memory.
    """

    __slots__ = ("treedef", "shapes", "dtypes", "sizes", "size", "dtype")

    def __init__(self, treedef, shapes, dtypes):
        self.treedef = treedef
        self.shapes = tuple(tuple(s) for s in shapes)
        self.dtypes = tuple(np.dtype(d) for d in dtypes)
        self.sizes = tuple(int(np.prod(s)) for s in self.shapes)
        self.size = int(sum(self.sizes))
        self.dtype = jnp.result_type(*self.dtypes) if self.dtypes else jnp.float32

    @classmethod
    def of(cls, x0: Any) -> "Layout":
        leaves, treedef = jax.tree_util.tree_flatten(x0)
        if not leaves:
            raise ValueError("x0 has no arrays; pass a float array or a pytree of float arrays.")
        shapes, dtypes = [], []
        for leaf in leaves:
            dtype = jnp.result_type(leaf)
            if not jnp.issubdtype(dtype, jnp.floating):
                raise ValueError(
                    f"x0 must hold floating-point arrays, got dtype {dtype}; "
                    "convert it, e.g. jnp.asarray(x0, jnp.float32)."
                )
            shapes.append(jnp.shape(leaf))
            dtypes.append(dtype)
        return cls(treedef, shapes, dtypes)

    def _key(self):
        return (self.treedef, self.shapes, self.dtypes)

    def __eq__(self, other):
        return isinstance(other, Layout) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return f"Layout(size={self.size}, shapes={self.shapes})"

    def ravel(self, tree: Any) -> jax.Array:
        """``x``-shaped pytree -> ``[D]``."""
        leaves = jax.tree_util.tree_leaves(tree)
        if len(leaves) == 1:  # a flat vector: no concatenation (and no copy) needed
            return jnp.ravel(leaves[0]).astype(self.dtype)
        return jnp.concatenate([jnp.ravel(leaf).astype(self.dtype) for leaf in leaves])

    def unravel(self, flat: jax.Array) -> Any:
        """``[D]`` -> ``x``-shaped pytree with the original dtypes."""
        if len(self.shapes) == 1:
            leaf = flat.reshape(self.shapes[0]).astype(self.dtypes[0])
            return jax.tree_util.tree_unflatten(self.treedef, [leaf])
        leaves, start = [], 0
        for shape, dtype, size in zip(self.shapes, self.dtypes, self.sizes):
            leaves.append(flat[start : start + size].reshape(shape).astype(dtype))
            start += size
        return jax.tree_util.tree_unflatten(self.treedef, leaves)

    def ravel_batch(self, tree: Any) -> jax.Array:
        """Population pytree with leading ``[P]`` -> ``[P, D]``."""
        leaves = jax.tree_util.tree_leaves(tree)
        p = leaves[0].shape[0]
        if len(leaves) == 1:
            return leaves[0].reshape(p, -1).astype(self.dtype)
        return jnp.concatenate([leaf.reshape(p, -1).astype(self.dtype) for leaf in leaves], 1)

    def unravel_batch(self, flat: jax.Array) -> Any:
        """``[P, D]`` -> population pytree with leading ``[P]``."""
        return jax.vmap(self.unravel)(flat)


jax.tree_util.register_pytree_node(Layout, lambda l: ((), l._key()), lambda k, _: Layout(*k))


def memoize(factory: Callable) -> Callable:
    """Cache a builder of ask/tell functions on its (hashable) arguments.

    Equal configurations then share function objects, so jit caches hit across factory calls.
    """
    return functools.lru_cache(maxsize=None)(factory)


# --- validation -------------------------------------------------------------------------------


def check_popsize(
    popsize: Any, *, minimum: int = 2, even: bool = False, who: str = "", odd_hint: str = ""
) -> int:
    """Validate a population size: a Python int >= minimum (and even for mirrored sampling).

    ``odd_hint``: appended to the message for an odd size (e.g. how to turn mirroring off)."""
    popsize = validation.check_int("popsize", popsize, minimum, who=who)
    if even and popsize % 2:
        prefix = f"{who}: " if who else ""
        raise ValueError(
            f"{prefix}popsize must be even with mirrored sampling, got {popsize}; "
            f"use {popsize + 1}{odd_hint}."
        )
    return popsize


def apply_overrides(defaults: dict, overrides: dict, who: str, rules: dict) -> dict:
    """Merge ``init`` keyword overrides into the factory's sweepable numbers.

    Concrete overrides are checked with the same ``rules`` (``{name: validation rule}``) as the
    factory's arguments. A traced override (``init`` under ``vmap``/``jit``, as in a sweep) has
    no value on the host and is taken as given: an out-of-range traced value is not caught and
    gives NaN or meaningless states for that member of the batch.
    """
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise ValueError(
            f"{who}.init got unknown hyperparameter(s) {unknown}; allowed: {sorted(defaults)}."
        )
    validation.check_all(rules, overrides, who)
    merged = dict(defaults)
    merged.update(overrides)
    return merged


def check_fitness(fitness: Any, popsize: int) -> jax.Array:
    """Return fitness as a float ``[P]`` array, raising if its shape is not ``(popsize,)``."""
    fitness = jnp.asarray(fitness)
    if fitness.shape != (popsize,):
        raise ValueError(
            f"fitness must have shape ({popsize},) (one value per population member), "
            f"got shape {fitness.shape}."
        )
    if not jnp.issubdtype(fitness.dtype, jnp.floating):
        fitness = fitness.astype(jnp.float32)
    return fitness


def sanitize_fitness(fitness: jax.Array) -> jax.Array:
    """Replace NaN and +-inf by a finite value strictly below every finite fitness (so they rank
    worst without poisoning arithmetic on the fitness).

    ``fitness: [P]`` (maximized). If no value is finite, every entry becomes -1. Below the lowest
    finite value ``f`` the replacement is ``f - 1 - |f|``, or the dtype's most negative value
    when that overflows (equal to ``f`` only if ``f`` is that value itself).
    """
    finite = jnp.isfinite(fitness)
    lowest = jnp.min(jnp.where(finite, fitness, jnp.inf))
    lowest = jnp.where(jnp.isfinite(lowest), lowest, 0.0)
    worst = lowest - 1.0 - jnp.abs(lowest)
    worst = jnp.where(jnp.isfinite(worst), worst, jnp.finfo(fitness.dtype).min)
    return jnp.where(finite, fitness, worst)


def default_popsize(dim: int) -> int:
    """Hansen's default population size ``4 + floor(3 ln D)`` (CMA-ES tutorial, Table 1)."""
    return 4 + int(np.floor(3 * np.log(max(dim, 1))))


def option_popsize(dim: int, popsize: float | None = None) -> float:
    """pycma's ``popsize`` option for ``dim``: the *unrounded* default ``4 + 3 ln D`` (its
    ``int`` is the population size; pycma's ``maxiter``, ``tolstagnation`` and IPOP's sizes are
    computed from it), or the given popsize itself."""
    return 4 + 3 * math.log(dim) if popsize is None else float(popsize)


def resolve_popsize(popsize: int | None, dim: int, *, even: bool = False) -> int:
    """The configured popsize, or the default for dimension ``dim`` (rounded up to even)."""
    if popsize is not None:
        return popsize
    p = default_popsize(dim)
    return p + (p % 2) if even else p


def wrap_flat(
    ask_flat: Callable, tell_flat: Callable, *, pass_finite: bool = False
) -> tuple[Callable, Callable]:
    """Lift ``ask_flat(key, state) -> ([P, D], state)`` and ``tell_flat([P, D], [P], state)``
    to pytrees, validating and sanitizing fitness on the way in. With ``pass_finite``,
    ``tell_flat([P, D], [P], finite [P] bool, state)`` also learns which fitness values were
    real (a strategy that keeps a best-ever must not keep a sanitized stand-in)."""

    def ask(key, state):
        flat, state = ask_flat(key, state)
        return state.layout.unravel_batch(flat), state

    def tell(population, fitness, state):
        flat = state.layout.ravel_batch(population)
        fitness = check_fitness(fitness, flat.shape[0])
        if pass_finite:
            return tell_flat(flat, sanitize_fitness(fitness), jnp.isfinite(fitness), state)
        return tell_flat(flat, sanitize_fitness(fitness), state)

    return ask, tell
