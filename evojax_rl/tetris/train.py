"""The noisy cross-entropy method on Tetris as one compiled loop (Szita & Lorincz 2006).

``train(strategy, key, generations, popsize, cap)`` runs ``generations`` generations of a
strategy (``strategies.cem`` in the experiment) over the 22 weights of the linear afterstate
policy, all inside one ``lax.scan``: each generation ``ask``s ``popsize`` weight vectors, plays
one game with each (``play``, stopped after ``cap`` pieces: the training cap), and ``tell``s the
lines cleared. The mean starts at zero, as in the paper.

This is the ES trainer's computation (``evojax-rl train tetris-cem-noisy`` runs the same strategy
and fitness through the ``tetris`` env) without the generic rollout's per-step costs (the
``[K, 22]`` feature table as an observation, the policy as a separate function, a random call
per piece): measured on 2 idle cores, the trainer runs 190-240k pieces/s, this loop 370-740k.
The benchmark (``benchmarks/tetris_cem.py``) uses it.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from evojax_rl import validation
from evojax_rl.strategies import base
from evojax_rl.tetris import features, game, play


class History(NamedTuple):
    """Per generation (``[generations]``): ``mean_lines``, ``max_lines`` over the population's
    capped games, ``capped`` (games that reached the cap), ``pieces`` (placed, all games)."""

    mean_lines: jax.Array
    max_lines: jax.Array
    capped: jax.Array
    pieces: jax.Array


class Result(NamedTuple):
    """``mean``: ``f32[22]`` the strategy's mean after the last generation (the policy that is
    evaluated); ``state``: the strategy's final state; ``history``: a ``History``."""

    mean: jax.Array
    state: Any
    history: History


@functools.partial(jax.jit, static_argnames=("strategy", "generations", "popsize", "cap", "height"))
def _train(strategy, key, generations, popsize, cap, height):
    k_init, k_run = jax.random.split(key)
    state = strategy.init(k_init, jnp.zeros((features.NUM_FEATURES,), jnp.float32))

    def generation(state, k):
        k_ask, k_play = jax.random.split(k)
        pop, state = strategy.ask(k_ask, state)
        games = play._play(pop, k_play, popsize, jnp.int32(cap), height)
        state = strategy.tell(pop, games.lines.astype(jnp.float32), state)
        stats = History(jnp.mean(games.lines.astype(jnp.float32)), jnp.max(games.lines),
                        jnp.sum(games.pieces >= cap), jnp.sum(games.pieces))
        return state, stats

    state, history = jax.lax.scan(generation, state, jax.random.split(k_run, generations))
    return Result(strategy.mean(state), state, history)


def _check(generations, popsize, cap, key, height):
    validation.check_int("generations", generations, 1)
    validation.check_int("popsize", popsize, 2)
    validation.check_int("cap", cap, 1, 2**31 - 1)
    validation.check_key(key)
    return game.check_height(height)


def compile(strategy: base.Strategy, key, generations: int, popsize: int, cap: int,
            height: int = game.HEIGHT):
    """``train``'s program compiled ahead of time for these settings: ``run(key) -> Result``."""
    height = _check(generations, popsize, cap, key, height)
    c = _train.lower(strategy, key, int(generations), int(popsize), int(cap), height).compile()
    return lambda k: c(k)


def train(strategy: base.Strategy, key, generations: int, popsize: int, cap: int,
          height: int = game.HEIGHT) -> Result:
    """Run ``generations`` generations of ``strategy`` (its ``popsize`` must be ``popsize``)
    from a zero mean; fitness: lines of one game per member on a board of ``height`` rows,
    stopped after ``cap`` pieces."""
    height = _check(generations, popsize, cap, key, height)
    return _train(strategy, key, int(generations), int(popsize), int(cap), height)
