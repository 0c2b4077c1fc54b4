"""Tetris (evojax_rl.tetris): pieces, drops, clears, game over, features, the env and play.

The compiled game is checked against a plain numpy reference written here from the rules (a
grid of cells; a piece falls one row at a time from above the board until it would overlap;
full rows removed one by one), on hand-built boards and on random ones.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_rl import problems, trainer
from evojax_rl.policies import afterstate_policy
from evojax_rl.tetris import env as tenv
from evojax_rl.tetris import features, game, play

W, H, K = game.WIDTH, game.HEIGHT, game.K

# ---- the reference ------------------------------------------------------------------------


def grid_of(board, height=H) -> np.ndarray:
    """bool[height, 10] (row 0 at the bottom) from column masks."""
    b = np.asarray(board, np.int64)
    return np.array([[(b[c] >> r) & 1 for c in range(W)] for r in range(height)], bool)


def board_of(grid) -> np.ndarray:
    return np.array([sum(int(grid[r, c]) << r for r in range(len(grid))) for c in range(W)], np.int32)


def ref_place(grid, cells, col):
    """Drop ``cells`` (x, y) at column ``col`` from above onto ``grid`` (``bool[height, 10]``:
    the board has as many rows): ``(grid', lines, valid)``."""
    height = len(grid)
    tall = np.zeros((height + 8, W), bool)
    tall[:height] = grid
    y = height + 4
    while y > 0 and not any(tall[y - 1 + dy, col + dx] for dx, dy in cells):
        y -= 1
    for dx, dy in cells:
        tall[y + dy, col + dx] = True
    valid = not tall[height:].any()
    rows = [r for r in range(height + 8) if not tall[r].all()]
    lines = height + 8 - len(rows)
    out = np.zeros_like(tall)
    out[: len(rows)] = tall[rows]
    return out[:height], lines, valid


def ref_features(grid) -> np.ndarray:
    rows = len(grid)
    h = np.array([max([r + 1 for r in range(rows) if grid[r, c]], default=0) for c in range(W)])
    holes = sum(int(not grid[r, c]) for c in range(W) for r in range(h[c]))
    return np.concatenate([h, np.abs(np.diff(h)), [h.max(), holes, 1]]).astype(np.float32)


def slots(piece):
    """The (rotation, column) of each used slot of ``piece``, from the rotation list."""
    out = []
    for r, cells in enumerate(game.ROTATIONS[piece]):
        width = 1 + max(x for x, _ in cells)
        out += [(r, c) for c in range(W - width + 1)]
    return out


def random_boards(rng, n, height=H):
    """Boards (``bool[height, 10]``) with no full row: half random fill (holes, overhangs), half
    a stack of rows full but for a well column and now and then a second cell (so that pieces
    clear lines)."""
    grids = []
    for i in range(n):
        rows = rng.integers(0, height)
        g = np.zeros((height, W), bool)
        if i % 2:
            g[:rows] = rng.random((rows, W)) < rng.uniform(0.2, 0.8)
        else:
            g[:rows] = True
            g[:rows, rng.integers(W)] = False
            for r in range(rows):
                if rng.random() < 0.3:
                    g[r, rng.integers(W)] = False
        for r in range(height):
            if g[r].all():
                g[r, rng.integers(W)] = False
        grids.append(g)
    return grids


# Compiled once each (eager, the unrolled column code would dispatch hundreds of small ops).
place = jax.jit(game.place)
afterstates = jax.jit(game.afterstates)
observe = jax.jit(tenv.observe)
env_step = jax.jit(lambda key, state, action: tenv.step(key, state, action))


def S(*rows):
    return game.board_from_strings(list(rows))


# ---- pieces -------------------------------------------------------------------------------

EXPECTED_ROTATIONS = {
    "I": [{(0, 0), (1, 0), (2, 0), (3, 0)}, {(0, 0), (0, 1), (0, 2), (0, 3)}],
    "O": [{(0, 0), (1, 0), (0, 1), (1, 1)}],
    "T": [{(0, 0), (1, 0), (2, 0), (1, 1)}, {(1, 0), (0, 1), (1, 1), (2, 1)},
          {(1, 0), (1, 1), (1, 2), (0, 1)}, {(0, 0), (0, 1), (0, 2), (1, 1)}],
    "S": [{(0, 0), (1, 0), (1, 1), (2, 1)}, {(1, 0), (1, 1), (0, 1), (0, 2)}],
    "Z": [{(1, 0), (2, 0), (0, 1), (1, 1)}, {(0, 0), (0, 1), (1, 1), (1, 2)}],
    "L": [{(0, 0), (1, 0), (2, 0), (2, 1)}, {(0, 0), (0, 1), (1, 1), (2, 1)},
          {(0, 0), (0, 1), (0, 2), (1, 0)}, {(1, 0), (1, 1), (1, 2), (0, 2)}],
    "J": [{(0, 0), (1, 0), (2, 0), (0, 1)}, {(0, 1), (1, 1), (2, 1), (2, 0)},
          {(0, 0), (1, 0), (1, 1), (1, 2)}, {(0, 0), (0, 1), (0, 2), (1, 2)}],
}


def test_every_piece_has_exactly_its_distinct_rotations():
    for p, name in enumerate(game.PIECE_NAMES):
        got = {frozenset(r) for r in game.ROTATIONS[p]}
        assert len(game.ROTATIONS[p]) == len(got)
        assert got == {frozenset(r) for r in EXPECTED_ROTATIONS[name]}, name
    assert game.NUM_SLOTS.tolist() == [17, 9, 34, 17, 17, 34, 34]
    assert K == max(game.NUM_SLOTS)


def test_each_slot_drops_its_rotation_at_its_column_on_the_empty_board():
    empty = np.zeros((H, W), bool)
    for p in range(game.NUM_PIECES):
        a = afterstates(game.empty_board(), p)
        for k in range(K):
            if k >= game.NUM_SLOTS[p]:
                assert not a.valid[k] and game.SLOT_ROTATION[p, k] == -1
                continue
            r, c = slots(p)[k]
            assert (game.SLOT_ROTATION[p, k], game.SLOT_COLUMN[p, k]) == (r, c)
            cells = {(x + c, y) for x, y in game.ROTATIONS[p][r]}
            g = grid_of(a.boards[k])
            assert {(x, y) for y, x in zip(*np.nonzero(g))} == cells and a.valid[k]
            assert np.array_equal(g, ref_place(empty, game.ROTATIONS[p][r], c)[0])


# ---- clears and game over -------------------------------------------------------------------

I, O = 0, 1
I_VERTICAL_AT = {c: 7 + c for c in range(W)}  # I: 7 horizontal slots, then the vertical ones


def drop(board, piece, slot):
    b, lines, valid = jax.device_get(place(board, piece, slot))
    a = afterstates(board, piece)
    assert np.array_equal(a.boards[slot], b) and a.lines[slot] == lines and a.valid[slot] == valid
    return game.board_to_strings(b), int(lines), bool(valid)


@pytest.mark.parametrize("rows,lines,after", [
    (["#########."], 1, [".........#"] * 3),  # single
    (["#########."] * 2, 2, [".........#"] * 2),  # double
    (["#########."] * 4, 4, []),  # tetris
    (["#########.", "########..", "#########."], 2,  # non-adjacent rows
     [".........#", "########.#"]),
    (["#........."] * 5 + ["#########."], 1,  # the rows above a cleared one move down
     ["#.........", "#.........", "#........#", "#........#", "#........#"]),
])
def test_line_clears_on_hand_built_boards(rows, lines, after):
    board, got, valid = drop(S(*rows), I, I_VERTICAL_AT[9])
    assert valid and got == lines
    assert board == ["." * W] * (H - len(after)) + after


def test_full_board_is_game_over_for_every_piece():
    # Every column but the last of row 19's gap reaches the top, and no row is full.
    rows = ["".join("." if c == (3 * r) % W else "#" for c in range(W)) for r in range(H)]
    board = S(*rows)
    for p in range(game.NUM_PIECES):
        assert not np.any(afterstates(board, p).valid)
    obs, state, done = observe(jnp.asarray(board), 2)
    assert bool(done) and not np.any(np.asarray(obs)) and int(state.first) == K


def test_a_piece_sticking_out_is_invalid_even_when_it_would_complete_a_row():
    # Row 19 is full but for columns 8-9, which stand at height 19: an O there would complete
    # row 19 and stick out one row above the board (before the clear), so it is not valid; no
    # other placement fits either: the game is over.
    rows = ["########.."] + ["".join("." if c == r % 8 else "#" for c in range(W))
                             for r in reversed(range(H - 1))]
    board = S(*rows)
    assert game.column_heights(board).tolist() == [20] * 8 + [19, 19]
    _, lines, valid = drop(board, O, 8)
    assert lines == 1 and not valid
    for p in range(game.NUM_PIECES):
        assert not np.any(afterstates(board, p).valid)
    # With the stack one row lower the same drop fits and clears the row.
    _, lines, valid = drop(S(*rows[:-1]), O, 8)
    assert valid and lines == 1


# ---- the compiled game against the reference on random boards --------------------------------


@pytest.mark.parametrize("height", [H, 10])
def test_afterstates_and_features_equal_the_reference_on_random_boards(height):
    rng = np.random.default_rng(0)
    grids = random_boards(rng, 48 if height == H else 96, height)  # enough to clear 1-4 rows
    boards = jnp.asarray(np.stack([board_of(g) for g in grids]))
    pieces = jnp.asarray(np.arange(len(grids)) % game.NUM_PIECES, jnp.int32)
    on_board = lambda f: jax.jit(jax.vmap(lambda b, p: f(b, p, height)))  # noqa: E731
    a = jax.device_get(on_board(game.afterstates)(boards, pieces))
    s = jax.device_get(on_board(features.afterstate_features)(boards, pieces))
    v = jax.device_get(jax.jit(jax.vmap(
        lambda b, p: features.afterstate_values(b, p, GOOD, height)))(boards, pieces))
    np.testing.assert_array_equal(v[2], a.valid)  # the hot loop's own validity rule
    np.testing.assert_array_equal(np.where(a.valid, v[1], 0), np.where(a.valid, a.lines, 0))
    total_lines = 0
    for i, g in enumerate(grids):
        p = int(pieces[i])
        for k, (r, c) in enumerate(slots(p)):
            want, lines, valid = ref_place(g, game.ROTATIONS[p][r], c)
            assert a.valid[i, k] == valid and a.lines[i, k] == lines
            assert s.valid[i, k] == valid and s.lines[i, k] == lines
            if valid:
                assert np.array_equal(grid_of(a.boards[i, k], height), want)
                np.testing.assert_array_equal(s.features[i, k], ref_features(want))
                total_lines += lines
        assert not np.any(a.valid[i, len(slots(p)):])
    # The boards did exercise clears of 1 to 4 rows, and placements that stick out.
    counts = np.bincount(np.where(a.valid, a.lines, 0).ravel(), minlength=5)
    assert total_lines > 20 and (counts[1:] > 0).all()
    used = game.SLOT_USED[np.asarray(pieces)]
    assert 0.005 < (~a.valid[used]).mean() < 0.5


# ---- features on hand-built boards --------------------------------------------------------------


def test_each_feature_on_a_hand_built_board():
    board = S("..#.......",
              "..#...#...",
              "#...#.#...",
              "##.#..##.#")
    f = np.asarray(features.features(board))
    heights = [2, 1, 4, 1, 2, 0, 3, 1, 0, 1]
    assert f[:10].tolist() == heights
    assert f[10:19].tolist() == [1, 3, 3, 1, 2, 3, 2, 1, 1]
    assert f[19] == 4  # maximum height
    # Holes: column 2's rows 0-1 and column 4's row 0 (under its own cell); column 5's row 0,
    # beside column 4's overhang, is not a hole (nothing above it in its own column).
    assert f[20] == 3
    assert f[21] == 1
    np.testing.assert_array_equal(f, ref_features(grid_of(board)))
    assert features.NAMES[20] == "holes" and len(features.NAMES) == features.NUM_FEATURES == 22


def test_features_of_the_empty_board_and_the_linear_value():
    f = np.asarray(features.features(game.empty_board()))
    assert f.tolist() == [0.0] * 21 + [1.0]
    w = jnp.arange(22, dtype=jnp.float32)
    board = S("#.........")
    x = features.features(board)
    assert float(features.values(x, w)) == float(np.asarray(x) @ np.arange(22))


# ---- the env ------------------------------------------------------------------------------------


def test_env_aliases_invalid_slots_to_the_first_valid_one():
    env = problems.make("tetris", max_steps=50)
    assert env.name == "tetris" and env.max_steps == 50 and env.action_space.n == K
    # The O piece on a board whose columns 0-3 stand 19 high: its slots at columns 0-3 stick
    # out, and its padding slots 9-33 are never valid.
    board = S(*(["####......"] * 19))
    obs, state, done = observe(jnp.asarray(board), O)
    valid = np.asarray(state.valid)
    assert not bool(done) and valid.tolist() == [False] * 4 + [True] * 5 + [False] * (K - 9)
    obs = np.asarray(obs)
    assert int(state.first) == 4
    for k in np.flatnonzero(~valid):
        np.testing.assert_array_equal(obs[k], obs[4])
    assert not np.array_equal(obs[4], obs[5])
    # An invalid action plays the first valid slot (column 4).
    key = jax.random.key(0)
    a = env_step(key, state, jnp.int32(0))
    b = env_step(key, state, jnp.int32(4))
    for x, y in zip(jax.tree.leaves(a[:4]), jax.tree.leaves(b[:4])):
        np.testing.assert_array_equal(x, y)
    assert game.board_to_strings(a[1].board)[-2:] == ["######...."] * 2


def test_env_on_a_shorter_board_judges_placements_on_its_rows():
    env = problems.make("tetris", max_steps=50, height=10)
    assert env.observation_space.high == 90.0
    # Columns 0-3 stand 9 high: on 10 rows an O there sticks out; on 20 it fits.
    board = jnp.asarray(S(*(["####......"] * 9)))
    on = lambda h: jax.jit(lambda b, p: tenv.observe(b, p, h))  # noqa: E731
    _, state, _ = on(10)(board, O)
    assert np.asarray(state.valid).tolist() == [False] * 4 + [True] * 5 + [False] * (K - 9)
    assert np.asarray(on(H)(board, O)[1].valid)[:9].all()
    # The env's own step scores the next piece on 10 rows too (every piece has a slot over
    # columns 0-3 that fits on 20 rows only).
    _, new, _, _, _ = jax.jit(env.step)(jax.random.key(0), state, jnp.int32(4))
    np.testing.assert_array_equal(new.valid, on(10)(new.board, new.piece)[1].valid)
    assert not np.array_equal(new.valid, on(H)(new.board, new.piece)[1].valid)
    with pytest.raises(ValueError, match=r"^height must be an int from 4 to 20"):
        problems.make("tetris", height=30)


def test_env_rejects_settings_in_one_sentence():
    with pytest.raises(ValueError, match=r"^tetris takes no setting but max_steps and height, got \['width'\]\.$"):
        problems.make("tetris", width=8)
    with pytest.raises(ValueError, match="max_steps"):
        problems.make("tetris", max_steps=0)
    with pytest.raises(ValueError, match="already taken"):
        problems.register("tetris", lambda: None)


def test_the_afterstate_policy_plays_as_play_chooses():
    env = tenv.tetris_env()
    policy = afterstate_policy(env)
    apply = jax.jit(lambda w, obs: policy.apply(w, obs, None))
    choose = jax.jit(play.choose)
    w = jnp.asarray([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -2, -8, 3],
                    jnp.float32)  # integer weights: exact values, so ties break alike
    assert np.asarray(policy.init(jax.random.key(0))).tolist() == [0.0] * 22
    rng = np.random.default_rng(1)
    for i, g in enumerate(random_boards(rng, 12)):
        board, piece = jnp.asarray(board_of(g)), jnp.int32(i % 7)
        obs, state, done = observe(board, piece)
        if bool(done):
            continue
        action = apply(w, obs)
        slot, ok = choose(board, piece, w)
        assert bool(ok)
        mine = env_step(jax.random.key(0), state, action)[1].board
        np.testing.assert_array_equal(mine, place(board, piece, slot)[0])
    with pytest.raises(ValueError, match=r"afterstate_policy needs an observation of shape"):
        afterstate_policy(problems.make("CartPole-v1"))


def test_trainer_config_policy_is_checked_in_one_sentence():
    with pytest.raises(ValueError, match=r"^policy must be one of 'mlp', 'afterstate', got 'linear'\.$"):
        trainer.validate(trainer.TrainConfig(policy="linear"))


# ---- play ---------------------------------------------------------------------------------------

GOOD = np.array([0] * 10 + [-1] * 9 + [-1, -10, 0], np.float32)


def ref_game(weights, pieces, height=H):
    """The reference plays a piece sequence greedily on a board of ``height`` rows: (lines,
    pieces placed, over)."""
    grid = np.zeros((height, W), bool)
    lines = 0
    for n, p in enumerate(pieces):
        best = None
        for r, c in slots(int(p)):
            g, l, valid = ref_place(grid, game.ROTATIONS[int(p)][r], c)
            if valid:
                v = float(ref_features(g) @ weights)
                if best is None or v > best[0]:
                    best = (v, g, l)
        if best is None:
            return lines, n, True
        grid, lines = best[1], lines + best[2]
    return lines, len(pieces), False


@pytest.mark.parametrize("height", [H, 10])
def test_play_equals_the_reference_game_and_stops_at_game_over(height):
    key = jax.random.key(3)
    cap = 150
    out = jax.device_get(play.play(GOOD, key, 2, max_pieces=cap, height=height))
    for g, k in enumerate(jax.random.split(key, 2)):
        seq = np.asarray(game.random_piece(jax.random.fold_in(k, 0), (play.BLOCK,)))
        seq = np.concatenate([seq, np.asarray(game.random_piece(jax.random.fold_in(k, 1), (play.BLOCK,))),
                              np.asarray(game.random_piece(jax.random.fold_in(k, 2), (play.BLOCK,)))])
        lines, n, over = ref_game(GOOD, seq[:cap], height)
        assert (int(out.lines[g]), int(out.pieces[g]), bool(out.over[g])) == (lines, n, over)
    if height == H:
        assert out.lines.min() > 20  # the weights do clear lines
    else:  # on 10 rows the same weights clear lines, then lose before the cap: game over is checked
        assert out.lines.min() > 5 and out.over.all()
    # A policy that stacks pieces as high as it can loses within a few dozen pieces; uncapped,
    # every game ends.
    bad = np.zeros(22, np.float32)
    bad[19] = 1.0
    lost = jax.device_get(play.play(bad, jax.random.key(0), 2))
    assert lost.over.all() and (lost.pieces < 60).all() and (lost.pieces > 5).all()


def test_compacted_play_equals_the_batch_played_to_its_last_game():
    # Games of a population on 10 rows: long-tailed lengths, so the live ones are gathered into
    # narrower batches (40 -> 20 -> ... -> 1 lanes) while the rest stop; each game's pieces,
    # weights and results must follow it there. Uncapped and capped (some games stop at the cap).
    pop = np.asarray(GOOD + 0.5 * jax.random.normal(jax.random.key(4), (40, 22)), np.float32)
    for cap in (play.NO_LIMIT, 300):
        ref, out = (jax.device_get(play._play(jnp.asarray(pop), jax.random.key(5), 40,
                                              jnp.int32(cap), 10, compact))
                    for compact in (False, True))
        for a, b in zip(ref, out):
            np.testing.assert_array_equal(a, b)
        if cap == play.NO_LIMIT:  # the longest game outlives the next by over a block: the batch
            ends = np.sort(ref.pieces)  # narrows to one lane (compaction waits for a block's end)
            assert ends[-1] - ends[-2] > play.BLOCK and ref.over.all()
    assert ref.over.any() and not ref.over.all()  # capped: some games stopped at the cap


def test_play_takes_a_weight_per_game_and_rejects_bad_input():
    w = np.stack([GOOD, np.eye(22, dtype=np.float32)[19]])
    out = jax.device_get(play.play(w, jax.random.key(0), 2, max_pieces=100))
    assert out.pieces[0] == 100 and not out.over[0] and out.over[1] and out.pieces[1] < 100
    with pytest.raises(ValueError, match=r"weights must have shape \(22,\) or \(3, 22\)"):
        play.play(w, jax.random.key(0), 3)
    with pytest.raises(ValueError, match="max_pieces"):
        play.play(GOOD, jax.random.key(0), 1, max_pieces=0)
    for bad in (3, 21, 10.0, True):
        with pytest.raises(ValueError, match=rf"^height must be an int from 4 to 20 \(board rows\), got {bad!r}\.$"):
            play.play(GOOD, jax.random.key(0), 1, height=bad)
