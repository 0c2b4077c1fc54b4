"""Bad configuration raises ValueError before tracing, naming the value and what is allowed;
and the tree's memory is what ``tree_nbytes`` (and BENCHMARKS.md) says. The ranges checked are
those of the papers' quantities (Silver et al. 2017: Dirichlet fraction in [0, 1]; Danihelka
et al. 2022: a positive number of considered actions)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_rl import mcts
from evojax_rl.mcts.tree import empty_tree

ROOT = mcts.RootFnOutput(
    prior_logits=jnp.zeros((2, 3)), value=jnp.zeros(2), embedding=jnp.zeros((2, 4))
)


def _never_called(*args):
    raise AssertionError("the search must not start")


@pytest.mark.parametrize(
    "policy,kwargs,match",
    [
        (mcts.muzero_policy, dict(num_simulations=0), "num_simulations must be an int >= 1, got 0"),
        (mcts.muzero_policy, dict(num_simulations=2.5), "num_simulations must be an int >= 1, got 2.5"),
        (mcts.muzero_policy, dict(num_simulations=4, max_depth=0), "max_depth must be an int >= 1, got 0"),
        (mcts.muzero_policy, dict(num_simulations=4, num_nodes=4), r"num_nodes .* must be an int >= 5, got 4"),
        (
            mcts.muzero_policy,
            dict(num_simulations=4, dirichlet_fraction=1.5),
            r"dirichlet_fraction must be in \[0, 1\], got 1.5",
        ),
        (mcts.muzero_policy, dict(num_simulations=4, temperature=-1.0), "temperature must be a finite number >= 0, got -1.0"),
        (mcts.muzero_policy, dict(num_simulations=4, dirichlet_alpha=0.0), "dirichlet_alpha"),
        (
            mcts.gumbel_muzero_policy,
            dict(num_simulations=4, max_num_considered_actions=0),
            "max_num_considered_actions must be an int >= 1, got 0",
        ),
        (mcts.gumbel_muzero_policy, dict(num_simulations=4, gumbel_scale=-1.0), "gumbel_scale"),
    ],
)
def test_bad_configuration_raises_value_error(policy, kwargs, match):
    with pytest.raises(ValueError, match=match):
        policy(None, jax.random.PRNGKey(0), ROOT, _never_called, **kwargs)


def test_reused_tree_capacity_must_agree():
    tree = empty_tree(2, 10, 3, ROOT.embedding)
    with pytest.raises(ValueError, match="num_nodes=12 differs from the reused tree's capacity 10"):
        mcts.muzero_policy(
            None, jax.random.PRNGKey(0), ROOT, _never_called, 4, num_nodes=12, tree=tree
        )
    with pytest.raises(ValueError, match=r"num_nodes \(the tree capacity, at least num_simulations \+ 1\) must be an int >= 11, got 10"):
        mcts.muzero_policy(None, jax.random.PRNGKey(0), ROOT, _never_called, 10, tree=tree)


def test_rollout_configuration():
    with pytest.raises(ValueError, match=r"rollout_lambda must be in \[0, 1\], got 1.5"):
        mcts.with_rollouts(_never_called, _never_called, 1.5)
    with pytest.raises(ValueError, match="max_steps must be an int >= 1, got 0"):
        mcts.make_rollout_fn(_never_called, _never_called, 0)


@pytest.mark.parametrize("n,a", [(65, 9), (129, 9), (257, 82)])
def test_tree_memory_formula(n, a):
    tree = empty_tree(1, n, a, np.zeros((1, 64), np.float32))
    actual = sum(x.nbytes for x in jax.tree.leaves(tree))
    assert mcts.tree_nbytes(n, a, 64 * 4) == actual == n * (20 + 25 * a) + 4 + n * 256
