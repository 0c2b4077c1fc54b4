"""evojax_rl: evolution strategies, PBT and batched MCTS for RL, each as one compiled JAX loop.

Fitness is **maximized** everywhere; to minimize ``f``, pass ``-f``.
"""

from evojax_rl import problems, shaping, strategies  # noqa: F401
from evojax_rl.loop import OptimizeResult, optimize  # noqa: F401
from evojax_rl.strategies.base import STOP_REASONS, Strategy  # noqa: F401

__version__ = "0.1.0"
