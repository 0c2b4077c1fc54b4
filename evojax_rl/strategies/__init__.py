"""Search strategies: each factory returns ``Strategy(init, ask, tell)`` (see ``base``)."""

from evojax_rl.strategies.base import Strategy  # noqa: F401
