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
    argument, so a new set of parameters does not recompile it. Agents of the same network and
    search settings share one compiled search (``greedy_search`` is cached), so loading a run's
    agent in the process that trained it compiles nothing new.
    """

    def __init__(self, game: games.Game, search_fn: Callable, params: Any, num_simulations: int,
                 search: str = "gumbel"):
        self.game = game
        self.params = params
        self.num_simulations = num_simulations
        self.search = search
        self._policy, self._act = _compiled(search_fn)

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


@functools.lru_cache(maxsize=None)
def _compiled(search_fn: Callable):
    """The jitted search and the act function (one object per search: compiled matches key on
    it)."""
    return mcts.jit(search_fn), functools.partial(_act, search_fn)


@functools.lru_cache(maxsize=None)
def greedy_search(game_id: str, network: str, hidden: tuple, channels: int, blocks: int,
                  num_simulations: int, search: str, max_num_considered_actions: int):
    """``(game, search_fn)``: the greedy search of a network of these settings (cached, so that
    every agent of the same settings shares its compilation)."""
    from evojax_rl.alphazero import networks

    game = games.make_game(game_id)
    module = networks.make_network(network, game.num_actions, hidden=hidden, channels=channels,
                                   blocks=blocks)
    return game, make_search(game, module.apply, num_simulations=num_simulations, search=search,
                             greedy=True, max_num_considered_actions=max_num_considered_actions)


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
        raise ValueError(f"{run_dir!r} holds a run of kind {run['kind']!r}, not an AlphaZero run.")
    config = trainer.Config.from_json(run["config"])
    if num_simulations is not None:
        check_int("num_simulations", num_simulations, 1)
    program = trainer.program(config)
    state, _ = driver.restore_latest(program, run_dir, run["seed"])
    return trainer.agent(config, state.params, num_simulations)
