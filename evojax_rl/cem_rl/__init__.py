"""The cross-entropy method as the lecture teaches it for RL: a policy fitted to elite sessions.

- ``tabular``: the policy is a matrix ``pi(a|s)``; counts of the elite's actions, Laplace
  smoothing, smooth updates (``tabular_cem``).
- ``neural``: the policy is a flax MLP classifier fitted with optax to the elite's state-action
  pairs (``neural_cem``).
- ``sessions``: playing a batch of episodes into fixed ``[N, T]`` buffers; choosing the elite.
- ``mdp``: exact value iteration and exact policy evaluation for small MDPs (the optimum the
  tabular method is checked against), and FrozenLake's exact model.

(``evojax_rl.strategies.cem`` is the other CEM: a Gaussian over policy *parameters*.)
"""

from evojax_rl.cem_rl.mdp import (  # noqa: F401
    TabularMDP,
    deterministic_mdp,
    frozen_lake_mdp,
    policy_return,
    policy_values,
    value_iteration,
)
from evojax_rl.cem_rl.sessions import (  # noqa: F401
    Sessions,
    elite_mask,
    elite_size,
    sample_sessions,
)
from evojax_rl.cem_rl.tabular import (  # noqa: F401
    TabularCEM,
    TabularCEMState,
    index_state,
    tabular_cem,
    update_policy,
)
from evojax_rl.cem_rl.neural import NeuralCEM, NeuralCEMState, neural_cem  # noqa: F401
