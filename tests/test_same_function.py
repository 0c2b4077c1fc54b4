"""optimize recognises a new but equal fitness function (no new trace, no new compilation) and
never reuses the loop of one that differs (another constant, closed-over value or global)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from compile_count import count_compilations

import evojax_rl as ejr
from evojax_rl.same_function import SameFunction

CENTER = 1.0  # a module global read by the fitness functions below
TRACES = []  # appended to whenever a fitness function is traced


def make_reading_global():
    return lambda x: -jnp.sum((x - CENTER) ** 2)


def make_closing_over(c):
    return lambda x: -jnp.sum((x - c) ** 2)


def make_counted():
    def fitness(x):
        TRACES.append(1)  # Python side effect: runs only when jax traces the function
        return -jnp.sum((x - 0.5) ** 2)

    return fitness


def run(fn):
    """A short run that lands near the optimum; the strategy is built anew every time."""
    strategy = ejr.strategies.cma_es(popsize=8, sigma=0.5)
    return ejr.optimize(fn, strategy, jnp.zeros(3), key=jax.random.key(0), max_generations=150)


def test_a_new_equal_lambda_is_not_traced_or_compiled_again():
    first = run(make_counted())
    TRACES.clear()
    with count_compilations() as compiled:
        second = run(make_counted())  # a new function object from the same source
    assert compiled[0] == 0
    assert TRACES == [1]  # only optimize's shape check of the function, not the loop
    np.testing.assert_array_equal(first.history, second.history)


@pytest.mark.parametrize(
    "make_first, make_second",
    [
        (lambda: make_closing_over(1.0), lambda: make_closing_over(2.0)),  # closed-over value
        (lambda: make_closing_over(jnp.full(3, 1.0)),
         lambda: make_closing_over(jnp.full(3, 2.0))),  # closed-over array
        (lambda: lambda x: -jnp.sum((x - 1.0) ** 2),
         lambda: lambda x: -jnp.sum((x - 2.0) ** 2)),  # constant in the code
    ],
    ids=["closure", "array", "constant"],
)
def test_a_lambda_that_differs_is_not_given_the_stale_loop(make_first, make_second):
    a = run(make_first())
    b = run(make_second())
    center_b = float(make_second()(jnp.zeros(3)) / -3) ** 0.5  # the second one's optimum
    np.testing.assert_allclose(a.best_x, 1.0, atol=0.05)
    np.testing.assert_allclose(b.best_x, center_b, atol=0.05)


def test_a_changed_global_is_seen_even_by_the_same_function_object(monkeypatch):
    fn = make_reading_global()
    a = run(fn)
    monkeypatch.setattr(__import__(__name__), "CENTER", 2.0)
    b = run(make_reading_global())  # a new lambda reading the new value
    c = run(fn)  # the first function object: its global changed too
    np.testing.assert_allclose(a.best_x, 1.0, atol=0.05)
    np.testing.assert_allclose(b.best_x, 2.0, atol=0.05)
    np.testing.assert_allclose(c.best_x, 2.0, atol=0.05)


def add(x, c):
    return x + c


def test_keys_compare_what_the_program_depends_on():
    # Equal: the same source evaluated again, reading the same values.
    arr = np.ones(3)
    assert SameFunction(make_closing_over(arr)) == SameFunction(make_closing_over(arr))
    assert SameFunction(make_closing_over((1, 2.5))) == SameFunction(make_closing_over((1, 2.5)))
    assert SameFunction(functools.partial(add, c=2.0)) == SameFunction(
        functools.partial(add, c=2.0))
    inner = [make_closing_over(3.0), make_closing_over(3.0)]  # functions read by functions
    assert SameFunction(make_closing_over(inner[0])) == SameFunction(make_closing_over(inner[1]))
    assert SameFunction(make_closing_over({"a": [1.0, 2]})) == SameFunction(
        make_closing_over({"a": [1.0, 2]}))  # containers by content, read when wrapped
    assert hash(SameFunction(make_closing_over(2.0))) == hash(SameFunction(make_closing_over(2.0)))
    # Different: values by type and bits, other objects by identity, functions by content.
    assert SameFunction(make_closing_over(0.0)) != SameFunction(make_closing_over(-0.0))
    assert SameFunction(make_closing_over(True)) != SameFunction(make_closing_over(1))
    assert SameFunction(make_closing_over(np.ones(3))) != SameFunction(make_closing_over(arr))
    assert SameFunction(functools.partial(add, c=2.0)) != SameFunction(
        functools.partial(add, c=3.0))
    assert SameFunction(make_closing_over(make_closing_over(3.0))) != SameFunction(
        make_closing_over(make_closing_over(4.0)))
    assert SameFunction(make_closing_over(1.0)) != SameFunction(make_reading_global())
    settings = {"a": [1.0, 2]}
    before = SameFunction(make_closing_over(settings))
    settings["a"][1] = 3
    assert before != SameFunction(make_closing_over(settings))
    assert SameFunction(SameFunction(make_counted())) == SameFunction(make_counted())
