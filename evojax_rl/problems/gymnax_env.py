"""Adapter: any registered gymnax environment as an ``Env``.

gymnax 1.0's ``env.step`` returns six values ``(obs, state, reward, terminated, truncated,
info)`` and resets automatically, which computes a second (reset) transition at every step.
The rollout never looks past ``done``, so this adapter calls the environment's transition
(``step_env``) and time limit (``is_truncated``) directly, with the same key split as gymnax's
``step``: up to the end of an episode, its transitions are exactly gymnax's.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from evojax_rl import validation
from evojax_rl.problems.env import Box, Discrete, Env, import_gymnax


def _space(space: Any) -> Discrete | Box:
    """gymnax space -> our ``Discrete`` / ``Box``."""
    spaces = import_gymnax().environments.spaces
    if isinstance(space, spaces.Discrete):
        return Discrete(int(space.n))
    if isinstance(space, spaces.Box):
        shape = tuple(int(s) for s in (space.shape if space.shape is not None else ()))
        return Box(space.low, space.high, shape)
    raise ValueError(f"unsupported gymnax space {space!r}; allowed: Discrete, Box.")


def _obs_space(space: Any) -> Box:
    """Observations are always float arrays: a ``Discrete(n)`` observation (FrozenLake's cell
    index) becomes ``Box(0, n - 1, ())``."""
    space = _space(space)
    if isinstance(space, Discrete):
        return Box(0.0, float(space.n - 1), ())
    return space


@functools.lru_cache(maxsize=None)
def _build(name: str, max_steps: int | None, overrides: tuple) -> Env:
    env, params = import_gymnax().make(name)
    defaults = params
    if overrides:
        params = params.replace(**dict(overrides))
    if max_steps is not None:
        params = params.replace(max_steps_in_episode=int(max_steps))

    def reset(key, params):
        obs, state = env.reset_env(key, params)
        return jnp.asarray(obs, jnp.float32), state

    def step(key, state, action, params):
        key_step, _ = jax.random.split(key)  # as gymnax's step: (step key, reset key)
        obs, state, reward, terminated, info = env.step_env(key_step, state, action, params)
        done = jnp.logical_or(terminated, env.is_truncated(state, params))
        reward = jnp.reshape(jnp.asarray(reward, jnp.float32), ())
        return jnp.asarray(obs, jnp.float32), state, reward, jnp.reshape(done, ()), info

    limit = int(params.max_steps_in_episode)
    try:
        obs_space, act_space = env.observation_space(params), env.action_space(params)
    except TypeError:
        # Some gymnax spaces (BernoulliBandit's) mix an int step limit with float bounds when
        # max_steps_in_episode is overridden; the shapes are the same under the defaults.
        obs_space, act_space = env.observation_space(defaults), env.action_space(defaults)
    return Env(
        reset=reset,
        step=step,
        params=params,
        observation_space=_obs_space(obs_space),
        action_space=_space(act_space),
        max_steps=limit,
        name=name,
    )


def gymnax_env(name: str, *, max_steps: int | None = None, env_params: dict | None = None) -> Env:
    """The gymnax environment ``name`` (``"CartPole-v1"``, ...) as an ``Env``.

    ``max_steps`` overrides ``max_steps_in_episode``; ``env_params`` overrides other fields of the
    gymnax ``EnvParams``. Equal arguments return the same ``Env`` (its functions are shared, so
    jitted rollouts over it compile once).
    """
    gymnax = import_gymnax()
    if name not in gymnax.registered_envs:
        raise ValueError(
            f"unknown gymnax environment {name!r}; valid names: {', '.join(gymnax.registered_envs)}."
        )
    if max_steps is not None:
        max_steps = validation.check_int("max_steps", max_steps, 1)
    overrides = tuple(sorted((env_params or {}).items()))
    return _build(name, max_steps, overrides)
