"""The replay window: the samples of the last ``window`` self-play iterations, in fixed device arrays.

Built on flashbax's item buffer (``flashbax.make_item_buffer(add_batches=True)``), which is a
trajectory buffer with one row and a time axis of ``max_length = window * per_iteration`` items:
``state.experience`` is a ``Sample`` whose leaves are ``[1, max_length, ...]``,
``state.current_index`` is where the next item goes and ``state.is_full`` says the ring has
wrapped. An ``add`` of ``per_iteration`` samples writes them at ``current_index, ... + 1`` (mod
``max_length``), so with equal-sized adds each iteration fills one of ``window`` fixed slots and
the ``window + 1``-th overwrites the oldest: the buffer holds exactly the last ``window``
iterations. Storage order is oldest first from ``current_index`` once full, from 0 before.

``sample`` draws ``batch_size`` of the stored *valid* positions, uniformly with replacement: the
self-play padding after a game ended (``valid=False``, about a fifth of tic-tac-toe's rows) is
never drawn, so every minibatch row is a real position (flashbax's own ``sample`` draws every
stored row alike, and the padding rows it drew were masked out of the loss: wasted). Before any
valid position is stored, ``sample`` draws the stored rows alike (all ``valid=False``; the loss
is then 0).
"""

from __future__ import annotations

from typing import Any

import flashbax
import jax
import jax.numpy as jnp
import numpy as np

from evojax_rl import validation
from evojax_rl.alphazero.selfplay import Sample


class Replay:
    """``init(example) -> state``, ``add(state, samples) -> state``, ``sample(state, key) ->
    Sample [batch_size]``, ``contents(state) -> Sample`` (host numpy, oldest first).

    ``init``, ``add`` and ``sample`` are pure and jittable; ``contents`` reads back to the host.
    """

    def __init__(self, window: int, per_iteration: int, batch_size: int):
        self.window = validation.check_int("window", window, 1, who="replay")
        self.per_iteration = validation.check_int("per_iteration", per_iteration, 1, who="replay")
        self.max_length = self.window * self.per_iteration
        self.batch_size = validation.check_int("batch_size", batch_size, 1, self.max_length,
                                               who="replay")
        self.buffer = flashbax.make_item_buffer(
            max_length=self.max_length, min_length=1, sample_batch_size=self.batch_size,
            add_batches=True)

    def init(self, example: Sample) -> Any:
        """Empty storage shaped by ``example``: ONE position (no leading axis), e.g.
        ``jax.tree.map(lambda x: x[0], samples)``. Dtypes are fixed here: later adds must match."""
        return self.buffer.init(jax.tree.map(jnp.zeros_like, example))

    def add(self, state, samples: Sample):
        """Append ``samples: Sample [per_iteration]`` (one iteration), overwriting the oldest
        iteration once ``window`` are stored."""
        n = jax.tree.leaves(samples)[0].shape[0]
        if n != self.per_iteration:
            raise ValueError(f"replay: add takes per_iteration={self.per_iteration} samples, "
                             f"got {n}.")
        return self.buffer.add(state, samples)

    def sample(self, state, key: jax.Array) -> Sample:
        """``batch_size`` stored valid positions, uniform with replacement: ``Sample
        [batch_size]`` (see the module docstring)."""
        valid = state.experience.valid[0]  # [max_length]; rows not yet written are invalid
        weight = jnp.where(jnp.any(valid), valid, True).astype(jnp.float32)
        rows = jax.random.choice(key, self.max_length, (self.batch_size,), p=weight)
        return jax.tree.map(lambda x: x[0, rows], state.experience)

    def size(self, state) -> jax.Array:
        """The number of stored positions (valid or not): int32 scalar."""
        return jnp.where(state.is_full, self.max_length, state.current_index).astype(jnp.int32)

    def contents(self, state) -> Sample:
        """Everything stored, oldest first, as host numpy arrays (for tests and inspection)."""
        experience = jax.tree.map(lambda x: np.asarray(x)[0], state.experience)
        index, full = int(state.current_index), bool(state.is_full)
        if full:
            return jax.tree.map(lambda x: np.roll(x, -index, axis=0), experience)
        return jax.tree.map(lambda x: x[:index], experience)


def make_replay(window: int, per_iteration: int, batch_size: int) -> Replay:
    """A replay window of the last ``window`` iterations of ``per_iteration`` samples each,
    sampled ``batch_size`` at a time (at most ``window * per_iteration``)."""
    return Replay(window, per_iteration, batch_size)
