"""A trained AlphaZero agent: the network guiding our search on the real game, acting greedily.

``Agent.act(key, state) -> int32[B]`` is the search's move for a batch of pgx states, for the
player to move in each (legal for every non-terminal state; a terminal state gets any move).
Greedy means no exploration: Gumbel search with ``gumbel_scale=0`` (its deterministic choice
among the most visited), PUCT without root noise playing the most visited move.
``load_agent(run_dir)`` gives the agent of a run's newest checkpoint.

Shapes: ``B`` games, ``A`` actions.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax

from evojax_rl import mcts
from evojax_rl.alphazero import game as games
from evojax_rl.alphazero.selfplay import make_search
from evojax_rl.validation import check_int


class Agent:
    """A network's parameters and the greedy search that acts with them.

    ``act(key, state) -> int32[B]``; ``policy(key, state) -> mcts.PolicyOutput`` (the whole
    search: ``action_weights`` and the tree, whose root visit counts ``play`` shows).
    ``params`` may be replaced (``agent.params = ...``): the compiled search takes them as an
    argument, so a new set of parameters does not recompile it.
    """

    def __init__(self, game: games.Game, apply_fn: Callable, params: Any, num_simulations: int,
                 search: str = "gumbel", max_num_considered_actions: int = 16):
        self.game = game
        self.params = params
        self.num_simulations = num_simulations
        self.search = search
        search_fn = make_search(game, apply_fn, num_simulations=num_simulations, search=search,
                                greedy=True, max_num_considered_actions=max_num_considered_actions)
        self._policy = jax.jit(search_fn)
        self._act = functools.partial(_act, search_fn)  # one object: compiled matches key on it

    def policy(self, key: jax.Array, state) -> mcts.PolicyOutput:
        """The greedy search on every game of ``state``."""
        return self._policy(self.params, key, state)

    def act(self, key: jax.Array, state) -> jax.Array:
        """The search's move for the player to move in every game: ``int32[B]``."""
        return self.policy(key, state).action.astype(jax.numpy.int32)

    def player(self, params: Any = None) -> jax.tree_util.Partial:
        """``act`` as a player for compiled matches (``evaluate.match``, ``perfect.perfect_lines``):
        a ``Partial`` carrying ``params`` (default: the agent's) as an argument, so that other
        parameters reuse the compiled match."""
        return jax.tree_util.Partial(self._act, self.params if params is None else params)


def _act(policy, params, key, state):
    return policy(params, key, state).action.astype(jax.numpy.int32)


def load_agent(run_dir: str, num_simulations: int | None = None):
    """The agent of the newest checkpoint of the AlphaZero run in ``run_dir``.

    num_simulations: the search's simulations per move (default: the run's
    ``eval_simulations``). Raises ``ValueError`` in one sentence for a missing directory, a run
    of another kind, or a missing or foreign checkpoint.
    """
    from evojax_rl.alphazero import trainer
    from evojax_rl.runs import driver

    run = driver.read_run(run_dir)
    if run["kind"] != "alphazero":
        raise ValueError(f"{run_dir!r} holds a {run['kind']!r} run, not an AlphaZero run.")
    config = trainer.Config.from_json(run["config"])
    if num_simulations is not None:
        check_int("num_simulations", num_simulations, 1)
    program = trainer.program(config)
    state, _ = driver.restore_latest(program, run_dir, run["seed"])
    return trainer.agent(config, state.params, num_simulations)
