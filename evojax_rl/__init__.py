"""evojax_rl: evolution strategies and batched MCTS for RL, each as one compiled JAX loop.

Fitness is **maximized** everywhere; to minimize ``f``, pass ``-f``.

Importing it turns on JAX's persistent compilation cache in a per-user directory unless you
configured one or set ``EVOJAX_RL_DISABLE_CACHE=1`` (see ``evojax_rl.compile_cache``).

The names below are imported on first use (PEP 562), so a script that only calls ``optimize``
does not pay for importing flax, orbax and the environments (about 0.8 s of a fresh process).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from evojax_rl import compile_cache

compile_cache.configure()  # before anything can compile

# Public name -> (module, attribute in it; None: the module itself).
_LAZY = {
    "cem_rl": ("evojax_rl.cem_rl", None),
    "distributed": ("evojax_rl.distributed", None),
    "mcts": ("evojax_rl.mcts", None),
    "obs_norm": ("evojax_rl.obs_norm", None),
    "pbt": ("evojax_rl.pbt", None),
    "planning": ("evojax_rl.planning", None),
    "policies": ("evojax_rl.policies", None),
    "presets": ("evojax_rl.presets", None),
    "problems": ("evojax_rl.problems", None),
    "rollout": ("evojax_rl.rollout", None),
    "runs": ("evojax_rl.runs", None),
    "shaping": ("evojax_rl.shaping", None),
    "strategies": ("evojax_rl.strategies", None),
    "tetris": ("evojax_rl.tetris", None),
    "OptimizeResult": ("evojax_rl.loop", "OptimizeResult"),
    "optimize": ("evojax_rl.loop", "optimize"),
    "optimize_batch": ("evojax_rl.loop", "optimize_batch"),
    "BatchResult": ("evojax_rl.loop", "BatchResult"),
    "mlp_policy": ("evojax_rl.policies", "mlp_policy"),
    "Env": ("evojax_rl.problems", "Env"),
    "make_env": ("evojax_rl.problems", "make"),
    "register_env": ("evojax_rl.problems", "register"),
    "make_rollout": ("evojax_rl.rollout", "make_rollout"),
    "STOP_REASONS": ("evojax_rl.strategies.base", "STOP_REASONS"),
    "Strategy": ("evojax_rl.strategies.base", "Strategy"),
    "TrainConfig": ("evojax_rl.trainer", "TrainConfig"),
    "train": ("evojax_rl.trainer", "train"),
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'evojax_rl' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = importlib.import_module(module)
    if attr is not None:
        value = getattr(value, attr)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # what type checkers and IDEs see
    from evojax_rl import (  # noqa: F401
        cem_rl,
        distributed,
        mcts,
        obs_norm,
        pbt,
        planning,
        policies,
        presets,
        problems,
        rollout,
        runs,
        shaping,
        strategies,
        tetris,
    )
    from evojax_rl.loop import BatchResult, OptimizeResult, optimize, optimize_batch  # noqa: F401
    from evojax_rl.policies import mlp_policy  # noqa: F401
    from evojax_rl.problems import Env  # noqa: F401
    from evojax_rl.problems import make as make_env  # noqa: F401
    from evojax_rl.problems import register as register_env  # noqa: F401
    from evojax_rl.rollout import make_rollout  # noqa: F401
    from evojax_rl.strategies.base import STOP_REASONS, Strategy  # noqa: F401
    from evojax_rl.trainer import TrainConfig, train  # noqa: F401

__version__ = "0.1.0"
