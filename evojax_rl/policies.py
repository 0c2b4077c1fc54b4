"""Flax policies: an MLP with a discrete (argmax or sampled) or continuous (tanh-bounded) head.

A policy is a value: ``Policy(init, apply)`` with

- ``init(key) -> params``: flax params (the pytree a strategy searches over).
- ``apply(params, obs, key) -> action``: for ONE observation ``obs: f32[*obs_shape]`` (flattened
  inside); ``action: int32[]`` for a discrete head, ``f32[action_dim]`` within ``[low, high]`` for
  the tanh head. Batch it with ``vmap``.

Heads: ``"argmax"`` (greedy over ``n`` logits), ``"sample"`` (categorical over ``n`` logits, uses
``key``), ``"tanh"`` (``low + (tanh(z) + 1) / 2 * (high - low)``).

``afterstate_policy(env)``: a linear evaluation of afterstates for environments whose
observation lists the features of the afterstate of every action (``f32[n, F]``, as Tetris's):
params ``w: f32[F]`` (zeros at init), action ``argmax_k obs[k] @ w``.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from evojax_rl.problems.env import Box, Discrete, Env

HEADS = ("argmax", "sample", "tanh")
ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu, "gelu": nn.gelu}


class MLP(nn.Module):
    """``[*obs_shape] -> [out]``: flatten, Dense+activation per hidden size, then a linear layer."""

    hidden: Sequence[int]
    out: int
    activation: str = "tanh"

    @nn.compact
    def __call__(self, x):
        x = jnp.reshape(x, (-1,)).astype(jnp.float32)
        act = ACTIVATIONS[self.activation]
        for width in self.hidden:
            x = act(nn.Dense(width)(x))
        return nn.Dense(self.out)(x)


class Policy(NamedTuple):
    """``init(key) -> params``; ``apply(params, obs, key) -> action`` (see module docstring)."""

    init: Callable[[jax.Array], Any]
    apply: Callable[[Any, jax.Array, jax.Array], jax.Array]
    head: str


@functools.lru_cache(maxsize=None)
def _mlp_policy(obs_shape, hidden, out, activation, head, low, high, act_shape=None) -> Policy:
    module = MLP(hidden=hidden, out=out, activation=activation)
    dummy = jnp.zeros(obs_shape, jnp.float32)

    def init(key):
        return module.init(key, dummy)

    if head == "argmax":

        def apply(params, obs, key):
            del key
            return jnp.argmax(module.apply(params, obs)).astype(jnp.int32)

    elif head == "sample":

        def apply(params, obs, key):
            return jax.random.categorical(key, module.apply(params, obs)).astype(jnp.int32)

    else:
        lo, hi = jnp.asarray(low, jnp.float32), jnp.asarray(high, jnp.float32)

        def apply(params, obs, key):
            del key
            a = lo + (jnp.tanh(module.apply(params, obs)) + 1.0) * 0.5 * (hi - lo)
            return jnp.reshape(a, act_shape)

    return Policy(init, apply, head)


def _as_tuple(x, shape) -> tuple:
    return tuple(float(v) for v in np.broadcast_to(np.asarray(x, np.float32), shape).ravel())


def mlp_policy(
    env: Env,
    hidden: Sequence[int] = (32, 32),
    head: str | None = None,
    activation: str = "tanh",
) -> Policy:
    """An MLP policy fitted to ``env``'s spaces.

    ``hidden``: widths of the hidden layers (``(32, 32)`` gives ``obs-32-32-out``). ``head``:
    ``"argmax"`` (default for ``Discrete``), ``"sample"``, or ``"tanh"`` (default and only choice
    for ``Box`` actions). Equal arguments return the same ``Policy`` functions.
    """
    hidden = tuple(int(h) for h in hidden)
    if any(h <= 0 for h in hidden):
        raise ValueError(f"hidden layer widths must be positive ints, got {hidden}.")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; allowed: {', '.join(ACTIVATIONS)}.")
    space = env.action_space
    obs_shape = tuple(int(s) for s in env.observation_space.shape)
    if isinstance(space, Discrete):
        head = head or "argmax"
        if head not in ("argmax", "sample"):
            raise ValueError(f"head {head!r} does not fit a Discrete action space; allowed: argmax, sample.")
        return _mlp_policy(obs_shape, hidden, int(space.n), activation, head, None, None)
    if isinstance(space, Box):
        head = head or "tanh"
        if head != "tanh":
            raise ValueError(f"head {head!r} does not fit a Box action space; allowed: tanh.")
        shape = tuple(int(s) for s in space.shape)
        dim = int(np.prod(shape))
        low, high = _as_tuple(space.low, (dim,)), _as_tuple(space.high, (dim,))
        return _mlp_policy(obs_shape, hidden, dim, activation, head, low, high, shape)
    raise ValueError(f"unsupported action space {space!r}; allowed: Discrete, Box.")


def first_best(values: jax.Array) -> jax.Array:
    """``int32[]``: the first index of the maximum of ``values`` (``f32[n]``), as ``jnp.argmax``
    but as two plain reductions, which XLA's CPU backend runs several times faster than argmax's
    paired one."""
    n = values.shape[-1]
    best = jnp.max(values)
    return jnp.min(jnp.where(values == best, jnp.arange(n, dtype=jnp.int32), n)).astype(jnp.int32)


def weighted_sum(terms, weights: jax.Array) -> jax.Array:
    """``sum_i terms[i] * weights[..., i]``, summed in feature order, for features given as a list
    of arrays or as an array whose last axis is the feature. Every path that scores an afterstate
    (this module's afterstate policy, ``tetris.features``, ``tetris.play``) sums this way, so they
    round alike and break ties alike."""
    if not isinstance(terms, (list, tuple)):
        terms = [terms[..., i] for i in range(terms.shape[-1])]
    v = terms[0].astype(jnp.float32) * weights[..., 0]
    for i in range(1, len(terms)):
        v = v + terms[i].astype(jnp.float32) * weights[..., i]
    return v


@functools.lru_cache(maxsize=None)
def _afterstate_policy(n: int, f: int) -> Policy:
    def init(key):
        del key
        return jnp.zeros((f,), jnp.float32)

    def apply(params, obs, key):
        del key
        return first_best(weighted_sum(jnp.asarray(obs, jnp.float32), params))

    return Policy(init, apply, "argmax")


def afterstate_policy(env: Env) -> Policy:
    """A linear afterstate evaluation for ``env``: ``obs: f32[n, F]`` holds the features of the
    state each of the ``n`` actions leads to (``Discrete(n)``); params ``w: f32[F]`` (zeros at
    init); the action is the first ``k`` with the highest ``obs[k] @ w``. Tetris's env makes
    every invalid action a copy of a valid one, so the policy needs no mask."""
    shape = tuple(int(s) for s in env.observation_space.shape)
    space = env.action_space
    if len(shape) != 2 or not isinstance(space, Discrete) or int(space.n) != shape[0]:
        raise ValueError(
            f"afterstate_policy needs an observation of shape (n, features) and Discrete(n) "
            f"actions, got observation shape {shape} and action space {space!r}.")
    return _afterstate_policy(shape[0], shape[1])
