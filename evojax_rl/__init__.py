"""evojax_rl: evolution strategies and batched MCTS for RL, each as one compiled JAX loop.

Fitness is **maximized** everywhere; to minimize ``f``, pass ``-f``.
"""

from evojax_rl import (  # noqa: F401
    distributed,
    mcts,
    obs_norm,
    policies,
    presets,
    problems,
    rollout,
    runs,
    shaping,
    strategies,
)
from evojax_rl.loop import OptimizeResult, optimize  # noqa: F401
from evojax_rl.policies import mlp_policy  # noqa: F401
from evojax_rl.problems import Env  # noqa: F401
from evojax_rl.problems import make as make_env  # noqa: F401
from evojax_rl.problems import register as register_env  # noqa: F401
from evojax_rl.rollout import make_rollout  # noqa: F401
from evojax_rl.strategies.base import STOP_REASONS, Strategy  # noqa: F401
from evojax_rl.trainer import TrainConfig, train  # noqa: F401

__version__ = "0.1.0"
