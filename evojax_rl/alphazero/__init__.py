"""AlphaZero: self-play with our batched search on pgx board games, learning and evaluation as
compiled loops (needs the ``[games]`` extra).

``load_agent(run_dir)`` gives a run's agent; ``AlphaZeroConfig`` and ``trainer.train`` run one;
``evaluate`` and ``perfect`` hold the opponents it is judged against.
"""

from evojax_rl.alphazero.agent import Agent, load_agent  # noqa: F401
from evojax_rl.alphazero.config import AlphaZeroConfig  # noqa: F401
