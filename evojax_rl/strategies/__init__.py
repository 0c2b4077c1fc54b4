"""Search strategies: each factory returns ``Strategy(init, ask, tell)`` (see ``base``).

``ipop`` and ``ipop_cma_es`` are restart schemes, not strategies: they return an ``IPOP`` that
``optimize`` runs as a sequence of strategies with growing population sizes; ``uniform_in`` and
``triangular_in`` draw where their restarts start (``ipop(..., restart_x0=...)``).

Fitness is **maximized** by every strategy.
"""

from evojax_rl.strategies.ars import ars  # noqa: F401
from evojax_rl.strategies.base import Strategy  # noqa: F401
from evojax_rl.strategies.cem import cem  # noqa: F401
from evojax_rl.strategies.cma_es import cma_es, sep_cma_es  # noqa: F401
from evojax_rl.strategies.open_es import open_es  # noqa: F401
from evojax_rl.strategies.pgpe import pgpe  # noqa: F401
from evojax_rl.strategies.restarts import (  # noqa: F401
    ipop,
    ipop_cma_es,
    triangular_in,
    uniform_in,
)
from evojax_rl.strategies.simple_ga import simple_ga  # noqa: F401
from evojax_rl.strategies.snes import snes  # noqa: F401
