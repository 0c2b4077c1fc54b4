"""The argument checks every public entry point shares: one sentence naming the bad value and
what is allowed, raised as ``ValueError`` before anything is traced or written.

Numbers that may be traced (a hyperparameter under ``vmap`` or ``jit``) cannot be checked on the
host: the number checks skip tracers, and each caller documents that a traced value is taken as
given.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np


def _prefix(who: str) -> str:
    return f"{who}: " if who else ""


def is_traced(value: Any) -> bool:
    """True for a value being traced by ``jit``/``vmap`` (its number is unknown on the host)."""
    return isinstance(value, jax.core.Tracer)


def check_int(name: str, value: Any, minimum: int | None = 1, maximum: int | None = None,
              who: str = "") -> int:
    """``value`` as a Python int in ``[minimum, maximum]`` (either bound may be None).

    Refuses bools, floats and arrays: sizes and counts fix shapes, so they must be Python ints.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{_prefix(who)}{name} must be an int{_int_range(minimum, maximum)}, "
                         f"got {value!r}.")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{_prefix(who)}{name} must be an int{_int_range(minimum, maximum)}, "
                         f"got {value}.")
    return value


def _int_range(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum} to {maximum}"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def _finite_array(value: Any) -> np.ndarray | None:
    """``value`` as a float64 array, or None unless it is a non-empty array of finite numbers."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr if arr.size > 0 and bool(np.all(np.isfinite(arr))) else None


def check_number(name: str, value: Any, low: float = -math.inf, high: float = math.inf, *,
                 low_open: bool = False, high_open: bool = False, who: str = "") -> None:
    """Raise unless every element of ``value`` is a finite number in the interval.

    ``low_open``/``high_open`` exclude the bound. Tracers pass unchecked (see the module note).
    """
    if is_traced(value):
        return
    arr = _finite_array(value)
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    if math.isinf(low) and math.isinf(high):
        allowed = "a finite number"
    elif math.isinf(high):
        allowed = f"a finite number {'>' if low_open else '>='} {low:g}"
    elif math.isinf(low):
        allowed = f"a number {'<' if high_open else '<='} {high:g}"
    else:
        allowed = f"in {lo}{low:g}, {high:g}{hi}"
    ok = arr is not None and bool(np.all(arr > low if low_open else arr >= low)) and bool(
        np.all(arr < high if high_open else arr <= high))
    if not ok:
        raise ValueError(f"{_prefix(who)}{name} must be {allowed}, got {value!r}.")


def check_positive(name: str, value: Any, who: str = "") -> None:
    """Raise unless ``value`` is a finite number > 0 (tracers pass unchecked)."""
    if is_traced(value):
        return
    arr = _finite_array(value)
    if arr is None or np.any(arr <= 0):
        raise ValueError(f"{_prefix(who)}{name} must be a positive finite number, got {value!r}.")


def check_key(key: Any, name: str = "key") -> None:
    """Raise unless ``key`` is a PRNG key: a typed key (``jax.random.key(seed)``) or a raw
    ``uint32[2]`` one (``jax.random.PRNGKey(seed)``)."""
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key) and key.shape == ():
        return
    if dtype == np.uint32 and getattr(key, "shape", None) == (2,):
        return
    raise ValueError(f"{name} must be a single PRNG key such as jax.random.key(0), got {key!r}.")


def check_bool(name: str, value: Any, who: str = "") -> None:
    """Raise unless ``value`` is ``True`` or ``False`` (a Python or numpy bool)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{_prefix(who)}{name} must be True or False, got {value!r}.")


def check_choice(name: str, value: Any, allowed, who: str = "") -> None:
    """Raise unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{_prefix(who)}{name} must be one of {', '.join(map(repr, allowed))}, "
                         f"got {value!r}.")


# --- rules for hyperparameter tables ------------------------------------------------------------
# A rule is ``rule(name, value, who)``; a strategy keeps a ``{name: rule}`` table and checks its
# factory's arguments and every ``init(..., name=value)`` override with the same table.


def positive(name: str, value: Any, who: str = "") -> None:
    """Rule: a finite number > 0."""
    check_positive(name, value, who)


def nonnegative(name: str, value: Any, who: str = "") -> None:
    """Rule: a finite number >= 0."""
    check_number(name, value, 0.0, who=who)


def interval(low: float, high: float, *, low_open: bool = False, high_open: bool = False):
    """Rule: a finite number in the interval (bounds excluded where ``*_open``)."""

    def rule(name: str, value: Any, who: str = "") -> None:
        check_number(name, value, low, high, low_open=low_open, high_open=high_open, who=who)

    return rule


def check_all(rules: dict, values: dict, who: str = "") -> None:
    """Apply ``rules[name]`` to each ``values[name]`` that has a rule (None values are skipped)."""
    for name, value in values.items():
        if name in rules and value is not None:
            rules[name](name, value, who)
