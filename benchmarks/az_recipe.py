"""A plain AlphaZero for pgx tic-tac-toe, written from the pgx and mctx docs: the peer recipe.

The "pgx + mctx" way a user would train tic-tac-toe, built only on pgx, mctx, flax (linen) and
optax; nothing here imports evojax_rl. A benchmark passes in an ``evaluate`` callback (e.g. one
built from ``evojax_rl.alphazero.perfect``) and compares the time this recipe takes to play
perfectly with ours.

The recipe (``Recipe`` holds the numbers):

* network: an MLP over the flattened pgx observation (mover's view), two ReLU layers of 128,
  a policy head (9 logits) and a tanh value head;
* search: ``mctx.gumbel_muzero_policy``, 32 simulations, ``max_num_considered_actions=16``; the
  model is the real game: the embedding is the batched pgx ``State``, ``recurrent_fn`` steps it,
  the reward is the mover's (``state.rewards`` of the player who moved), ``discount`` is -1 (the
  next value is the opponent's) and 0 once the game is over, where the value is also 0; illegal
  actions get very negative prior logits (``finfo.min`` after subtracting the max), and the root
  also gets ``invalid_actions``;
* self-play: 512 games at once, 9 plies in a jitted ``lax.scan``; each game first plays a
  uniformly drawn number in [0, 2] of uniformly random legal moves (the search still runs on
  those positions and they are kept as data); the other moves are the search's
  (``policy_output.action``, Gumbel noise on);
* targets: the search's ``action_weights`` and the game's final outcome from the mover's view,
  for every position reached before the game ended;
* replay: the last 4 iterations' positions in fixed-size device arrays; minibatches are drawn
  uniformly from the filled, valid slots;
* learning: 200 Adam updates (learning rate 1e-3, batch 512) per iteration, loss = softmax cross
  entropy to the search policy + squared error of the value, in one jitted ``lax.scan``.

API:

* ``run_recipe(seed, seconds, evaluate) -> list[dict]``: trains until ``seconds`` of wall time
  have passed (compilation included, time inside ``evaluate`` excluded), calling
  ``evaluate(act)`` after every iteration, where ``act(key, state) -> int32[B]`` is the greedy
  player (the same 32-simulation search with ``gumbel_scale=0``, jitted, on a batched pgx
  state); records ``{"iteration", "seconds", "perfect"}`` per iteration.
* ``selfplay_positions_per_s(batch, simulations, repeats)``: positions searched per second by the
  jitted self-play (``batch * 9 / s``, median of ``repeats``, compilation excluded).
* ``time_to_stable(history) -> (first_perfect_s, stable_s)``.

    python benchmarks/az_recipe.py --quick       # a smoke run: throughput and 2 iterations

The smoke run's evaluator is a stand-in (never lost to a random player in 256 games per seat),
not the perfect-play check; its output is not a benchmark result.

References: Silver et al. 2017 (AlphaZero); Danihelka et al. 2022 (Gumbel MuZero); the pgx
(Koyamada et al. 2023) and mctx documentation.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from typing import Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import mctx
import numpy as np
import optax
import pgx

GAME = "tic_tac_toe"
PLIES = 9  # a tic-tac-toe game is over after at most 9 plies


class Recipe(NamedTuple):
    """The recipe's hyperparameters (the defaults are the benchmark's)."""

    hidden: int = 128
    simulations: int = 32
    considered: int = 16  # max_num_considered_actions
    selfplay_batch: int = 512
    max_random_opening: int = 2  # each game opens with U{0..this} random moves
    replay_iterations: int = 4
    updates: int = 200  # Adam updates per iteration
    train_batch: int = 512
    learning_rate: float = 1e-3


class MLP(nn.Module):
    hidden: int
    num_actions: int

    @nn.compact
    def __call__(self, obs):
        x = obs.reshape((obs.shape[0], -1)).astype(jnp.float32)
        x = nn.relu(nn.Dense(self.hidden)(x))
        x = nn.relu(nn.Dense(self.hidden)(x))
        logits = nn.Dense(self.num_actions)(x)
        value = jnp.tanh(nn.Dense(1)(x))[:, 0]
        return logits, value


class _Parts(NamedTuple):
    env: object
    net: MLP
    init_params: Callable
    selfplay: Callable  # (params, key) -> (obs, policy, value, valid), each [PLIES * B, ...]
    act: Callable  # (params, key, state) -> int32[B]
    train: Callable  # (params, opt_state, buffer, key) -> (params, opt_state, loss)
    optimizer: object


def _masked(logits, legal):
    logits = logits - jnp.max(logits, axis=-1, keepdims=True)
    return jnp.where(legal, logits, jnp.finfo(logits.dtype).min)


def _build(recipe: Recipe) -> _Parts:
    env = pgx.make(GAME)
    num_actions = env.num_actions
    net = MLP(recipe.hidden, num_actions)
    step = jax.vmap(env.step)

    def init_params(key):
        obs = jax.vmap(env.init)(jax.random.split(key, 1)).observation
        return net.init(key, obs)

    def recurrent_fn(params, key, action, state):
        del key
        mover = state.current_player
        state = step(state, action)
        logits, value = net.apply(params, state.observation)
        reward = jnp.take_along_axis(state.rewards, mover[:, None], axis=1)[:, 0]
        over = state.terminated
        out = mctx.RecurrentFnOutput(
            reward=reward,
            discount=jnp.where(over, 0.0, -1.0),
            prior_logits=_masked(logits, state.legal_action_mask),
            value=jnp.where(over, 0.0, value),
        )
        return out, state

    def search(params, key, state, gumbel_scale):
        logits, value = net.apply(params, state.observation)
        root = mctx.RootFnOutput(
            prior_logits=_masked(logits, state.legal_action_mask), value=value, embedding=state
        )
        return mctx.gumbel_muzero_policy(
            params, key, root, recurrent_fn,
            num_simulations=recipe.simulations,
            invalid_actions=~state.legal_action_mask,
            max_num_considered_actions=recipe.considered,
            gumbel_scale=gumbel_scale,
        )

    @jax.jit
    def act(params, key, state):
        return search(params, key, state, 0.0).action.astype(jnp.int32)

    batch = recipe.selfplay_batch

    @jax.jit
    def selfplay(params, key):
        k_init, k_open, k_loop = jax.random.split(key, 3)
        state = jax.vmap(env.init)(jax.random.split(k_init, batch))
        n_random = jax.random.randint(k_open, (batch,), 0, recipe.max_random_opening + 1)

        def ply(carry, t):
            state, key = carry
            key, k_search, k_random = jax.random.split(key, 3)
            out = search(params, k_search, state, 1.0)
            random_action = jax.random.categorical(
                k_random, jnp.where(state.legal_action_mask, 0.0, -jnp.inf)
            )
            action = jnp.where(t < n_random, random_action, out.action)
            record = (state.observation, out.action_weights, state.current_player,
                      ~state.terminated)
            state = step(state, action)
            return (state, key), (record, state.rewards)

        _, ((obs, policy, mover, valid), rewards) = jax.lax.scan(
            ply, (state, k_loop), jnp.arange(PLIES)
        )
        outcome = rewards.sum(axis=0)  # [B, 2]: each player's final result
        value = jnp.take_along_axis(outcome[None], mover[..., None], axis=2)[..., 0]  # [T, B]
        flat = lambda x: x.reshape((PLIES * batch,) + x.shape[2:])  # noqa: E731
        return flat(obs), flat(policy), flat(value), flat(valid)

    optimizer = optax.adam(recipe.learning_rate)

    def loss_fn(params, obs, policy, value):
        logits, v = net.apply(params, obs)
        policy_loss = optax.softmax_cross_entropy(logits, policy).mean()
        value_loss = jnp.mean((v - value) ** 2)
        return policy_loss + value_loss

    @jax.jit
    def train(params, opt_state, buffer, key):
        obs, policy, value, valid = buffer
        weights = valid.astype(jnp.float32)
        p = weights / jnp.maximum(weights.sum(), 1.0)

        def update(carry, k):
            params, opt_state = carry
            idx = jax.random.choice(k, valid.shape[0], (recipe.train_batch,), p=p)
            loss, grads = jax.value_and_grad(loss_fn)(params, obs[idx], policy[idx], value[idx])
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, opt_state), losses = jax.lax.scan(
            update, (params, opt_state), jax.random.split(key, recipe.updates)
        )
        return params, opt_state, losses.mean()

    return _Parts(env, net, init_params, selfplay, act, train, optimizer)


def _empty_buffer(parts: _Parts, recipe: Recipe):
    size = recipe.replay_iterations * PLIES * recipe.selfplay_batch
    obs_shape = tuple(parts.env.observation_shape)
    return (
        jnp.zeros((size,) + obs_shape, jnp.bool_),
        jnp.zeros((size, parts.env.num_actions), jnp.float32),
        jnp.zeros((size,), jnp.float32),
        jnp.zeros((size,), jnp.bool_),
    )


@functools.partial(jax.jit, static_argnums=2)
def _store(buffer, data, slot_size, slot):
    start = slot * slot_size
    return tuple(
        jax.lax.dynamic_update_slice_in_dim(b, d.astype(b.dtype), start, axis=0)
        for b, d in zip(buffer, data)
    )


def run_recipe(
    seed: int,
    seconds: float,
    evaluate: Callable[[Callable], bool],
    *,
    recipe: Recipe = Recipe(),
    log: Callable[[str], None] | None = None,
    max_iterations: int | None = None,
    count_compile: bool = True,
) -> list[dict]:
    """Train until ``seconds`` of wall time (compilation included, ``evaluate`` excluded) have
    passed; after each iteration call ``evaluate(act)`` with the greedy player ``act(key, state)
    -> int32[B]`` and record ``{"iteration", "seconds", "perfect"}`` (``seconds``: training time
    so far). The iteration running when the budget runs out is finished and evaluated.
    ``max_iterations`` (for smoke runs) also stops it after that many iterations.
    ``count_compile=False`` first runs self-play and training once, unclocked and discarded, so
    that compilation is left out of ``seconds`` (the greedy player compiles inside ``evaluate``,
    so never counts)."""
    parts = _build(recipe)
    key = jax.random.PRNGKey(seed)
    key, k_init = jax.random.split(key)
    slot_size = PLIES * recipe.selfplay_batch
    if not count_compile:
        p0 = parts.init_params(k_init)
        b0 = _store(_empty_buffer(parts, recipe), parts.selfplay(p0, k_init), slot_size, 0)
        jax.block_until_ready(parts.train(p0, parts.optimizer.init(p0), b0, k_init))
    start = time.perf_counter()
    params = parts.init_params(k_init)
    opt_state = parts.optimizer.init(params)
    buffer = _empty_buffer(parts, recipe)
    history = []
    excluded = 0.0  # time spent in evaluate
    iteration = 0
    while True:
        key, k_play, k_train = jax.random.split(key, 3)
        data = parts.selfplay(params, k_play)
        buffer = _store(buffer, data, slot_size, iteration % recipe.replay_iterations)
        params, opt_state, loss = parts.train(params, opt_state, buffer, k_train)
        loss = float(loss)  # blocks
        iteration += 1
        elapsed = time.perf_counter() - start - excluded

        t_eval = time.perf_counter()
        perfect = bool(evaluate(functools.partial(parts.act, params)))
        excluded += time.perf_counter() - t_eval

        history.append({"iteration": iteration, "seconds": round(elapsed, 3), "perfect": perfect})
        if log is not None:
            log(f"iteration {iteration}: {elapsed:.1f} s, loss {loss:.3f}, perfect {perfect}")
        if elapsed >= seconds or (max_iterations is not None and iteration >= max_iterations):
            return history


def selfplay_positions_per_s(batch: int = 512, simulations: int = 32, repeats: int = 5,
                             compiler_options: dict | None = None) -> float:
    """Positions searched per second by the recipe's jitted self-play (``batch * 9`` per call,
    median time of ``repeats`` calls after one compiling call; random initial parameters).
    ``compiler_options``: XLA options to compile it with (default: none, as a user writes it)."""
    recipe = Recipe(selfplay_batch=batch, simulations=simulations)
    parts = _build(recipe)
    params = parts.init_params(jax.random.PRNGKey(0))
    play = parts.selfplay.lower(params, jax.random.PRNGKey(1)).compile(compiler_options)
    jax.block_until_ready(play(params, jax.random.PRNGKey(1)))  # warm
    times = []
    for r in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(play(params, jax.random.PRNGKey(2 + r)))
        times.append(time.perf_counter() - t)
    return batch * PLIES / float(np.median(times))


def time_to_stable(history: list[dict]) -> tuple[float | None, float | None]:
    """``(first_perfect_s, stable_s)``: the time of the first perfect evaluation, and the time of
    the first evaluation from which every later one is perfect (None when the last is not)."""
    first = next((h["seconds"] for h in history if h["perfect"]), None)
    stable = None
    for h in reversed(history):
        if not h["perfect"]:
            break
        stable = h["seconds"]
    return first, stable


def _random_opponent_stand_in(games: int = 256):
    """A stand-in evaluator for the smoke run only: the player never loses to a uniformly random
    opponent in ``games`` games per seat. Not the perfect-play check."""
    env = pgx.make(GAME)
    init, step = jax.jit(jax.vmap(env.init)), jax.jit(jax.vmap(env.step))

    def evaluate(act):
        lost = 0
        for seat in (0, 1):
            key = jax.random.PRNGKey(100 + seat)
            key, k = jax.random.split(key)
            state = init(jax.random.split(k, games))
            outcome = jnp.zeros(games)
            for _ in range(PLIES):
                key, k_act, k_rand = jax.random.split(key, 3)
                ours = act(k_act, state)
                rand = jax.random.categorical(
                    k_rand, jnp.where(state.legal_action_mask, 0.0, -jnp.inf)
                )
                state = step(state, jnp.where(state.current_player == seat, ours, rand))
                outcome = outcome + state.rewards[:, seat]
            lost += int((outcome < 0).sum())
        return lost == 0

    return evaluate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 repeats, 2 iterations")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    repeats, seconds = (2, float("inf")) if args.quick else (args.repeats, args.seconds)
    rate = selfplay_positions_per_s(repeats=repeats)
    print(f"self-play: {rate:.0f} positions/s (batch 512, 32 simulations)", flush=True)
    history = run_recipe(0, seconds, _random_opponent_stand_in(), log=print,
                         max_iterations=2 if args.quick else None)
    print(json.dumps({"selfplay_positions_per_s": round(rate), "history": history,
                      "time_to_stable": time_to_stable(history),
                      "recipe": Recipe()._asdict(), "evaluator": "stand-in (random opponent)"}))


if __name__ == "__main__":
    main()
