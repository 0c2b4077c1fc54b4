"""``mcts.jit``: the search compiled with ``mcts.COMPILER_OPTIONS`` computes what ``jax.jit``'s
does, and the options reach XLA (no elementwise or reduction library fusion is left)."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_rl import mcts
from mcts_models import TWO_PLAYER, mlp_model, mlp_params, mlp_root


def _search(batch=8, simulations=12):
    params = mlp_params(jax.random.key(0), mode=TWO_PLAYER)
    root, recurrent_fn = mlp_root(mcts, params, batch), mlp_model(mcts)

    def run(key):
        out = mcts.gumbel_muzero_policy(params, key, root, recurrent_fn, simulations)
        return out.action, out.action_weights, out.search_tree.node_values

    return run


def _library_fusions(compiled_text: str) -> list[str]:
    """The op names of the compiled program's YNNPACK library fusions."""
    lines = [line for line in compiled_text.splitlines() if '"kind":"__ynn_fusion"' in line]
    return [m.group(1) if (m := re.search(r'op_name="([^"]*)"', line)) else line
            for line in lines]


def test_jit_matches_jax_jit():
    run = _search()
    key = jax.random.key(3)
    ours, default = mcts.jit(run)(key), jax.jit(run)(key)
    np.testing.assert_array_equal(ours[0], default[0])
    for a, b in zip(ours[1:], default[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # float32, other elementwise code


def test_options_reach_xla():
    """Under ``mcts.jit`` only dots may become library fusions; a reduction of a search (the
    softmax's max) is XLA's own loop code. Fails if the options are not passed on."""
    def f(x, w):
        y = jnp.max(x, axis=-1, keepdims=True)
        return jax.nn.softmax(x - y) @ w

    x, w = jnp.ones((512, 9)), jnp.ones((9, 9))  # XLA's CPU backend fuses reductions this big
    default = _library_fusions(jax.jit(f).lower(x, w).compile().as_text())
    if all("dot_general" in name for name in default):
        pytest.skip("this backend makes no elementwise or reduction library fusion here")
    fusions = _library_fusions(mcts.jit(f).lower(x, w).compile().as_text())
    assert all("dot_general" in name for name in fusions), fusions


def test_caller_options_merge():
    assert mcts.jit(lambda x: x + 1, compiler_options={"xla_cpu_enable_fast_math": False})(
        jnp.ones(3)).tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(TypeError, match="compiler_options must be a dict of XLA option names "
                                        "to values, got 'fast'"):
        mcts.jit(lambda x: x, compiler_options="fast")
