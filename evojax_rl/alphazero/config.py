"""The configuration of an AlphaZero run (light: importing it needs no pgx and no flashbax)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from evojax_rl.alphazero.game import GAMES
from evojax_rl.alphazero.networks import KINDS
from evojax_rl.runs.driver import config_from_json, config_to_json
from evojax_rl.validation import check_choice, check_int, check_number, check_positive

SEARCHES = ("gumbel", "puct")
# "perfect" exists for tic-tac-toe only (an exhaustive minimax player).
OPPONENTS = ("random", "mcts", "previous", "perfect")


@dataclasses.dataclass(frozen=True)
class AlphaZeroConfig:
    """Everything that fixes an AlphaZero run (JSON-serializable).

    game: a pgx game id (``game.GAMES``). network: ``"mlp"`` (``hidden``) or ``"resnet"``
    (``channels``, ``blocks``). search: ``"gumbel"`` (Gumbel MuZero) or ``"puct"`` (with root
    Dirichlet noise and moves sampled at ``temperature``); ``num_simulations`` per move.
    selfplay_batch: games per iteration; opening_plies: each game starts with a uniformly drawn
    number, from 0 to this, of uniformly random moves. replay_window: iterations of positions
    kept; batch_size / updates / learning_rate / value_weight: the training per iteration;
    learning_rate_end: if set, the learning rate follows a cosine from ``learning_rate`` down to
    this over the run's ``iterations * updates`` steps and stays there after (None: constant).
    iterations / chunk / checkpoint_every: run length, iterations per compiled chunk (the agent
    is evaluated after each), iterations between checkpoints (0: only at the end).
    eval_games: games per opponent (half in each seat); eval_simulations: the agent's search at
    evaluation (None: ``num_simulations``); mcts_simulations: the pure-MCTS opponent's;
    eval_opening_plies: random first plies in the match against the previous
    parameters, so that two deterministic players do not replay one game; eval_opponents: which of ``OPPONENTS`` to
    play (``"perfect"``, every line against a minimax player, is played for tic-tac-toe only).
    """

    game: str = "tic_tac_toe"
    network: str = "mlp"
    hidden: tuple = (128, 128)
    channels: int = 32
    blocks: int = 2
    search: str = "gumbel"
    num_simulations: int = 32
    max_num_considered_actions: int = 16
    temperature: float = 1.0
    selfplay_batch: int = 512
    opening_plies: int = 2
    replay_window: int = 4
    batch_size: int = 512
    updates: int = 32
    learning_rate: float = 1e-3
    learning_rate_end: float | None = None
    value_weight: float = 1.0
    iterations: int = 50
    chunk: int = 5
    checkpoint_every: int = 0
    eval_games: int = 200
    eval_simulations: int | None = None
    mcts_simulations: int = 200
    eval_opening_plies: int = 2
    eval_opponents: tuple = OPPONENTS

    kind: ClassVar[str] = "alphazero"

    def describe(self) -> str:
        """One line: game, network, search, iterations."""
        net = (f"mlp {'x'.join(map(str, self.hidden))}" if self.network == "mlp"
               else f"resnet {self.blocks}x{self.channels}")
        return (f"game {self.game}, {net}, {self.search} search with {self.num_simulations} "
                f"simulations, {self.selfplay_batch} games per iteration, "
                f"iterations {self.iterations}")

    def to_json(self) -> dict:
        return config_to_json(self)

    @classmethod
    def from_json(cls, d: dict) -> "AlphaZeroConfig":
        return config_from_json(cls, d, "AlphaZero config")



def validate(config: AlphaZeroConfig) -> None:
    """Raise one clear sentence for the first bad setting (before anything is traced or written)."""
    check_choice("game", config.game, GAMES)
    check_choice("network", config.network, KINDS)
    check_choice("search", config.search, SEARCHES)
    for name in ("num_simulations", "max_num_considered_actions", "selfplay_batch", "replay_window",
                 "mcts_simulations",
                 "batch_size", "updates", "iterations", "chunk", "blocks", "channels"):
        check_int(name, getattr(config, name), 1)
    for name in ("opening_plies", "checkpoint_every", "eval_opening_plies"):
        check_int(name, getattr(config, name), 0)
    check_int("eval_games (even: half in each seat)", config.eval_games, 2)
    if config.eval_games % 2:
        raise ValueError(f"eval_games must be even (half in each seat), got {config.eval_games}.")
    if config.eval_simulations is not None:
        check_int("eval_simulations", config.eval_simulations, 1)
    check_positive("learning_rate", config.learning_rate)
    if config.learning_rate_end is not None:
        check_positive("learning_rate_end", config.learning_rate_end)
    check_number("value_weight", config.value_weight, 0.0)
    check_number("temperature", config.temperature, 0.0)
    for name in config.eval_opponents:
        check_choice("eval_opponents entry", name, OPPONENTS)
    if not config.hidden or any(not isinstance(h, int) or h < 1 for h in config.hidden):
        raise ValueError(f"hidden must be a non-empty tuple of ints >= 1, got {config.hidden!r}.")


