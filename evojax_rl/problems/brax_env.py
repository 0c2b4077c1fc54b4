"""Adapter: any brax environment, with its physics backend selectable, as an ``Env``.

brax is an optional extra (``pip install evojax_rl[brax]``) and is imported only here, only when
a ``brax/NAME`` environment is built. brax's own ``step(state, action)`` takes no key and has no
time limit; the rollout enforces ``max_steps``. Actions are in ``[-1, 1]^action_size``.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp

from evojax_rl import validation
from evojax_rl.problems.env import Box, Env

BACKENDS = ("generalized", "positional", "spring", "mjx")


@functools.lru_cache(maxsize=None)
def _build(name: str, backend: str, max_steps: int) -> Env:
    from brax import envs

    env = envs.get_environment(name, backend=backend)

    def reset(key, params):
        del params
        state = env.reset(key)
        return state.obs, state

    def step(key, state, action, params):
        del key, params  # brax transitions are deterministic
        state = env.step(state, action)
        return state.obs, state, jnp.asarray(state.reward, jnp.float32), state.done > 0, {}

    obs_size = env.observation_size
    if not isinstance(obs_size, int):
        raise ValueError(f"brax environment {name!r} has dict observations; only arrays are supported.")
    return Env(
        reset=reset,
        step=step,
        params=None,
        observation_space=Box(-jnp.inf, jnp.inf, (obs_size,)),
        action_space=Box(-1.0, 1.0, (int(env.action_size),)),
        max_steps=max_steps,
        name=f"brax/{name}",
    )


def brax_env(name: str, *, backend: str = "generalized", max_steps: int | None = None) -> Env:
    """The brax environment ``name`` (``"ant"``, ``"hopper"``, ...) as an ``Env``.

    ``backend``: one of ``generalized``, ``positional``, ``spring``, ``mjx`` (brax's pipelines;
    ``positional`` and ``spring`` are the cheap ones on CPU). ``max_steps`` defaults to 1000.
    """
    try:
        from brax import envs
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ValueError(
            "brax environments need the [brax] extra: pip install 'evojax_rl[brax]'."
        ) from e
    if name not in envs._envs:
        valid = ", ".join("brax/" + n for n in sorted(envs._envs))
        raise ValueError(f"unknown brax environment {name!r}; valid names: {valid}.")
    if backend not in BACKENDS:
        raise ValueError(f"unknown brax backend {backend!r}; allowed: {', '.join(BACKENDS)}.")
    steps = 1000 if max_steps is None else validation.check_int("max_steps", max_steps, 1)
    return _build(name, backend, steps)
