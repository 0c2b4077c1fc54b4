"""Is our Tetris the literature's game? A published hand-coded controller played on our engine.

    python benchmarks/tetris_engine_check.py [--games 10] [--seed 0] [--height 20]

Our Tetris (``evojax_rl.tetris``) spells out its rules; implementations differ, and the lines a
controller clears depend on them. Pierre Dellacherie's one-piece controller is the literature's
reference figure: 631,167 mean lines (Fahey 2003), the first row of the table in the lecture
slides (from Szita & Lorincz 2006). This plays it on our engine, uncapped, and prints our mean
beside that figure: far fewer lines would mean our rules are harsher than the literature's.

The controller places each piece where this value of the afterstate is highest, with its
published weights: -1 x landing height (row of the piece's bottom + (piece height - 1) / 2), +1 x
eroded piece cells (rows cleared x the piece's cells in them), -1 x row transitions (filled/empty
changes along each row, the walls filled, all 20 rows), -1 x column transitions (along each
column from the floor, which counts as filled, to the top row), -4 x holes (empty cells under a
filled cell in their column), -1 x cumulative wells (for each run of well cells in a column, an
empty cell with both neighbours filled or a wall, 1 + 2 + ... + its depth). Ties go to the
first slot (ours), not to Dellacherie's own priority rule. The features are checked on
hand-built boards before the games.

Games of this controller last a million lines or more: 10 games take several minutes on 2 cores
(``--height 10`` plays the 10-row board, where they are short). The last line is one JSON object:
``mean_lines``, ``median_lines``, ``stderr_lines``, ``lines`` (per game), ``published``,
``pieces_per_s``.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from common import emit
from evojax_rl.tetris import game

PUBLISHED = 631_167  # Dellacherie's controller, mean lines (Fahey 2003)
WEIGHTS = {"landing_height": -1.0, "eroded_cells": 1.0, "row_transitions": -1.0,
           "column_transitions": -1.0, "holes": -4.0, "wells": -1.0}


def popcount(x):
    return jax.lax.population_count(x)


def board_features(cols: jax.Array) -> dict:
    """Row and column transitions, holes and cumulative wells of boards ``cols: int32[10, ...]``
    (column masks, column first), each ``int32[...]``."""
    width = cols.shape[0]
    rows = game.ROWS
    row_transitions = popcount(rows & ~cols[0]) + popcount(rows & ~cols[width - 1])
    for c in range(width - 1):
        row_transitions = row_transitions + popcount(cols[c] ^ cols[c + 1])
    column_transitions = sum(popcount((cols[c] ^ ((cols[c] << 1) | 1)) & rows) for c in range(width))
    heights = game.column_heights(cols)
    holes = jnp.sum(heights - popcount(cols), axis=0)
    wall = jnp.full_like(cols[0], rows)
    wells = jnp.zeros_like(cols[0])
    for c in range(width):
        w = ~cols[c] & (cols[c - 1] if c > 0 else wall) & (cols[c + 1] if c < width - 1 else wall) & rows
        run = w  # cells with k more well cells above them in the same run
        for k in range(1, game.HEIGHT + 1):
            wells = wells + popcount(run)
            run = run & (w >> k)
    return {"row_transitions": row_transitions, "column_transitions": column_transitions,
            "holes": holes, "wells": wells}


def afterstate_features(board: jax.Array, piece: jax.Array, height: int) -> tuple[dict, jax.Array]:
    """The six features of every slot of ``piece`` on ``board`` (``[K]`` each) and the slots'
    validity."""
    ld = game.landing(board, piece, height)  # (game.afterstates would land them again)
    lines = popcount(ld.full)
    cells = jnp.asarray(game.SLOT_BITS)[piece] << ld.y[None, :]  # [10, K], the piece placed
    f = board_features(game.clear(ld.placed.T, ld.full, ld.y).T)
    f["landing_height"] = ld.y + (jnp.asarray(game.SLOT_HEIGHT)[piece] - 1) / 2
    f["eroded_cells"] = lines * jnp.sum(popcount(cells & ld.full[None, :]), axis=0)
    return f, ld.valid


def choose(board, piece, height: int):
    """``(slot, any_valid)``: the first slot of the highest value."""
    f, valid = afterstate_features(board, piece, height)
    v = sum(WEIGHTS[name] * f[name].astype(jnp.float32) for name in WEIGHTS)
    v = jnp.where(valid, v, -jnp.inf)
    best = jnp.max(v)
    return game.first_index(v == best), best > -jnp.inf


@jax.jit(static_argnames=("games", "height"))
def play(key, games: int, height: int):
    """Uncapped games, ``(lines int32[games], pieces int32[games])``; game ``g`` draws piece ``i``
    from ``fold_in(split(key, games)[g], i)``."""

    def one(k):
        def body(c):
            board, lines, pieces, over = c
            piece = game.random_piece(jax.random.fold_in(k, pieces))
            slot, ok = choose(board, piece, height)
            nb, nl, _ = game.place(board, piece, slot, height)
            return (jnp.where(ok, nb, board), lines + jnp.where(ok, nl, 0), pieces + ok, ~ok)

        zero = jnp.zeros((), jnp.int32)
        c = jax.lax.while_loop(lambda c: ~c[3], body, (game.empty_board(), zero, zero, jnp.bool_(False)))
        return c[1], c[2]

    return jax.vmap(one)(jax.random.split(key, games))


def self_check() -> None:
    """The features on hand-built boards, counted by hand."""
    board = game.board_from_strings(["#.##......",
                                     "###.....##"])
    got = {k: int(v) for k, v in board_features(jnp.asarray(board)).items()}
    # rows: 2 + 4 + 18 empty rows x 2; columns 1+1+1+3+4x1+1+1; one hole (column 3); one well
    # cell (row 1, column 1).
    want = {"row_transitions": 42, "column_transitions": 12, "holes": 1, "wells": 1}
    assert got == want, (got, want)
    # a run of three well cells counts 1 + 2 + 3
    deep = game.board_from_strings(["#.#......."] * 3)
    assert int(board_features(jnp.asarray(deep))["wells"]) == 1 + 2 + 3
    # a vertical I into the one gap of a full row: lands at row 0 (height 1.5), clears it and
    # erodes one of its cells; afterwards only column 9 holds 3 cells.
    gap = game.board_from_strings(["#########."])
    f, valid = afterstate_features(jnp.asarray(gap), jnp.int32(0), game.HEIGHT)
    slot = 16  # I: 7 horizontal slots, then vertical in columns 0..9
    assert int(game.SLOT_ROTATION[0, slot]) == 1 and int(game.SLOT_COLUMN[0, slot]) == 9
    got = {k: float(v[slot]) for k, v in f.items()}
    want = {"landing_height": 1.5, "eroded_cells": 1.0, "row_transitions": 3 * 2 + 17 * 2,
            "column_transitions": 9 + 1, "holes": 0.0, "wells": 0.0}
    assert got == want and bool(valid[slot]), (got, want)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--height", type=int, default=game.HEIGHT, help="board rows (4 to 20)")
    args = ap.parse_args()
    try:
        height = game.check_height(args.height)
    except ValueError as e:
        ap.error(str(e))
    if args.games < 1:
        ap.error(f"--games must be at least 1, got {args.games}.")
    self_check()
    print("features: the hand-built boards check out", flush=True)
    key = jax.random.key(args.seed)
    t = time.perf_counter()
    compiled = play.lower(key, args.games, height).compile()
    t_compile = time.perf_counter() - t
    t = time.perf_counter()
    lines, pieces = jax.device_get(compiled(key))
    wall = time.perf_counter() - t
    lines = np.asarray(lines, np.int64)
    stderr = float(lines.std(ddof=1) / np.sqrt(len(lines))) if len(lines) > 1 else 0.0
    print(f"Dellacherie's controller on our 10 x {height} Tetris, {args.games} uncapped games: mean "
          f"{lines.mean():,.0f} +- {stderr:,.0f} lines (median {np.median(lines):,.0f}; published "
          f"for 10 x 20: {PUBLISHED:,}); {int(pieces.sum()):,} pieces in {wall:.0f} s (compiling: {t_compile:.1f} s)", flush=True)
    emit({"games": args.games, "seed": args.seed, "height": height,
          "mean_lines": float(lines.mean()), "median_lines": float(np.median(lines)),
          "stderr_lines": stderr, "lines": lines.tolist(), "published": PUBLISHED,
          "pieces_per_s": round(int(pieces.sum()) / wall), "play_seconds": round(wall, 1),
          "compile_seconds": round(t_compile, 1)})


if __name__ == "__main__":
    main()
