"""Helpers for tests that compare whole states bit for bit."""

import jax
import numpy as np


def leaves_bytes(tree) -> list[tuple[str, tuple, bytes]]:
    """Every leaf of ``tree`` as ``(dtype, shape, bytes)``, keys as their data: two trees are
    the same bits exactly when these lists are equal."""
    out = []
    for leaf in jax.tree_util.tree_leaves(tree):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        a = np.asarray(leaf)
        out.append((a.dtype.str, a.shape, a.tobytes()))
    return out
