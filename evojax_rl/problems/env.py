"""The environment protocol every rollout drives, and the spaces that describe it.

An environment is a value, like a strategy: ``Env(reset, step, params, observation_space,
action_space, max_steps, name)``, gymnax-shaped and written for one episode (no batch axis):

- ``reset(key, params) -> (obs, state)``
- ``step(key, state, action, params) -> (obs, state, reward, done, info)``: ``reward: f32[]``,
  ``done: bool[]`` is true once the episode has ended (terminated *or* truncated). The step after
  ``done`` is never counted, so an adapter need not reset itself (and should not: an automatic
  reset costs a second environment computation per step).
- ``params``: the environment's parameters, any pytree (may be ``None``); passed back verbatim.
- ``observation_space``: ``Box`` (obs is an array of ``Box.shape``).
- ``action_space``: ``Discrete(n)`` (action is ``int32[]``) or ``Box`` (action is ``f32[shape]``
  within ``[low, high]``).
- ``max_steps``: the step limit the rollout enforces on top of ``done``.

A user's own JAX environment plugs in by building ``Env(...)`` from two pure functions::

    env = Env(reset=my_reset, step=my_step, params=None,
              observation_space=Box(-1.0, 1.0, (3,)), action_space=Discrete(2),
              max_steps=200, name="my-env")

``register(name, factory)`` makes it available by name to ``make`` (and so to ``TrainConfig`` and
the CLI's presets); ``factory(**kwargs) -> Env``.

``make(name)`` builds the adapters that ship with the package: every registered gymnax
environment by its gymnax id (``"CartPole-v1"``), every brax environment as ``"brax/NAME"``
(``"brax/ant"``, backend chosen with ``backend=``), and the package's own environments
(``BUILTIN``: ``"tetris"``, ``"Taxi"``), each imported on first use.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any, Callable, NamedTuple

import numpy as np

from evojax_rl import validation


class Discrete(NamedTuple):
    """``n`` actions, ``0..n-1``; an action is ``int32[]``."""

    n: int


class Box(NamedTuple):
    """A box of floats: ``low`` and ``high`` are scalars or arrays broadcastable to ``shape``."""

    low: Any
    high: Any
    shape: tuple


class Env(NamedTuple):
    """An environment as pure functions plus its description; see the module docstring."""

    reset: Callable[[Any, Any], tuple[Any, Any]]
    step: Callable[[Any, Any, Any, Any], tuple[Any, Any, Any, Any, Any]]
    params: Any
    observation_space: Box
    action_space: Discrete | Box
    max_steps: int
    name: str = "env"


def check_env(env: Any) -> Env:
    """Raise a clear error unless ``env`` is an ``Env`` the rollout can drive."""
    if not isinstance(env, Env):
        raise ValueError(
            f"expected an evojax_rl.problems.Env, got {type(env).__name__}; "
            "build one with Env(reset, step, params, observation_space, action_space, max_steps)."
        )
    if not isinstance(env.action_space, (Discrete, Box)):
        raise ValueError(
            f"env.action_space must be Discrete or Box, got {type(env.action_space).__name__}."
        )
    validation.check_int("env.max_steps", env.max_steps, 1)
    return env


def action_size(space: Discrete | Box) -> int:
    """Number of policy outputs that a space needs: ``n`` logits, or one per continuous dim."""
    if isinstance(space, Discrete):
        return int(space.n)
    return int(np.prod(space.shape))


def _deferred(name: str) -> types.ModuleType:
    """A stand-in for the module ``name`` that imports it on first use of an attribute."""

    class Deferred(types.ModuleType):
        def __getattr__(self, attr):
            if sys.modules.get(name) is self:
                del sys.modules[name]
            real = importlib.import_module(name)
            self.__dict__.update(real.__dict__)
            return getattr(real, attr)

    return Deferred(name)


def import_gymnax() -> types.ModuleType:
    """``import gymnax`` without importing seaborn with it: gymnax's Pong imports seaborn at
    module level for its rendering only, which pulls in scipy and costs ~3 s in every process
    that makes an environment. seaborn is imported on first use instead."""
    if "gymnax" not in sys.modules and "seaborn" not in sys.modules:
        sys.modules["seaborn"] = _deferred("seaborn")
    import gymnax

    return gymnax


def gymnax_names() -> list[str]:
    """Every environment id that gymnax has registered."""
    return list(import_gymnax().registered_envs)


BRAX_PREFIX = "brax/"
_USER_ENVS: dict[str, Callable[..., Env]] = {}
# The package's own environments: name -> (module, factory), imported when first made.
BUILTIN: dict[str, tuple[str, str]] = {
    "tetris": ("evojax_rl.tetris.env", "tetris_env"),
    "Taxi": ("evojax_rl.problems.taxi", "taxi"),
}


def register(name: str, factory: Callable[..., Env]) -> None:
    """Make ``make(name, **kwargs)`` return ``factory(**kwargs)`` (a user's own ``Env``)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"environment name must be a non-empty string, got {name!r}.")
    if not callable(factory):
        raise ValueError(f"factory for {name!r} must be callable, got {factory!r}.")
    if (name in _USER_ENVS or name in BUILTIN or name in gymnax_names()
            or name.startswith(BRAX_PREFIX)):
        raise ValueError(f"environment name {name!r} is already taken; choose another.")
    _USER_ENVS[name] = factory


def brax_names() -> list[str]:
    """Every brax environment as ``brax/NAME`` (empty if the ``[brax]`` extra is missing)."""
    try:
        from brax import envs
    except ImportError:
        return []
    return [BRAX_PREFIX + n for n in sorted(envs._envs)]


def make(name: str, *, max_steps: int | None = None, **kwargs: Any) -> Env:
    """Build the adapter for a named environment.

    ``name``: a gymnax id (``"CartPole-v1"``, ``"Breakout-MinAtar"``), ``"brax/NAME"`` or one
    of ``BUILTIN`` (``"tetris"``: ``tetris.env.tetris_env``; ``"Taxi"``: ``problems.taxi.taxi``).
    ``max_steps``: override the step limit (gymnax default: its ``max_steps_in_episode``;
    brax default: 1000). Other keyword arguments go to the adapter (gymnax: ``env_params``
    overrides as a dict; brax: ``backend``).
    """
    if not isinstance(name, str):
        raise ValueError(f"environment name must be a string, got {name!r}.")
    if name in _USER_ENVS:
        env = check_env(_USER_ENVS[name](**kwargs))
        return env if max_steps is None else check_env(env._replace(max_steps=max_steps))
    if name in BUILTIN:
        module, factory = BUILTIN[name]
        return check_env(getattr(importlib.import_module(module), factory)(max_steps=max_steps,
                                                                           **kwargs))
    if name.startswith(BRAX_PREFIX):
        from evojax_rl.problems.brax_env import brax_env

        return brax_env(name[len(BRAX_PREFIX) :], max_steps=max_steps, **kwargs)
    if name in gymnax_names():
        from evojax_rl.problems.gymnax_env import gymnax_env

        return gymnax_env(name, max_steps=max_steps, **kwargs)
    valid = sorted(_USER_ENVS) + sorted(BUILTIN) + gymnax_names() + brax_names()
    raise ValueError(f"unknown environment {name!r}; valid names: {', '.join(valid)}.")
