"""``SameFunction``: recognising "the same fitness function" in a new function object.

``optimize``'s compiled loop is jitted with the fitness function as a static argument, so jit's
cache is keyed on it. A user who writes ``optimize(lambda x: -f(x), ...)`` twice passes two
function objects that compute the same thing; keyed on identity, the second call would trace,
lower and compile the whole loop again. ``SameFunction`` keys a function on what determines the
program traced from it instead: its code, and the values it reads when called.
"""

from __future__ import annotations

import functools
import types
from typing import Any, Callable


class _Identity:
    """A key equal only to a key of the very same object (and kept alive by the key)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return isinstance(other, _Identity) and self.obj is other.obj

    def __hash__(self):
        return id(self.obj)


_EMPTY_CELL = ("empty cell",)
_DEPTH = 4  # how deep functions found in closures and globals are compared by content


def _global_names(code: types.CodeType) -> set:
    """Names ``code`` (and the functions defined in it) may read as globals: ``co_names``
    holds global names and attribute names alike; those that are not globals are skipped."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def value_key(value: Any) -> Any:
    """A hashable key of ``value`` that two equal configurations share: numbers and strings by
    value, containers item by item, functions by their code and what they read, anything else
    (arrays, modules, objects) by identity. For caches of things built from user functions."""
    return _value_key(value, 0)


def _value_key(value: Any, depth: int) -> Any:
    """Key of a value a function reads: numbers and strings by type and value (``-0.0`` and
    ``0.0`` differ, as ``1`` and ``1.0`` do), tuples, lists and dicts item by item, functions
    by content (down to ``_DEPTH``), anything else (arrays, modules, objects) by identity."""
    if value is None or isinstance(value, (bool, int, str, bytes)):
        return (type(value), value)
    if isinstance(value, float):
        return (type(value), float.hex(value))
    if isinstance(value, complex):
        return (type(value), float.hex(value.real), float.hex(value.imag))
    if isinstance(value, (tuple, list)):  # a list's content now: the key is a snapshot
        return (type(value), tuple(_value_key(v, depth) for v in value))
    if isinstance(value, dict):
        return (type(value), tuple((_value_key(k, depth), _value_key(v, depth))
                                   for k, v in value.items()))
    if depth < _DEPTH and isinstance(value, (types.FunctionType, functools.partial)):
        return _function_key(value, depth + 1)
    return _Identity(value)


def _function_key(fn: Any, depth: int = 0) -> Any:
    """What the program traced from ``fn`` depends on, as a hashable key."""
    if isinstance(fn, types.FunctionType):
        code = fn.__code__
        cells = []
        for cell in fn.__closure__ or ():
            try:
                cells.append(_value_key(cell.cell_contents, depth))
            except ValueError:  # a cell not yet assigned
                cells.append(_EMPTY_CELL)
        names = sorted(n for n in _global_names(code) if n in fn.__globals__)
        kwdefaults = sorted((fn.__kwdefaults__ or {}).items())
        return (
            "function",
            code,
            tuple(cells),
            tuple((n, _value_key(fn.__globals__[n], depth)) for n in names),
            _value_key(fn.__defaults__, depth),
            tuple((k, _value_key(v, depth)) for k, v in kwdefaults),
        )
    if isinstance(fn, functools.partial):
        return (
            "partial",
            _value_key(fn.func, depth),
            _value_key(fn.args, depth),
            tuple((k, _value_key(v, depth)) for k, v in sorted(fn.keywords.items())),
        )
    if isinstance(fn, types.MethodType):
        return ("method", _value_key(fn.__func__, depth), _Identity(fn.__self__))
    try:  # another callable: its own equality, as jit would use it
        hash(fn)
        return ("object", fn)
    except TypeError:
        return _Identity(fn)


class SameFunction:
    """A callable wrapper, equal to another one whose function computes the same thing.

    Two plain functions (a ``def`` or a ``lambda``) are the same when their code objects are
    equal (the same source compiled alike: a ``lambda`` written once and evaluated again, or a
    notebook cell run again), and every value they read when called is the same: closure
    cells, referenced module globals and default arguments, where numbers and strings compare
    by type and value (``1`` and ``1.0`` differ), tuples, lists and dicts item by item, and
    anything else (arrays, modules, other objects) by identity; a function among those values
    is compared the same way. ``functools.partial`` compares its function and arguments alike;
    other callables compare as themselves. The values are read when the wrapper is made, as
    the loop is traced, so a global or a list that changed between two calls makes them
    different.

    Values read through an attribute (``module.f``, ``obj.scale``) are compared through the
    object holding them (the module, ``obj``), by identity; and a NumPy array mutated in place
    keeps its identity. In both cases the cached loop keeps what it was traced with, as
    ``jax.jit`` does for a function object it has seen.
    """

    __slots__ = ("fn", "_key", "_hash")

    def __init__(self, fn: Callable):
        if isinstance(fn, SameFunction):
            fn = fn.fn
        self.fn = fn
        self._key = _function_key(fn)
        self._hash = hash(self._key)

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def __eq__(self, other):
        return isinstance(other, SameFunction) and (
            self._hash == other._hash and self._key == other._key
        )

    def __hash__(self):
        return self._hash

    def __repr__(self):
        return f"SameFunction({self.fn!r})"
