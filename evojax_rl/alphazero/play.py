"""``evojax-rl play RUN_DIR``: play against an AlphaZero run's agent in the terminal.

The board is drawn before each move (tic-tac-toe and connect four; other games list the legal
moves), you type a move number, and the agent answers with its search's move and the visit
count of each move it searched. A move that is illegal or not a number is refused with one
sentence and a new prompt; ``q`` or end of input quits.
"""

from __future__ import annotations

import sys
from typing import Callable, TextIO

import jax
import numpy as np

from evojax_rl.alphazero import game as games
from evojax_rl.alphazero.agent import load_agent

MARKS = {-1: ".", 0: "X", 1: "O"}  # pgx board cells: -1 empty, else the color (0 moves first)


def render(game_id: str, state) -> str:
    """The board of game 0 of ``state`` as text, with the move numbers to type."""
    board = np.asarray(state._x.board[0])
    if game_id == "tic_tac_toe":
        rows = []
        for r in range(3):
            cells = [MARKS[int(board[3 * r + c])] for c in range(3)]
            nums = [str(3 * r + c) for c in range(3)]
            rows.append(" ".join(cells) + "    " + " ".join(nums))
        return "\n".join(rows)
    if game_id == "connect_four":
        rows = [" ".join(MARKS[int(v)] for v in board.reshape(6, 7)[r]) for r in range(6)]
        return "\n".join(rows + [" ".join(str(c) for c in range(7))])
    legal = np.flatnonzero(np.asarray(state.legal_action_mask[0]))
    return f"(no drawing for {game_id}) legal moves: {', '.join(map(str, legal))}"


def parse_move(text: str, legal: np.ndarray) -> tuple[int | None, str | None]:
    """``(move, None)`` for a legal move typed as a number, else ``(None, one sentence)``."""
    allowed = ", ".join(str(a) for a in np.flatnonzero(legal))
    try:
        move = int(text.strip())
    except ValueError:
        return None, f"{text.strip()!r} is not a move; type one of {allowed}."
    if not 0 <= move < len(legal) or not legal[move]:
        return None, f"{move} is not a legal move here; legal moves: {allowed}."
    return move, None


def main(run_dir: str, *, num_simulations: int | None = None, human_first: str = "human",
         seed: int = 0, read: Callable[[str], str] = input, out: TextIO = sys.stdout) -> int:
    """Play one game in the terminal; returns the exit status (0). Raises ``ValueError`` (one
    sentence) for a directory that does not hold an AlphaZero run with a checkpoint."""
    agent = load_agent(run_dir, num_simulations)
    game = agent.game
    key = jax.random.key(seed)
    state = games.init(game, jax.random.fold_in(key, 0), 1)
    first = int(state.current_player[0])
    human = first if human_first == "human" else 1 - first
    mark = "X" if human == first else "O"
    print(f"{game.id}: you are {mark}, the agent searches {agent.num_simulations} simulations "
          "per move. Type a move number, or q to quit.", file=out)
    ply = 0
    while not bool(state.terminated[0] | state.truncated[0]):
        print(render(game.id, state), file=out)
        if int(state.current_player[0]) == human:
            legal = np.asarray(state.legal_action_mask[0])
            try:
                text = read("your move> ")
            except EOFError:
                print("", file=out)
                return 0
            if text.strip().lower() in ("q", "quit", "exit"):
                return 0
            move, error = parse_move(text, legal)
            if error:
                print(error, file=out)
                continue
        else:
            policy = agent.policy(jax.random.fold_in(key, ply + 1), state)
            move = int(policy.action[0])
            visits = np.asarray(policy.search_tree.summary().visit_counts[0])
            searched = ", ".join(f"{a}: {int(visits[a])}" for a in np.flatnonzero(visits))
            print(f"agent plays {move} (visits {searched})", file=out)
        state = games.step(game, state, jax.numpy.asarray([move], jax.numpy.int32))
        ply += 1
    print(render(game.id, state), file=out)
    reward = float(state.rewards[0, human])
    print("you win." if reward > 0 else "the agent wins." if reward < 0 else "draw.", file=out)
    return 0
