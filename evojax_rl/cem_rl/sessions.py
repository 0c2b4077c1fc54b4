"""Sessions: a batch of whole episodes of a stochastic policy, and the elite among them.

Both the tabular and the neural cross-entropy method (``tabular.py``, ``neural.py``) play ``N``
sessions with their current policy, keep the best ones (the *elite*) and fit the policy to the
state-action pairs of the elite. This module does the first two parts, in jit, and runs a
method's iterations as one compiled loop (``iterations_runner``).

Sessions are recorded into fixed buffers ``[N, T]`` (``T`` the step limit): step ``t`` of session
``n`` is real when ``alive[n, t]``; the steps after an episode's end are padding (their reward is
0, their ``alive`` False). The loop stops as soon as every session has ended, so a batch of short
episodes costs few steps, but the buffers always have ``T`` columns (no ragged arrays).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from evojax_rl import validation
from evojax_rl.problems.env import Discrete, Env, check_env


class Sessions(NamedTuple):
    """``N`` recorded episodes, padded to ``T`` steps.

    ``obs: f32[N, T, *obs_shape]``: the observation each action was chosen on.
    ``actions: int32[N, T]``, ``rewards: f32[N, T]`` (0 on padding).
    ``alive: bool[N, T]``: the step was taken (the episode had not ended before it).
    ``returns: f32[N]``: undiscounted return. ``lengths: int32[N]``: steps taken (``<= T``).
    """

    obs: jax.Array
    actions: jax.Array
    rewards: jax.Array
    alive: jax.Array
    returns: jax.Array
    lengths: jax.Array


def check_discrete_env(env: Any, who: str) -> Env:
    """``env`` as an ``Env`` with a ``Discrete`` action space, else a one-sentence ValueError."""
    env = check_env(env)
    if not isinstance(env.action_space, Discrete):
        raise ValueError(f"{who}: env.action_space must be Discrete (the policy is a distribution "
                         f"over actions), got {env.action_space!r}.")
    return env


def sample_sessions(env: Env, act: Callable[[jax.Array, jax.Array], jax.Array], key: jax.Array,
                    n: int, max_steps: int | None = None) -> Sessions:
    """Play ``n`` episodes of ``env`` with the stochastic policy ``act(key, obs) -> int32[]``.

    ``act`` is written for one observation (it is ``vmap``ped over sessions); ``max_steps``
    defaults to ``env.max_steps``. Traceable: call it inside ``jit``. Keys: the episodes' resets
    use ``split(key)[0]``; step ``t`` uses ``fold_in(split(key)[1], t)`` split into the policy's
    and the environment's keys, one per session.
    """
    env = check_env(env)
    n = validation.check_int("n", n, 1, who="sample_sessions")
    limit = env.max_steps if max_steps is None else validation.check_int(
        "max_steps", max_steps, 1, who="sample_sessions")
    k_reset, k_run = jax.random.split(key)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_reset, n), env.params)
    obs = jnp.asarray(obs, jnp.float32)
    bufs = (jnp.zeros((limit,) + obs.shape, jnp.float32), jnp.zeros((limit, n), jnp.int32),
            jnp.zeros((limit, n), jnp.float32), jnp.zeros((limit, n), bool))

    def cond(carry):
        t, _, _, done, _ = carry
        return (t < limit) & ~jnp.all(done)

    def body(carry):
        t, obs, state, done, (b_obs, b_act, b_rew, b_alive) = carry
        k_act, k_env = jax.random.split(jax.random.fold_in(k_run, t))
        action = jax.vmap(act)(jax.random.split(k_act, n), obs).astype(jnp.int32)
        obs2, state2, reward, ended, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
            jax.random.split(k_env, n), state, action, env.params)
        live = ~done
        reward = jnp.where(live, jnp.asarray(reward, jnp.float32), 0.0)
        b_obs = b_obs.at[t].set(obs)
        b_act = b_act.at[t].set(action)
        b_rew = b_rew.at[t].set(reward)
        b_alive = b_alive.at[t].set(live)

        def keep(new, old):  # finished sessions stay frozen
            mask = jnp.reshape(live, live.shape + (1,) * (new.ndim - 1))
            return jnp.where(mask, new, old)

        obs2 = keep(jnp.asarray(obs2, jnp.float32), obs)
        state2 = jax.tree.map(keep, state2, state)
        return t + 1, obs2, state2, done | (live & ended), (b_obs, b_act, b_rew, b_alive)

    carry = (jnp.zeros((), jnp.int32), obs, state, jnp.zeros((n,), bool), bufs)
    *_, (b_obs, b_act, b_rew, b_alive) = jax.lax.while_loop(cond, body, carry)
    batch_first = lambda x: jnp.swapaxes(x, 0, 1)  # noqa: E731
    return Sessions(obs=batch_first(b_obs), actions=batch_first(b_act),
                    rewards=batch_first(b_rew), alive=batch_first(b_alive),
                    returns=b_rew.sum(0), lengths=b_alive.sum(0).astype(jnp.int32))


def elite_size(n: int, percentile: float) -> int:
    """``M = ceil(n (100 - percentile) / 100)``, at least 1: the elite sessions kept of ``n``."""
    return max(1, min(n, math.ceil(n * (100.0 - percentile) / 100.0 - 1e-9)))


def check_percentile(percentile: Any, who: str) -> float:
    """``percentile`` as a float in ``[0, 100)``, else a one-sentence ValueError."""
    validation.check_number("percentile", percentile, 0.0, 100.0, high_open=True, who=who)
    return float(percentile)


def elite_mask(key: jax.Array, returns: jax.Array, percentile: float) -> jax.Array:
    """``bool[N]``: the ``M = elite_size(N, percentile)`` sessions with the highest returns.

    These are the sessions at or above the ``percentile``-th percentile of ``returns``; when
    sessions tie at that threshold and all of them would make more than ``M``, the ones kept
    among the tied are chosen at random (with ``key``). Why not keep every tie: on sparse
    rewards (FrozenLake's returns are 0 or 1) most sessions tie at the threshold early on, and
    keeping them all makes the elite the whole batch, from which the policy learns nothing.
    ``percentile = 0`` keeps every session.
    """
    n = returns.shape[0]
    m = elite_size(n, percentile)
    order = jnp.lexsort((jax.random.uniform(key, (n,)), returns))  # ascending, ties at random
    rank = jnp.zeros((n,), jnp.int32).at[order].set(jnp.arange(n, dtype=jnp.int32))
    return rank >= n - m


def iterations_runner(step: Callable, who: str) -> Callable:
    """``run(state, iterations)`` for a method's ``step(state) -> (state, metrics)``: that many
    iterations (a Python int >= 1, checked) in one compiled ``lax.scan``, metrics stacked."""

    @functools.partial(jax.jit, static_argnums=1)
    def scanned(state, iterations):
        return jax.lax.scan(lambda s, _: step(s), state, None, length=iterations)

    def run(state, iterations):
        return scanned(state, validation.check_int("iterations", iterations, 1, who=who))

    return run
