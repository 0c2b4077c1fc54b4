"""Batched Monte Carlo tree search, mctx-compatible (switch by changing the import).

AlphaZero-style search (Silver et al. 2017) and Gumbel MuZero (Danihelka et al. 2022) on ``B``
trees at once inside ``jit``, with masks of invalid actions at every node, subtree reuse, and
AlphaGo's mixed leaf evaluation by rollouts. See ``policies`` for the entry points; ``jit``
compiles a program that searches with the XLA options it runs fastest under on a CPU (``xla``).
"""

from evojax_rl.mcts.action_selection import (  # noqa: F401
    gumbel_muzero_interior_action_selection,
    gumbel_muzero_root_action_selection,
    muzero_action_selection,
)
from evojax_rl.mcts.base import PolicyOutput, RecurrentFnOutput, RootFnOutput  # noqa: F401
from evojax_rl.mcts.policies import (  # noqa: F401
    GumbelMuZeroExtraData,
    gumbel_muzero_policy,
    muzero_policy,
)
from evojax_rl.mcts.qtransforms import (  # noqa: F401
    qtransform_by_min_max,
    qtransform_by_parent_and_siblings,
    qtransform_completed_by_mix_value,
)
from evojax_rl.mcts.reuse import get_subtree  # noqa: F401
from evojax_rl.mcts.rollouts import (  # noqa: F401
    make_rollout_fn,
    mix_value,
    root_with_rollouts,
    uniform_random_policy,
    with_rollouts,
)
from evojax_rl.mcts.search import search  # noqa: F401
from evojax_rl.mcts.tree import SearchSummary, Tree, tree_nbytes  # noqa: F401
from evojax_rl.mcts.xla import COMPILER_OPTIONS, jit  # noqa: F401

__all__ = [
    "COMPILER_OPTIONS",
    "GumbelMuZeroExtraData",
    "PolicyOutput",
    "RecurrentFnOutput",
    "RootFnOutput",
    "SearchSummary",
    "Tree",
    "get_subtree",
    "jit",
    "make_rollout_fn",
    "mix_value",
    "root_with_rollouts",
    "uniform_random_policy",
    "with_rollouts",
    "gumbel_muzero_interior_action_selection",
    "gumbel_muzero_policy",
    "gumbel_muzero_root_action_selection",
    "muzero_action_selection",
    "muzero_policy",
    "qtransform_by_min_max",
    "qtransform_by_parent_and_siblings",
    "qtransform_completed_by_mix_value",
    "search",
    "tree_nbytes",
]
