"""Self-play: ``batch`` games played to the end by the search, one ``jax.lax.scan`` over plies.

At every ply every game is searched (finished games too: the shapes are fixed; their samples are
marked invalid). The move played is a uniformly random legal move during the game's random
opening (each game draws its number of random opening plies uniformly from ``[0,
opening_plies]``), then the search's move: Gumbel MuZero's ``action``, or, for PUCT, a draw from
``visits^(1 / temperature)`` (0: the most visited). Each position is recorded with the search's
``action_weights`` as the policy target and, once the game is over, the final outcome for the
player who moved there as the value target. Positions after a game ended are ``valid=False`` with
zero observation, policy and value.

Sample layout: ``N = game.max_plies * batch``, ply-major: sample ``n = t * batch + b`` is game
``b`` at ply ``t``. A game still running after ``max_plies`` plies counts as a draw (every game in
``game.MAX_PLIES`` ends within it except by pgx truncation).

Keys: ``selfplay(params, key)`` splits ``key`` into ``(init_key, opening_key, ply_key)``; ply
``t`` uses ``fold_in(ply_key, t)`` split into ``(search_key, random_key)``.

Over devices (``axis``, inside ``jax.shard_map``): each device plays its own ``batch`` games with
``key`` folded with its index on that axis, the search stays on the device (no collective inside
the ply loop), and only the finished samples are gathered: every device gets all ``n * N``
samples, device-major (device ``d``'s ``N`` samples, ply-major, at ``d * N``), and the stats
over all ``n * batch`` games.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from evojax_rl import mcts, validation
from evojax_rl.alphazero import game as game_lib
from evojax_rl.alphazero.config import SEARCHES



class Sample(NamedTuple):
    """Training positions; ``N`` of them (self-play: ``max_plies * batch``, ply-major)."""

    observation: jax.Array  # [N, *O] float32, the mover's view
    policy: jax.Array       # [N, A] float32, the search's action_weights (the policy target)
    value: jax.Array        # [N] float32, the outcome for that position's mover: +1 / 0 / -1
    valid: jax.Array        # [N] bool, a real position (False: padding after the game ended)


def outcome_targets(rewards: jax.Array, mover: jax.Array, valid: jax.Array) -> jax.Array:
    """The value target of every recorded position.

    rewards: ``[T, B, 2]`` each player's reward from each ply (pgx ``state.rewards`` after it);
    mover: ``[T, B]`` int, the player to move at each position; valid: ``[T, B]`` bool.
    Returns ``[T, B]`` float32: the total reward over the game of the position's mover, 0 where
    invalid.
    """
    totals = jnp.sum(rewards.astype(jnp.float32), axis=0)  # [B, 2]
    per_mover = jnp.take_along_axis(totals[None], mover[..., None].astype(jnp.int32), axis=2)
    return jnp.where(valid, per_mover[..., 0], 0.0)


def make_search(game: game_lib.Game, apply_fn: Callable, *, num_simulations: int,
                search: str = "gumbel", temperature: float = 1.0,
                max_num_considered_actions: int = 16, dirichlet_fraction: float = 0.25,
                dirichlet_alpha: float = 0.3, greedy: bool = False) -> Callable:
    """``search(params, key, state) -> mcts.PolicyOutput`` over ``B`` games: ``action: [B]``,
    ``action_weights: [B, A]``. ``"gumbel"``: ``gumbel_muzero_policy``; ``"puct"``:
    ``muzero_policy`` with root Dirichlet noise and ``temperature`` for the action.
    ``greedy``: no exploration, for evaluation and play (Gumbel with ``gumbel_scale=0``; PUCT
    without root noise, playing the most visited move)."""
    validation.check_choice("search", search, SEARCHES)
    validation.check_int("num_simulations", num_simulations, 1)
    validation.check_int("max_num_considered_actions", max_num_considered_actions, 1)
    validation.check_number("temperature", temperature, 0.0)
    validation.check_number("dirichlet_fraction", dirichlet_fraction, 0.0, 1.0)
    validation.check_positive("dirichlet_alpha", dirichlet_alpha)
    root_fn, recurrent_fn = game_lib.model(game, apply_fn)
    if greedy:
        dirichlet_fraction, temperature = 0.0, 0.0

    def run(params, key, state):
        root = root_fn(params, state)
        if search == "gumbel":
            return mcts.gumbel_muzero_policy(
                params, key, root, recurrent_fn, num_simulations,
                max_num_considered_actions=max_num_considered_actions,
                gumbel_scale=0.0 if greedy else 1.0)
        return mcts.muzero_policy(
            params, key, root, recurrent_fn, num_simulations,
            dirichlet_fraction=dirichlet_fraction, dirichlet_alpha=dirichlet_alpha,
            temperature=temperature)

    return run


def make_selfplay(game: game_lib.Game, apply_fn: Callable, *, batch: int, num_simulations: int,
                  search: str = "gumbel", opening_plies: int = 0, temperature: float = 1.0,
                  max_num_considered_actions: int = 16, dirichlet_fraction: float = 0.25,
                  dirichlet_alpha: float = 0.3, axis: str | None = None) -> Callable:
    """``selfplay(params, key) -> (Sample, stats)``: ``batch`` games, ``N = max_plies * batch``
    (with ``axis``: ``batch`` games per device, and every device returns all devices' samples,
    ``Sample [n * N]``, and their stats; see the module docstring).

    ``apply_fn(params, observation: [B, *O]) -> (logits [B, A], value [B])``. ``temperature``
    and the Dirichlet settings apply to ``search="puct"`` only. stats (float32 scalars):
    ``game_length`` (mean plies), ``first_mover_win`` / ``draw`` (fractions of games; the first
    mover is pgx's randomly chosen ``current_player`` at init), ``unfinished`` (fraction not over
    after ``max_plies``), ``valid_samples`` (valid positions in this call) and ``valid_fraction``.
    Not jitted: wrap it in ``jax.jit`` (or call it inside a jitted step).
    """
    batch = validation.check_int("batch", batch, 1)
    opening_plies = validation.check_int("opening_plies", opening_plies, 0)
    search_fn = make_search(game, apply_fn, num_simulations=num_simulations, search=search,
                            temperature=temperature,
                            max_num_considered_actions=max_num_considered_actions,
                            dirichlet_fraction=dirichlet_fraction, dirichlet_alpha=dirichlet_alpha)

    def selfplay(params, key):
        if axis is not None:
            key = jax.random.fold_in(key, jax.lax.axis_index(axis))
        init_key, opening_key, ply_key = jax.random.split(key, 3)
        state = game_lib.init(game, init_key, batch)
        first_mover = state.current_player
        opening = jax.random.randint(opening_key, (batch,), 0, opening_plies + 1)

        def ply(state, t):
            search_key, random_key = jax.random.split(jax.random.fold_in(ply_key, t))
            out = search_fn(params, search_key, state)
            legal = state.legal_action_mask
            random_action = jax.random.categorical(
                random_key, jnp.where(legal, 0.0, -jnp.inf), axis=-1)
            action = jnp.where(t < opening, random_action, out.action).astype(jnp.int32)
            valid = ~(state.terminated | state.truncated)
            keep = lambda x: jnp.where(  # noqa: E731
                valid.reshape(valid.shape + (1,) * (x.ndim - 1)), x.astype(jnp.float32), 0.0)
            record = (keep(state.observation), keep(out.action_weights), state.current_player,
                      valid)
            state = game_lib.step(game, state, action)
            return state, (record, state.rewards)

        state, (record, rewards) = jax.lax.scan(ply, state, jnp.arange(game.max_plies))
        observation, policy, mover, valid = record  # [T, B, ...]
        value = outcome_targets(rewards, mover, valid)
        flat = lambda x: x.reshape((-1, *x.shape[2:]))  # noqa: E731
        samples = Sample(flat(observation), flat(policy), flat(value), flat(valid))

        totals = jnp.sum(rewards.astype(jnp.float32), axis=0)  # [B, 2]
        first = jnp.take_along_axis(totals, first_mover[:, None], axis=1)[:, 0]
        f32 = lambda x: jnp.mean(x.astype(jnp.float32))  # noqa: E731
        stats = {
            "game_length": f32(jnp.sum(valid, axis=0)),
            "first_mover_win": f32(first > 0),
            "draw": f32(first == 0),
            "unfinished": f32(~(state.terminated | state.truncated)),
            "valid_samples": jnp.sum(valid).astype(jnp.float32),
            "valid_fraction": f32(valid),
        }
        if axis is not None:  # every device plays as many games: the mean of means is the mean
            samples = jax.lax.all_gather(samples, axis, tiled=True)
            n = jax.lax.axis_size(axis)
            stats = {k: v if k == "valid_samples" else v / n
                     for k, v in jax.lax.psum(stats, axis).items()}
        return samples, stats

    return selfplay
