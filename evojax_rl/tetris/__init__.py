"""Tetris, jit-compiled, and Szita & Lorincz's noisy cross-entropy experiment on it.

- ``game``: the board (ten 20-bit column masks), the seven tetrominoes and their ``K = 34``
  placement slots, ``landing`` / ``place`` / ``afterstates`` (drop, clear, validity).
- ``features``: the 22 Bertsekas-Tsitsiklis features; every afterstate's features or linear
  values at once.
- ``play``: uncapped games of a linear afterstate policy (``play(weights, key, games)``).
- ``env``: the ``tetris`` environment for the ES trainer (``problems.make("tetris")``), with
  ``policies.afterstate_policy`` and the ``tetris-cem-noisy`` preset.
- ``train``: the noisy CEM on Tetris as one compiled loop (``benchmarks/tetris_cem.py``).
"""

from evojax_rl.tetris import env, features, game, play, train  # noqa: F401
