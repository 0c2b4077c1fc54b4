"""A perfect tic-tac-toe player by exhaustive minimax, and an exhaustive test of a player
against it.

The board is pgx's (``state._x.board``: ``int32[9]``, cells 0..8 row by row, -1 empty, 0 for X
and 1 for O; X moves first; ``state._x.color`` is the color to move) and the action is the cell.
A position is indexed by its base-3 code ``sum((board[i] + 1) * 3**i)``; the color to move
follows from the counts of X and O, so the code alone names a position.

- ``solve()``: the minimax value (+1 win, 0 draw, -1 loss, from the view of the player to
  move) of each of the 5478 positions reachable from the empty board.
- ``optimal_moves(board, color)``: every move that keeps the position's value.
- ``perfect_player(game)``: the lowest optimal move, as a jittable lookup table.
- ``perfect_lines(game, player)``: ``player`` against the perfect opponent in both seats, the
  perfect side branching over every optimal reply; counts of the lines won, drawn and lost.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from evojax_rl import validation
from evojax_rl.alphazero import game as game_lib
from evojax_rl.alphazero.evaluate import Player, as_player, call_player
from evojax_rl.alphazero.game import Game

WIN_LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8),
             (2, 4, 6))
POW3 = 3 ** np.arange(9)
NUM_CODES = 3 ** 9
_EMPTY = (-1,) * 9


def board_code(board) -> int:
    """The base-3 code of a board (``int[9]`` in {-1, 0, 1})."""
    return int(((np.asarray(board) + 1) * POW3).sum())


def winner(board) -> int:
    """The color with three in a row (0 X, 1 O), or -1 if none."""
    for a, b, c in WIN_LINES:
        if board[a] >= 0 and board[a] == board[b] == board[c]:
            return int(board[a])
    return -1


def is_terminal(board) -> bool:
    """Someone has three in a row, or the board is full."""
    return winner(board) >= 0 or all(v >= 0 for v in board)


def color_to_move(board) -> int:
    """0 (X) if X and O have as many marks, else 1 (O)."""
    board = np.asarray(board)
    return int((board == 0).sum() > (board == 1).sum())


def _check_game(game: Game) -> None:
    if game.id != "tic_tac_toe":
        raise ValueError(f"the perfect player knows only tic_tac_toe, got {game.id!r}.")


@functools.lru_cache(maxsize=None)
def solve() -> dict:
    """``{code: value}`` for every position reachable from the empty board: the minimax value
    from the view of the player to move (+1, 0, -1; a finished game is -1 if the last move won
    it, else 0)."""
    values: dict = {}

    def negamax(board: tuple, color: int) -> int:
        code = board_code(board)
        if code not in values:
            if winner(board) >= 0:
                values[code] = -1  # only the player who just moved can have a line
            elif all(v >= 0 for v in board):
                values[code] = 0
            else:
                values[code] = max(
                    -negamax(board[:i] + (color,) + board[i + 1:], 1 - color)
                    for i in range(9) if board[i] < 0
                )
        return values[code]

    negamax(_EMPTY, 0)
    return values


def _checked_board(board, color) -> tuple:
    board = tuple(int(v) for v in np.asarray(board).reshape(-1))
    if len(board) != 9 or any(v not in (-1, 0, 1) for v in board):
        raise ValueError(f"board must be 9 cells in {{-1, 0, 1}}, got {board}.")
    if board_code(board) not in solve() or int(color) != color_to_move(board):
        raise ValueError(f"board {board} with color {color} to move is not reachable in play.")
    return board


def optimal_moves(board: np.ndarray, color: int) -> list:
    """Every cell whose move keeps the minimax value of ``board`` with ``color`` to move
    (ascending; ``[]`` for a finished game). An unreachable position raises ``ValueError``."""
    board = _checked_board(board, color)
    if is_terminal(board):
        return []
    values = solve()
    target = values[board_code(board)]
    return [i for i in range(9) if board[i] < 0
            and -values[board_code(board[:i] + (color,) + board[i + 1:])] == target]


@functools.lru_cache(maxsize=None)
def _move_table() -> np.ndarray:
    """``int32[3**9]``: the lowest optimal move of each reachable unfinished position (0 for the
    rest)."""
    table = np.zeros(NUM_CODES, np.int32)
    for code in solve():
        board = (code // POW3) % 3 - 1
        moves = optimal_moves(board, color_to_move(board))
        if moves:
            table[code] = moves[0]
    return table


def perfect_player(game: Game) -> Player:
    """A player that plays the lowest optimal move (a table lookup by board code; jittable)."""
    _check_game(game)
    table = jnp.asarray(_move_table())
    pow3 = jnp.asarray(POW3, jnp.int32)

    def player(key, state):
        del key
        return table[((state._x.board + 1) * pow3).sum(axis=-1)]

    return player


@functools.lru_cache(maxsize=None)
def _jit_step(game: Game):
    return jax.jit(jax.vmap(game.env.step))


@functools.lru_cache(maxsize=None)
def _jit_start(game: Game):
    """``key -> (key, one fresh game)``, compiled (run eagerly, pgx's init compiles a dozen
    small programs)."""

    def start(key):
        key, init_key = jax.random.split(key)
        return key, game_lib.init(game, init_key, 1)

    return jax.jit(start)


def _take(tree, index):
    return jax.tree.map(lambda x: x[index], tree)


def _bucketed(fn, tree, size: int, bucket: int):
    """``fn(tree)`` on the first ``size`` rows, in chunks of exactly ``bucket`` rows (the last
    padded with copies of row 0, its padding dropped), so ``fn`` compiles once."""
    outs = []
    for start in range(0, size, bucket):
        index = np.arange(start, min(start + bucket, size))
        padded = np.concatenate([index, np.zeros(bucket - index.size, index.dtype)])
        out = jax.device_get(fn(_take(tree, padded)))
        outs.append(_take(out, slice(0, index.size)))
    return jax.tree.map(lambda *xs: np.concatenate(xs), *outs)


def perfect_lines(game: Game, player: Player, key: jax.Array | None = None,
                  batch_bucket: int = 64) -> dict:
    """``player`` against the perfect opponent, every line: in both seats (``player`` first,
    then second), the perfect side plays every optimal reply in turn while ``player`` plays its
    own move, until each line ends. Returns counts of the lines (finished games) by their end
    for ``player``: ``{"lines", "won", "drawn", "lost", "lost_first", "lost_second"}``.

    Moves are played with pgx's ``step`` (an illegal move by ``player`` loses the line, as pgx
    rules). ``player`` (a jittable player, or an ``evaluate.as_player`` Partial carrying its
    parameters, which then do not recompile it) runs jitted on the whole frontier of positions at each depth, in chunks
    of ``batch_bucket`` (the last padded), so it compiles once; ``key`` (default
    ``jax.random.key(0)``) is split per call.
    """
    _check_game(game)
    batch_bucket = validation.check_int("batch_bucket", batch_bucket, 1)
    key = jax.random.key(0) if key is None else key
    validation.check_key(key)
    player, step = as_player(player), _jit_step(game)
    # The player's parameters and positions committed to one device, as evaluate.match commits
    # them, so that the player compiled for the matches (same batch) is reused here.
    device = next(iter(jax.numpy.zeros(()).devices()))
    player = jax.device_put(player, device)
    counts = dict(lines=0, won=0, drawn=0, lost=0, lost_first=0, lost_second=0)

    for player_first in (True, False):
        key, frontier = _jit_start(game)(key)
        frontier = jax.device_get(frontier)
        first = int(frontier.current_player[0])  # pgx randomizes the first mover's id
        me = first if player_first else 1 - first
        depth = 0
        while frontier.current_player.shape[0]:
            size = frontier.current_player.shape[0]
            if (depth % 2 == 0) == player_first:
                key, move_key = jax.random.split(key)
                keys = jax.random.split(move_key, -(-size // batch_bucket))
                calls = iter(keys)
                actions = _bucketed(
                    lambda s: call_player(player, next(calls), jax.device_put(s, device)),
                    frontier, size, batch_bucket)
                parents = np.arange(size)
            else:
                parents, actions = [], []
                for i in range(size):
                    moves = optimal_moves(frontier._x.board[i], frontier._x.color[i])
                    parents += [i] * len(moves)
                    actions += moves
                parents = np.asarray(parents, np.int64)
            children = (_take(frontier, parents), np.asarray(actions, np.int32))
            frontier = _bucketed(lambda c: step(*c), children, parents.size, batch_bucket)
            done = np.asarray(frontier.terminated | frontier.truncated)
            outcome = np.asarray(frontier.rewards)[done, me]
            lost = int((outcome < 0).sum())
            counts["lines"] += int(done.sum())
            counts["won"] += int((outcome > 0).sum())
            counts["drawn"] += int((outcome == 0).sum())
            counts["lost"] += lost
            counts["lost_first" if player_first else "lost_second"] += lost
            frontier = _take(frontier, ~done)
            depth += 1
    return counts
